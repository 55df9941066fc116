r"""``margin_ranking_loss``, tuned: one Function of both scores, one buffer reused in place from the forward's
:math:`z` to the backward's gradient, and float masks instead of boolean ones.

The readable :mod:`refimpl.margin.margin_ranking` lets autograd subtract :math:`d = x_1 - x_2` (a node of its
own, which gives :math:`x_2` the negated gradient), writes a new tensor for each step of
:math:`z = -y\,d + m`, and recomputes :math:`z` in the backward, where a boolean mask and ``torch.where`` (a
branch per element on the CPU: slow for a random mask) select the active elements. Here the Function takes
:math:`x_1` and :math:`x_2` directly; the forward writes :math:`d`, :math:`y d` and :math:`z = m - y d` into one
buffer (the roundings of torch's :math:`-y d + m`: no fused multiply-add, so the kink :math:`z = 0` is where
torch sees it) and the clamped loss into a second; the backward turns the buffer into the float mask
:math:`[z \ge 0]` and scales it, in place, into :math:`\partial L/\partial x_1 = -g\,y\,[z \ge 0]` (the buffer
is kept on ``ctx``, outside ``save_for_backward``, as in :mod:`refimpl.fast.huber`). :math:`x_2`'s gradient
is the negation, and each gradient is computed only when autograd asks for it. Broadcast shapes, mixed dtypes
and half precision go to the readable Function; validation and the double-backward gradient are the readable
module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._difference import difference_grads
from refimpl.fast._transforms import readable_under_transforms
from refimpl.margin import margin_ranking as readable


@readable_under_transforms(readable.margin_ranking_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.margin.margin_ranking.margin_ranking_loss`, with the tuned Function below for three
    tensors of one shape and one dtype, float32 or float64."""
    reduction, margin = readable._validate_margin_ranking_loss(
        input1, input2, target, margin, size_average, reduce, reduction
    )
    if (
        input1.shape == input2.shape == target.shape
        and input1.dtype == input2.dtype == target.dtype
        and input1.dtype in (torch.float32, torch.float64)
    ):
        return _MarginRankingLossFunction.apply(input1, input2, target, margin, reduction)
    return readable._MarginRankingLossFunction.apply(input1 - input2, target, margin, reduction)


class _MarginRankingLossFunction(torch.autograd.Function):
    """Forward: :math:`\\max(0, m - y (x_1 - x_2))` in one buffer. Backward: the buffer made the gradient."""

    @staticmethod
    def forward(ctx, input1: Tensor, input2: Tensor, target: Tensor, margin: float, reduction: str) -> Tensor:
        ctx.save_for_backward(input1, input2, target)
        ctx.margin, ctx.reduction = margin, reduction
        z = _unclamped(input1, input2, target, margin)
        ctx.z = z  # the first backward overwrites it in place (see backward)
        return _reduction.reduce_loss(z.clamp_min(0), reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input1, input2, target = ctx.saved_tensors
        need1, need2, need_target = ctx.needs_input_grad[:3]
        z, ctx.z = ctx.z, None
        if torch.is_grad_enabled():  # a graph for double backward: the readable, differentiable gradient
            grad_diff, grad_target = readable.margin_ranking_loss_grad(
                grad_output, input1 - input2, target, ctx.margin, ctx.reduction
            )
            return grad_diff if need1 else None, -grad_diff if need2 else None, grad_target, None, None
        if z is None:  # a second backward (retain_graph): the buffer was used by the first
            z = _unclamped(input1, input2, target, ctx.margin)
        neg_g = -_reduction.grad_scale(grad_output, ctx.reduction, z.numel())  # -g (-g/n for 'mean')
        active = z.ge_(0)  # [z >= 0] as 0.0 / 1.0 in the buffer: the kink z = 0 is active, NaN is not
        grad_target = (input1 - input2).mul_(active).mul_(neg_g) if need_target else None  # -g d [z >= 0]
        grad1 = grad2 = None
        if need1 or need2:  # -g y [z >= 0], for d = x1 - x2
            grad1, grad2 = difference_grads(active.mul_(target).mul_(neg_g), need1, need2)
        return grad1, grad2, grad_target, None, None


def _unclamped(input1: Tensor, input2: Tensor, target: Tensor, margin: float) -> Tensor:
    """A new tensor :math:`z = m - y\\,(x_1 - x_2)`, rounded step by step as torch's :math:`-y\\,d + m`."""
    z = torch.sub(input1, input2).mul_(target)
    return torch.sub(torch.tensor(margin, dtype=z.dtype, device=z.device), z, out=z)
