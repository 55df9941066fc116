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

    Gradient: :math:`\partial L/\partial x_i = 2 g\, r_i` times the reduction's factor (:math:`1/n`, or
    :math:`w_i / \sum w` when weighted); the target gets the negative.

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
    _checks.check_tensor("mse_loss", "input", input)
    _checks.check_tensor("mse_loss", "target", target)
    _checks.warn_if_size_mismatch(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    shape = _checks.broadcast_shapes("mse_loss", "input", input, "target", target)
    dtype = torch.result_type(input, target)
    if weight is None:
        reduction = _reduction.resolve("mse_loss", reduction)
        _checks.check_floating("mse_loss", "mse_cpu", dtype)
    else:
        _checks.check_weight_size("mse_loss", weight, input)
        reduction = _reduction.resolve_weighted("mse_loss", reduction)
    input, target = input.to(dtype).expand(shape), target.to(dtype).expand(shape)
    return _MSELossFunction.apply(input, target, weight, reduction)


def mse_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    weight: Tensor | None = None,
    output_mask: tuple[bool, bool, bool] = (True, True, True),
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    r"""Hand-derived gradient of :func:`mse_loss` for ``input`` and ``target`` of one (broadcast) shape.

    .. math::

        \frac{\partial l_i}{\partial x_i} = 2 (x_i - y_i), \qquad
        \frac{\partial l_i}{\partial y_i} = -2 (x_i - y_i),

    each multiplied by the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean', or
    :math:`w_i / \sum w` when weighted). Returns ``(grad_input, grad_target, grad_weight)``; an entry is
    ``None`` where ``output_mask`` is False or, for ``grad_weight``, without ``weight``.
    """
    residual = input - target
    if weight is None:
        scale = _reduction.grad_scale(grad_output, reduction, residual.numel())
        grad_input = residual.mul_(2 * scale)  # in place: residual is our own temporary
        grad_weight = None
    else:
        grad_input, grad_weight = _reduction.weighted_grads(
            grad_output, residual * residual, 2 * residual, weight, reduction, mean_over="weight"
        )
    grad_target = -grad_input if output_mask[1] else None
    return grad_input if output_mask[0] else None, grad_target, grad_weight if output_mask[2] else None


class _MSELossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`mse_loss`. Backward: :func:`mse_loss_grad`."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction
        loss = (input - target).square_()
        if weight is None:
            return _reduction.reduce_loss(loss, reduction)
        loss = loss * weight
        if reduction == "mean":
            return _reduction.weighted_mean(loss, weight)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        grads = mse_loss_grad(grad_output, input, target, ctx.reduction, weight, ctx.needs_input_grad[:3])
        return *grads, None


class MSELoss(Loss):
    """Drop-in for ``torch.nn.MSELoss``: ``MSELoss(size_average=None, reduce=None, reduction='mean')``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)
