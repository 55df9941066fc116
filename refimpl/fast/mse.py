r"""``mse_loss``, tuned: the residual's buffer becomes the gradient, and the float64 sum of squares is a dot product.

The readable :mod:`refimpl.regression.mse` lets autograd subtract :math:`r = x - y` (a node of its own), squares
every residual into a new tensor to sum it, and writes the gradient :math:`2 r g` into new tensors again. Here one
Function takes :math:`x` and :math:`y` of one shape and one dtype (float32 or float64) and owns the residual it
computes: the backward scales that buffer in place into :math:`\partial L/\partial x = 2 g\, r` (kept on ``ctx``,
outside ``save_for_backward``, used once, as in :mod:`refimpl.fast.huber`), and the target's gradient, the
negation, is computed only when autograd asks for it. In float64, :math:`\sum_i r_i^2 = r \cdot r` is a dot product,
which reads :math:`r` once and writes nothing. A float32 dot accumulates in float32, one running sum per vector
lane, and at :math:`4 \cdot 10^6` elements is off by about :math:`2 \cdot 10^{-5}` relative, where ``sum``
(pairwise) stays near :math:`10^{-7}`: float32 squares and sums as torch does. Weights, broadcasting,
mixed dtypes and half precision go to the readable Function; validation and the double-backward gradient are the
readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._difference import difference_grads
from refimpl.fast._transforms import readable_under_transforms
from refimpl.regression import mse as readable


@readable_under_transforms(readable.mse_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """:func:`refimpl.regression.mse.mse_loss`, with the tuned Function below for an unweighted loss of two tensors
    of one shape and one dtype, float32 or float64."""
    reduction = readable._validate_mse_loss(input, target, size_average, reduce, reduction, weight)
    if (
        weight is None
        and input.shape == target.shape
        and input.dtype == target.dtype
        and input.dtype in (torch.float32, torch.float64)
    ):
        return _MSELossFunction.apply(input, target, reduction)
    return readable._MSELossFunction.apply(input - target, weight, reduction)


class _MSELossFunction(torch.autograd.Function):
    """Forward: :math:`\\sum_i r_i^2` (or the unreduced :math:`r^2`) from a residual it owns. Backward: that
    residual scaled in place into :math:`2 g\\, r`."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, reduction: str) -> Tensor:
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        residual = input - target
        ctx.residual = residual  # the first backward overwrites it in place (see backward)
        if reduction == "none":
            return residual * residual
        if residual.dtype == torch.float64:
            flat = residual.reshape(-1)
            total = torch.dot(flat, flat)  # sum_i r_i^2: one read of r, no elementwise loss written
        else:
            total = (residual * residual).sum()
        return total / residual.numel() if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        need_input, need_target = ctx.needs_input_grad[:2]
        residual, ctx.residual = ctx.residual, None
        if torch.is_grad_enabled():  # a graph for double backward: the readable, differentiable gradient
            grad, _ = readable.mse_loss_grad(grad_output, input - target, ctx.reduction)
            return grad if need_input else None, -grad if need_target else None, None
        if residual is None:  # a second backward (retain_graph): the buffer was used by the first
            residual = input - target
        grad = residual.mul_(2 * _reduction.grad_scale(grad_output, ctx.reduction, residual.numel()))  # 2 g r
        return *difference_grads(grad, need_input, need_target), None
