r"""Huber loss, as ``torch.nn.functional.huber_loss`` computes it.

Chapter: ``book/regression/huber.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    r"""Huber loss: quadratic for residuals below ``delta``, linear with slope ``delta`` above.

    With :math:`r = x - y` after broadcasting and :math:`\delta > 0`:

    .. math::

        l_i = \begin{cases}
            \tfrac12 r_i^2 & |r_i| < \delta \\
            \delta\,(|r_i| - \tfrac12 \delta) & \text{otherwise}
        \end{cases}

    reduced by 'none', 'mean' (:math:`\frac1n\sum_i l_i`) or 'sum'. With ``weight`` (same size as
    ``input``) :math:`l_i` becomes :math:`w_i l_i` and 'mean' stays :math:`\frac1n \sum_i w_i l_i`: unlike
    ``l1_loss`` and ``mse_loss`` it divides by the number of elements, not by :math:`\sum w`.
    ``huber_loss(delta=b) == b * smooth_l1_loss(beta=b)``.

    Gradient: :math:`\partial l_i/\partial x_i = \operatorname{clamp}(r_i, -\delta, \delta)`; the target
    gets the negative. The loss is :math:`C^1`, so the value at :math:`|r| = \delta` is unambiguous.

    The unweighted loss has ``input``'s dtype (computed in the promoted dtype of ``input`` and ``target``
    and rounded to ``input``'s); a ``weight`` then promotes as in ``loss * weight``. Where torch's backward
    fails for mixed dtypes, this one returns the gradient.

    Args:
        input: predictions :math:`x`, floating point.
        target: targets :math:`y`, broadcastable to ``input`` (warns when the sizes differ).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: the threshold :math:`\delta > 0` between the quadratic and the linear part.
        weight: optional elementwise weights of exactly ``input``'s size (differentiable).

    Raises:
        ValueError: invalid ``reduction``; ``weight`` not of ``input``'s size.
        RuntimeError: ``delta <= 0`` or NaN; shapes that do not broadcast; integer input, float target.
        TypeError: ``delta`` not a number.
        NotImplementedError: integer, bool or complex ``input`` and ``target``.
    """
    _checks.check_tensor("huber_loss", "input", input)
    _checks.check_tensor("huber_loss", "target", target)
    _checks.check_same_device("huber_loss", input=input, target=target, weight=weight)
    _checks.warn_if_size_mismatch(input, target)
    _checks.broadcast_shapes("huber_loss", "input", input, "target", target)
    if weight is None:
        reduction = _reduction.resolve("huber_loss", reduction)
    else:
        _checks.check_weight_size("huber_loss", weight, input)
    delta = _checks.check_number("huber_loss", "delta", delta, position=4)
    if not delta > 0:
        raise RuntimeError(
            f"huber_loss does not support non-positive values for delta (argument delta={delta}; "
            "expected a positive number)."
        )
    dtype = torch.result_type(input, target)
    _checks.check_floating("huber_loss", "huber_cpu", dtype)
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"huber_loss(): result type {_checks.dtype_name(dtype)} can't be cast to the desired output type "
            f"{_checks.dtype_name(input.dtype)} (the loss has input's dtype; make input floating point)"
        )
    if weight is not None:
        reduction = _reduction.resolve_weighted("huber_loss", reduction)
    # The loss is a function of r = x - y alone. Autograd's subtraction broadcasts, promotes, and hands the
    # target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    return _HuberLossFunction.apply(input - target, weight, reduction, delta, input.dtype)


def huber_loss_grad(
    grad_output: Tensor,
    residual: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
    slope: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""Hand-derived gradient of :func:`huber_loss` with respect to the residual :math:`r = x - y` and ``weight``.

    .. math::

        \frac{\partial l_i}{\partial r_i} = \begin{cases} r_i & |r_i| < \delta \\
        \delta \operatorname{sign}(r_i) & \text{otherwise} \end{cases}
        = \operatorname{clamp}(r_i, -\delta, \delta), \qquad
        \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial r_i}, \quad
        \frac{\partial L}{\partial y_i} = -\frac{\partial L}{\partial r_i},

    times the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean', and :math:`w_i`
    when weighted). Both branches meet at :math:`|r| = \delta`: the loss is :math:`C^1`. Returns
    ``(grad_residual, grad_weight)``; ``grad_weight`` is ``None`` without ``weight``.

    ``slope``, the forward's :math:`\operatorname{clamp}(r, -\delta, \delta)`, is reused and scaled in place
    when given; without it (a graph is being built for double backward) it is computed from ``residual``.
    """
    if slope is None:
        slope = residual.clamp(-delta, delta)
    if weight is not None:
        return _reduction.weighted_grads(
            grad_output, huber_from_slope(residual, slope), slope, weight, reduction, mean_over="numel"
        )
    return slope.mul_(_reduction.grad_scale(grad_output, reduction, residual.numel())), None


def huber_from_slope(residual: Tensor, slope: Tensor) -> Tensor:
    r"""The unreduced Huber loss from the residual and its slope :math:`c = \operatorname{clamp}(r, -\delta, \delta)`.

    :math:`l = c\,(r - \tfrac12 c)`, one expression for both branches: for :math:`|r| < \delta` it is
    :math:`r \cdot \tfrac12 r`, otherwise :math:`\delta(|r| - \tfrac12\delta)`, with the same rounding as
    torch's two branches in float64, float32 and bfloat16 (torch's float16 kernel computes in float32 and
    rounds once) and without computing both of them.
    """
    return torch.sub(residual, slope, alpha=0.5).mul_(slope)


def huber_sum(residual: Tensor, slope: Tensor) -> Tensor:
    r"""The summed Huber loss :math:`\sum_i c_i (r_i - \tfrac12 c_i) = c \cdot r - \tfrac12\, c \cdot c`.

    Two dot products read the residual and the slope without writing an elementwise loss (float32 and float64
    only: a half-precision dot accumulates in half precision). No cancellation: :math:`c_i r_i \ge c_i^2`, so
    the result is at least half of :math:`c \cdot r`.
    """
    r, c = residual.reshape(-1), slope.reshape(-1)
    return torch.dot(c, r) - 0.5 * torch.dot(c, c)


class _HuberLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`huber_loss` on the residual. Backward: :func:`huber_loss_grad`."""

    @staticmethod
    def forward(ctx, residual: Tensor, weight: Tensor | None, reduction: str, delta: float, dtype: torch.dtype):
        ctx.save_for_backward(residual, weight)
        ctx.reduction, ctx.delta = reduction, delta
        slope = residual.clamp(-delta, delta)
        ctx.slope = slope  # the first backward scales it in place (see backward)
        if weight is None and reduction != "none" and residual.dtype in (torch.float32, torch.float64):
            total = huber_sum(residual, slope)  # no elementwise loss is needed for a sum
            if reduction == "mean":  # divide before rounding to input's dtype: a float16 sum can overflow
                total = total / residual.numel()
            return total.to(dtype)
        loss = huber_from_slope(residual, slope)
        loss = loss.to(dtype)  # torch returns input's dtype, not the promoted one
        if weight is None:
            return _reduction.reduce_loss(loss, reduction)
        return _reduction.reduce_weighted(loss, weight, reduction, mean_over="numel")

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        residual, weight = ctx.saved_tensors
        # The forward's slope is a constant to autograd and is overwritten: use it once (a second backward with
        # retain_graph recomputes it), and not when a graph is built for double backward.
        slope, ctx.slope = ctx.slope, None
        if torch.is_grad_enabled():
            slope = None
        grad_residual, grad_weight = huber_loss_grad(grad_output, residual, ctx.reduction, ctx.delta, weight, slope)
        return grad_residual, grad_weight, None, None, None
