r"""``gaussian_nll_loss``, tuned: the backward computes only the gradients autograd asks for.

The readable :mod:`refimpl.probabilistic.gaussian_nll` has a pure gradient that always returns the residual's and
the variance's gradient, the latter in torch's order of its two terms (the derivatives of :math:`\log v` and of
:math:`r^2/v`, six more full-size tensors). When the variance is data, or a constant, that work is thrown away.
Here, when only the residual's gradient is wanted (and the residual and the variance have one shape and one real
dtype, float32 or float64), the backward is :math:`\partial L/\partial r = 2 s\, r / v` in two passes: the floor
:math:`v = \max(\sigma^2, \epsilon)`, then :math:`r / v` scaled in place. Everything else, and double backward,
is the readable gradient; validation and the forward are the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.probabilistic import gaussian_nll as readable


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.probabilistic.gaussian_nll.gaussian_nll_loss`, with the backward below."""
    var = readable._validate_gaussian_nll_loss(input, target, var, eps, reduction)
    return _GaussianNLLLossFunction.apply(input - target, var, full, eps, reduction)


class _GaussianNLLLossFunction(readable._GaussianNLLLossFunction):
    """The readable Function (its forward and setup_context), with a backward that skips the variance's gradient
    when autograd does not ask for it."""

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        residual, var = ctx.saved_tensors
        plain = (
            residual.shape == var.shape
            and residual.dtype == var.dtype
            and residual.dtype in (torch.float32, torch.float64)
        )
        if ctx.needs_input_grad[1] or not plain or torch.is_grad_enabled():
            grads = readable.gaussian_nll_loss_grad(grad_output, residual, var, ctx.eps, ctx.reduction)
            return *grads, None, None, None
        # d/dr of (log v + r^2 / v) / 2, times the reduction's factor s: 2 s r / v = r / v * (2 * s / 2)
        scale = _reduction.grad_scale(grad_output, ctx.reduction, residual.numel())
        grad_residual = torch.div(residual, var.clamp(min=ctx.eps)).mul_(scale)
        return grad_residual, None, None, None, None
