r"""L1 loss (mean absolute error), as ``torch.nn.functional.l1_loss`` computes it.

Chapter: ``book/regression/l1.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    r"""Mean absolute error between ``input`` and ``target``.

    With :math:`r = x - y` after broadcasting ``input`` and ``target`` against each other:

    .. math::

        l_i = |r_i| \quad(\text{'none'}), \qquad
        \frac{1}{n}\sum_i |r_i| \quad(\text{'mean'}), \qquad
        \sum_i |r_i| \quad(\text{'sum'}).

    With ``weight`` (same size as ``input``): :math:`l_i = w_i |r_i|`, 'sum' is :math:`\sum_i w_i|r_i|`
    and 'mean' is the weighted mean :math:`\sum_i w_i |r_i| / \sum_i w_i` (NaN when the weights sum to 0).

    Gradient: :math:`\partial L / \partial x_i = \operatorname{sign}(r_i)` times the reduction's factor
    (:math:`g`, :math:`g/n`, or :math:`g\,w_i/\sum w` when weighted), 0 at :math:`r_i = 0` (the
    subgradient torch picks); the target gets the negative. Complex inputs give the real loss
    :math:`|r|` and the gradient :math:`g\, r/|r|`.

    Args:
        input: predictions :math:`x`, any shape.
        target: targets :math:`y`, broadcastable to ``input`` (warns when the sizes differ).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional elementwise weights of exactly ``input``'s size (differentiable).

    Returns:
        The loss: 0-dim for 'mean' and 'sum', the broadcast shape for 'none'.

    Raises:
        ValueError: invalid ``reduction``; ``weight`` not of ``input``'s size.
        RuntimeError: shapes that do not broadcast; a bool tensor; 'mean' of integer tensors.
    """
    reduction = _validate_l1_loss(input, target, size_average, reduce, reduction, weight)
    # The loss is a function of r = x - y alone. Autograd's subtraction broadcasts, promotes, and hands the
    # target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    return _L1LossFunction.apply(input - target, weight, reduction)


def _validate_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
    weight: Tensor | None,
) -> str:
    """torch's checks of :func:`l1_loss`, in torch's order and with its exception types; returns the reduction."""
    _checks.check_tensor("l1_loss", "input", input)
    _checks.check_tensor("l1_loss", "target", target)
    _checks.check_same_device("l1_loss", input=input, target=target, weight=weight)
    _checks.warn_if_size_mismatch(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    _checks.broadcast_shapes("l1_loss", "input", input, "target", target)
    _checks.check_not_bool("l1_loss", input, target)
    if weight is not None:  # torch's weighted path is Python arithmetic, with a message of its own
        _checks.check_weight_size("l1_loss", weight, input)
        return _reduction.resolve_weighted("l1_loss", reduction)
    reduction = _reduction.resolve("l1_loss", reduction)
    if reduction == "mean":  # the mean of an integer tensor has no dtype
        _checks.check_mean_dtype("l1_loss", torch.result_type(input, target))
    return reduction


def l1_loss_grad(
    grad_output: Tensor,
    residual: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""Hand-derived gradient of :func:`l1_loss` with respect to the residual :math:`r = x - y` and ``weight``.

    .. math::

        \frac{\partial l_i}{\partial r_i} = \operatorname{sign}(r_i), \qquad
        \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial r_i}, \quad
        \frac{\partial L}{\partial y_i} = -\frac{\partial L}{\partial r_i},

    with :math:`\operatorname{sign}(0) = 0` (torch's subgradient at the kink) and, for complex
    residuals, :math:`\operatorname{sgn}(r) = r/|r|`, times the reduction's factor (``grad_output``,
    ``grad_output / n`` for 'mean', or :math:`w_i / \sum w` for the weighted mean). Returns
    ``(grad_residual, grad_weight)``; ``grad_weight`` is ``None`` without ``weight``.
    """
    if weight is not None:
        return _reduction.weighted_grads(
            grad_output, residual.abs(), residual.sgn(), weight, reduction, mean_over="weight"
        )
    # sgn(0) = 0: torch's subgradient at the kink; sgn(r) = r / |r| for a complex r
    return residual.sgn() * _reduction.grad_scale(grad_output, reduction, residual.numel()), None


def l1_loss_jvp(
    residual: Tensor,
    tangent_residual: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
    tangent_weight: Tensor | None = None,
) -> Tensor:
    r"""Hand-derived forward-mode derivative (JVP) of :func:`l1_loss` along :math:`\dot r = \dot x - \dot y` and
    :math:`\dot w`.

    .. math::

        \dot l_i = \operatorname{sgn}(r_i)\, \dot r_i
        \quad\bigl(\operatorname{Re}(\overline{\operatorname{sgn}(r_i)}\, \dot r_i) \text{ for a complex } r_i\bigr),

    0 at the kink :math:`r_i = 0` (torch's choice, as in :func:`l1_loss_grad`), reduced as the loss is
    (:func:`refimpl._reduction.reduce_jvp`).
    """
    loss_tangent = (residual.sgn().conj() * tangent_residual).real
    return _reduction.reduce_jvp(residual.abs(), loss_tangent, reduction, weight, tangent_weight)


class _L1LossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`l1_loss` on the residual. Backward: :func:`l1_loss_grad`. Forward mode:
    :func:`l1_loss_jvp`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(residual: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        loss = residual.abs()  # l_i = |r_i|, real also for a complex residual
        if weight is None:
            return _reduction.reduce_loss(loss, reduction)
        return _reduction.reduce_weighted(loss, weight, reduction, mean_over="weight")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        residual, weight, reduction = inputs
        ctx.save_for_backward(residual, weight)
        ctx.save_for_forward(residual, weight)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        residual, weight = ctx.saved_tensors
        grad_residual, grad_weight = l1_loss_grad(grad_output, residual, ctx.reduction, weight)
        return grad_residual, grad_weight, None

    @staticmethod
    def jvp(ctx, tangent_residual: Tensor | None, tangent_weight: Tensor | None, _) -> Tensor:
        residual, weight = ctx.saved_tensors
        tangent_residual = torch.zeros_like(residual) if tangent_residual is None else tangent_residual
        return l1_loss_jvp(residual, tangent_residual, ctx.reduction, weight, tangent_weight)


class L1Loss(Loss):
    """Drop-in for ``torch.nn.L1Loss``: ``L1Loss(size_average=None, reduce=None, reduction='mean')``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)
