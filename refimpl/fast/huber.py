r"""``huber_loss``, tuned: two buffers, the residual's (which becomes the loss) and the slope's (which becomes the
gradient), and the forward's slope reused by the backward.

The readable :mod:`refimpl.regression.huber` lets autograd subtract :math:`r = x - y`, computes the slope
:math:`c = \operatorname{clamp}(r, -\delta, \delta)` in the forward for the loss :math:`c\,(r - \tfrac12 c)` and
again in the backward for the gradient, and writes a new tensor for each step. For two tensors of one shape and one
dtype (float32 or float64) and no weight, :class:`_HuberPairFunction` here takes :math:`x` and :math:`y` and owns
every buffer it writes: the residual's buffer is turned into the loss in place (``sub_``, ``mul_``) once the slope
is taken from it, and the slope is kept for the backward (on ``ctx``, outside ``save_for_backward``, because the
backward overwrites it in place: autograd's version counter would otherwise refuse), which scales it into
:math:`\partial L/\partial x`; the target's gradient, the negation, is computed only when asked for. Two full-size
allocations per call, as torch's fused kernels. Weights, broadcasting, mixed dtypes and half precision take the
residual-based Function below, which reuses the slope too. Validation is the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._difference import difference_grads
from refimpl.fast._transforms import readable_under_transforms
from refimpl.regression import huber as readable
from refimpl.regression import smooth_l1 as readable_smooth_l1


@readable_under_transforms(readable.huber_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """:func:`refimpl.regression.huber.huber_loss`, with the tuned Functions below."""
    reduction, delta = readable._validate_huber_loss(input, target, reduction, delta, weight)
    if weight is None and same_plain_tensors(input, target):
        return _HuberPairFunction.apply(input, target, reduction, delta, 1.0)
    return _HuberLossFunction.apply(input - target, weight, reduction, delta, input.dtype)


def same_plain_tensors(input: Tensor, target: Tensor) -> bool:
    """Whether ``input`` and ``target`` have one shape and one dtype, float32 or float64: no broadcasting, no
    promotion, no rounding to a half-precision output to reproduce."""
    return input.shape == target.shape and input.dtype == target.dtype and input.dtype in (torch.float32, torch.float64)


class _HuberPairFunction(torch.autograd.Function):
    r"""The Huber loss of ``input - target`` divided by ``divisor`` (1 for Huber; :math:`\beta` for SmoothL1, which is
    Huber with :math:`\delta = \beta`, over :math:`\beta`), in two buffers. Backward: the slope's buffer made the
    gradient."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, reduction: str, delta: float, divisor: float) -> Tensor:
        ctx.save_for_backward(input, target)
        ctx.reduction, ctx.delta, ctx.divisor = reduction, delta, divisor
        residual = input - target
        slope = residual.clamp(-delta, delta)
        ctx.slope = slope  # the first backward scales it in place (see backward)
        loss = residual.sub_(slope, alpha=0.5).mul_(slope)  # c (r - c/2), in the residual's buffer
        if reduction == "none":
            return loss if divisor == 1 else loss.div_(divisor)
        total = loss.mean() if reduction == "mean" else loss.sum()
        return total if divisor == 1 else total / divisor  # SmoothL1 divides once, after the reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        need_input, need_target = ctx.needs_input_grad[:2]
        slope, ctx.slope = ctx.slope, None
        if torch.is_grad_enabled():  # a graph for double backward: the readable, differentiable gradient
            residual = input - target
            if ctx.divisor == 1:
                grad = readable.huber_loss_grad(grad_output, residual, ctx.reduction, ctx.delta)[0]
            else:
                grad = readable_smooth_l1.smooth_l1_loss_grad(grad_output, residual, ctx.reduction, ctx.divisor)
            return grad if need_input else None, -grad if need_target else None, None, None, None
        if slope is None:  # a second backward (retain_graph): the buffer was used by the first
            slope = (input - target).clamp_(-ctx.delta, ctx.delta)
        scale = _reduction.grad_scale(grad_output, ctx.reduction, slope.numel())
        grad = slope.mul_(scale if ctx.divisor == 1 else scale / ctx.divisor)  # g c (/ beta)
        return *difference_grads(grad, need_input, need_target), None, None, None


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


class _HuberLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`huber_loss` on the residual. Backward: :func:`huber_loss_grad`."""

    @staticmethod
    def forward(ctx, residual: Tensor, weight: Tensor | None, reduction: str, delta: float, dtype: torch.dtype):
        ctx.save_for_backward(residual, weight)
        ctx.reduction, ctx.delta = reduction, delta
        slope = residual.clamp(-delta, delta)
        ctx.slope = slope  # the first backward scales it in place (see backward)
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
