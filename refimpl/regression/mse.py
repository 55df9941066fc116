r"""Mean squared error, as ``torch.nn.functional.mse_loss`` computes it.

Chapter: ``book/regression/mse.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    r"""Mean squared error between ``input`` and ``target``.

    With :math:`r = x - y` after broadcasting ``input`` and ``target`` against each other:

    .. math::

        l_i = r_i^2 \quad(\text{'none'}), \qquad
        \frac{1}{n}\sum_i r_i^2 \quad(\text{'mean'}), \qquad
        \sum_i r_i^2 \quad(\text{'sum'}).

    With ``weight`` (same size as ``input``): :math:`l_i = w_i r_i^2`, 'sum' is :math:`\sum_i w_i r_i^2`
    and 'mean' is the weighted mean :math:`\sum_i w_i r_i^2 / \sum_i w_i`.

    Gradient: :math:`\partial L/\partial x_i = 2 r_i` times the reduction's factor (:math:`g`,
    :math:`g/n`, or :math:`g\,w_i / \sum w` when weighted); the target gets the negative.

    Args:
        input: predictions :math:`x`, any shape, floating point.
        target: targets :math:`y`, broadcastable to ``input`` (warns when the sizes differ).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional elementwise weights of exactly ``input``'s size (differentiable).

    Returns:
        The loss: 0-dim for 'mean' and 'sum', the broadcast shape for 'none'.

    Raises:
        ValueError: invalid ``reduction``; ``weight`` not of ``input``'s size.
        RuntimeError: shapes that do not broadcast.
        NotImplementedError: integer, bool or complex ``input`` and ``target`` (no weight).
    """
    reduction = _validate_mse_loss(input, target, size_average, reduce, reduction, weight)
    # The loss is a function of r = x - y alone. Autograd's subtraction broadcasts, promotes, and hands the
    # target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    return _MSELossFunction.apply(input - target, weight, reduction)


def _validate_mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
    weight: Tensor | None,
) -> str:
    """torch's checks of :func:`mse_loss`, in torch's order and with its exception types; returns the reduction."""
    _checks.check_tensor("mse_loss", "input", input)
    _checks.check_tensor("mse_loss", "target", target)
    _checks.check_same_device("mse_loss", input=input, target=target, weight=weight)
    _checks.warn_if_size_mismatch(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    _checks.broadcast_shapes("mse_loss", "input", input, "target", target)
    if weight is not None:  # torch's weighted path is Python arithmetic: no dtype check, a message of its own
        _checks.check_weight_size("mse_loss", weight, input)
        return _reduction.resolve_weighted("mse_loss", reduction)
    reduction = _reduction.resolve("mse_loss", reduction)
    _checks.check_floating("mse_loss", "mse_cpu", torch.result_type(input, target))
    return reduction


def mse_loss_grad(
    grad_output: Tensor,
    residual: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""Hand-derived gradient of :func:`mse_loss` with respect to the residual :math:`r = x - y` and ``weight``.

    .. math::

        \frac{\partial l_i}{\partial r_i} = 2 r_i, \qquad
        \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial r_i}, \quad
        \frac{\partial L}{\partial y_i} = -\frac{\partial L}{\partial r_i},

    times the reduction's factor (``grad_output``, ``grad_output / n`` for 'mean', or :math:`w_i / \sum w`
    for the weighted mean). With weights, :math:`\partial L/\partial w_j = g\, r_j^2` for 'sum' and
    :math:`g\,(r_j^2 - L)/\sum w` for the weighted mean (the quotient rule). Returns
    ``(grad_residual, grad_weight)``; ``grad_weight`` is ``None`` without ``weight``.
    """
    if weight is not None:
        return _reduction.weighted_grads(
            grad_output, residual * residual, 2 * residual, weight, reduction, mean_over="weight"
        )
    return 2 * residual * _reduction.grad_scale(grad_output, reduction, residual.numel()), None


def mse_loss_jvp(
    residual: Tensor,
    tangent_residual: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
    tangent_weight: Tensor | None = None,
) -> Tensor:
    r"""Hand-derived forward-mode derivative (JVP) of :func:`mse_loss`: the loss's change along the tangents
    :math:`\dot r = \dot x - \dot y` and :math:`\dot w`.

    .. math::

        \dot l_i = 2 r_i \dot r_i,

    reduced as the loss is (:func:`refimpl._reduction.reduce_jvp`: :math:`\sum_i w_i \dot l_i + \dot w_i l_i`,
    and the quotient rule for the weighted mean). The same derivative as :func:`mse_loss_grad`, applied to a
    tangent instead of pulled back from an upstream gradient.
    """
    return _reduction.reduce_jvp(
        residual * residual, 2 * residual * tangent_residual, reduction, weight, tangent_weight
    )


class _MSELossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`mse_loss` on the residual. Backward: :func:`mse_loss_grad`. Forward mode:
    :func:`mse_loss_jvp`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(residual: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        loss = residual * residual  # l_i = r_i^2
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
        grad_residual, grad_weight = mse_loss_grad(grad_output, residual, ctx.reduction, weight)
        return grad_residual, grad_weight, None

    @staticmethod
    def jvp(ctx, tangent_residual: Tensor | None, tangent_weight: Tensor | None, _) -> Tensor:
        residual, weight = ctx.saved_tensors
        tangent_residual = torch.zeros_like(residual) if tangent_residual is None else tangent_residual
        return mse_loss_jvp(residual, tangent_residual, ctx.reduction, weight, tangent_weight)


class MSELoss(Loss):
    """Drop-in for ``torch.nn.MSELoss``: ``MSELoss(size_average=None, reduce=None, reduction='mean')``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)
