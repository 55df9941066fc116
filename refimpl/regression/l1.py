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

    Gradient: :math:`\partial L / \partial x_i = g\,\operatorname{sgn}(r_i)` times the reduction's factor
    (:math:`1/n`, or :math:`w_i/\sum w` when weighted); 0 at :math:`r_i = 0`, the subgradient torch picks;
    the target gets the negative. Complex inputs give the real loss :math:`|r|` and the gradient
    :math:`g\, r/|r|`.

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
        RuntimeError: shapes that do not broadcast; two bool tensors; 'mean' of integer tensors.
    """
    _checks.check_tensor("l1_loss", "input", input)
    _checks.check_tensor("l1_loss", "target", target)
    _checks.warn_if_size_mismatch(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    shape = _checks.broadcast_shapes("l1_loss", "input", input, "target", target)
    _checks.check_not_bool("l1_loss", input, target)
    dtype = torch.result_type(input, target)
    if weight is None:
        reduction = _reduction.resolve("l1_loss", reduction)
        if reduction == "mean":
            _checks.check_mean_dtype("l1_loss", dtype)
    else:
        _checks.check_weight_size("l1_loss", weight, input)
        reduction = _reduction.resolve_weighted("l1_loss", reduction)
    input, target = input.to(dtype).expand(shape), target.to(dtype).expand(shape)
    return _L1LossFunction.apply(input, target, weight, reduction)


def l1_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
    output_mask: tuple[bool, bool, bool] = (True, True, True),
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    r"""Hand-derived gradient of :func:`l1_loss` for ``input`` and ``target`` of one (broadcast) shape.

    .. math::

        \frac{\partial l_i}{\partial x_i} = \operatorname{sgn}(x_i - y_i), \qquad
        \frac{\partial l_i}{\partial y_i} = -\operatorname{sgn}(x_i - y_i),

    with :math:`\operatorname{sgn}(0) = 0` (torch's subgradient at the kink) and, for complex
    residuals, :math:`\operatorname{sgn}(r) = r/|r|`; each is multiplied by the reduction's factor
    (``grad_output``, or ``grad_output / n`` for 'mean', or :math:`w_i / \sum w` when weighted).
    Returns ``(grad_input, grad_target, grad_weight)``; an entry is ``None`` where ``output_mask`` is
    False or, for ``grad_weight``, without ``weight``.
    """
    residual = input - target
    if weight is None:
        scale = _reduction.grad_scale(grad_output, reduction, residual.numel())
        if residual.is_complex():
            grad_input = torch.sgn(residual) * scale  # r / |r|, and 0 at r = 0
        else:
            # sign(0) = 0: the subgradient torch's abs backward picks. In place: residual is our temporary.
            grad_input = residual.sign_().mul_(scale)
        grad_weight = None
    else:
        grad_input, grad_weight = _reduction.weighted_grads(
            grad_output, residual.abs(), residual.sgn(), weight, reduction, mean_over="weight"
        )
    grad_target = -grad_input if output_mask[1] else None
    return grad_input if output_mask[0] else None, grad_target, grad_weight if output_mask[2] else None


class _L1LossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`l1_loss`. Backward: :func:`l1_loss_grad`."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction
        residual = input - target
        loss = residual.abs() if residual.is_complex() else residual.abs_()  # complex |r| is real: not in place
        if weight is None:
            return _reduction.reduce_loss(loss, reduction)
        loss = loss * weight
        if reduction == "mean":
            return _reduction.weighted_mean(loss, weight)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        grads = l1_loss_grad(grad_output, input, target, ctx.reduction, weight, ctx.needs_input_grad[:3])
        return *grads, None


class L1Loss(Loss):
    """Drop-in for ``torch.nn.L1Loss``: ``L1Loss(size_average=None, reduce=None, reduction='mean')``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)
