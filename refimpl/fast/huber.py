r"""``huber_loss``, tuned: the forward's slope reused by the backward, and the sum as two dot products.

The readable :mod:`refimpl.regression.huber` computes the clamp :math:`c = \operatorname{clamp}(r, -\delta,
\delta)` in the forward for the loss and again in the backward for the gradient, and writes an elementwise loss
before summing it. Here the forward keeps :math:`c` for the backward (on ``ctx``, outside ``save_for_backward``,
because the backward overwrites it in place: autograd's version counter would otherwise refuse), and a sum is
:math:`c \cdot r - \tfrac12 c \cdot c`, two dot products that write nothing. Validation is the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.regression import huber as readable


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """:func:`refimpl.regression.huber.huber_loss`, with the tuned Function below."""
    reduction, delta = readable._validate_huber_loss(input, target, reduction, delta, weight)
    return _HuberLossFunction.apply(input - target, weight, reduction, delta, input.dtype)


def huber_loss_grad(
    grad_output: Tensor,
    residual: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
    slope: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""The gradient of :func:`refimpl.regression.huber.huber_loss_grad`. ``slope``, the forward's
    :math:`\operatorname{clamp}(r, -\delta, \delta)`, is reused and scaled in place when given; without it (a graph
    is being built for double backward) it is computed from ``residual``."""
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

    Two dot products read the residual and the slope without writing an elementwise loss. float64 only: a
    float32 dot accumulates in float32, one running sum per vector lane, and at :math:`4 \cdot 10^6` elements it is
    off by about :math:`2 \cdot 10^{-5}` relative, where ``sum`` (pairwise) stays near :math:`10^{-7}`; a
    half-precision dot accumulates in half precision. No cancellation: :math:`c_i r_i \ge c_i^2`, so the result
    is at least half of :math:`c \cdot r`.
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
        if weight is None and reduction != "none" and residual.dtype == torch.float64:
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
