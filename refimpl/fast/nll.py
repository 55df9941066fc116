r"""``nll_loss``, tuned: the forward's ignore mask reused by the backward, and few operations for the common case.

At the benchmark's size the loss itself is a gather of :math:`N` numbers, and the backward one :math:`N \times C`
tensor of zeros with :math:`N` entries written: torch's time is little more than that zero fill, so every small
operation around it counts. For a batch of :math:`(N, C)` log-probabilities without class weights, reduced by
'mean' or 'sum', :class:`_PlainNLLLossFunction` does the gather, the mask and the count in a handful of
operations and keeps them for the backward; everything else takes the general Function below, which reuses the
forward's mask. Validation is the readable module's.


Also the pieces ``cross_entropy`` shares with it: the validation of class-index targets (torch's checks,
in torch's order), the target mask for ``ignore_index`` and the class-weighted reduction.

Chapter: ``book/classification/nll.ipynb``.
"""

import torch
from torch import Tensor

from refimpl.classification import nll as readable
from refimpl.classification.nll import (  # the same code in the readable module
    batched,
    class_target_mask,
    flat_weight,
    reduce_class_losses,
    target_coefficients,
)
from refimpl.fast._transforms import readable_under_transforms


@readable_under_transforms(readable.nll_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.classification.nll.nll_loss`, with the tuned Function below (the backward reuses the
    forward's ignore mask)."""
    reduction, ignore_index = readable._validate_nll_loss(
        input, target, weight, size_average, ignore_index, reduce, reduction
    )
    safe_target, keep = class_target_mask(target, ignore_index)
    if weight is None and reduction != "none" and input.dim() == 2:
        return _PlainNLLLossFunction.apply(input, safe_target, keep, reduction)
    return _NLLLossFunction.apply(input, target, weight, ignore_index, reduction, safe_target, keep)


class _PlainNLLLossFunction(torch.autograd.Function):
    r"""Forward: :math:`-\sum_n k_n x_{n, y_n}`, divided by :math:`\sum_n k_n` for 'mean'. Backward: that count's
    reciprocal, negated, scattered at the kept targets."""

    @staticmethod
    def forward(ctx, input: Tensor, safe_target: Tensor, keep: Tensor, reduction: str) -> Tensor:
        index = safe_target.unsqueeze(1)
        picked = input.gather(1, index).squeeze(1)  # x_{n, y_n} (class 0 at ignored positions)
        total = -torch.where(keep, picked, 0).sum()  # torch writes 0 at ignored positions, even over a NaN
        count = keep.sum().to(input.dtype) if reduction == "mean" else None
        ctx.save_for_backward(index, keep, count)
        ctx.shape, ctx.dtype = input.shape, input.dtype
        return total / count if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        index, keep, count = ctx.saved_tensors
        scale = -grad_output if count is None else -grad_output / count
        per_row = torch.where(keep, scale.to(ctx.dtype), 0).unsqueeze(1)  # 0 at ignored positions
        grad = torch.zeros(ctx.shape, dtype=ctx.dtype, device=index.device).scatter_(1, index, per_row)
        return grad, None, None, None


def nll_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    mask: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    r"""The gradient of :func:`refimpl.classification.nll.nll_loss_grad`. ``mask``, the
    forward's ``class_target_mask(target, ignore_index)``, is reused when given."""
    if mask is None:
        mask = class_target_mask(target, ignore_index)
    x, safe_target, keep = batched(input, *mask)
    per_position = -target_coefficients(grad_output, safe_target, keep, flat_weight(weight), reduction, x.dtype)
    grad = torch.zeros_like(x).scatter_(1, safe_target.unsqueeze(1), per_position.unsqueeze(1))
    return grad.reshape(input.shape)


class _NLLLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`nll_loss`. Backward: :func:`nll_loss_grad`."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index: int, reduction: str, safe_target: Tensor, keep: Tensor):
        # safe_target and keep: class_target_mask(target), computed (and range-checked) by nll_loss already
        ctx.save_for_backward(input, target, weight, safe_target, keep)
        ctx.ignore_index, ctx.reduction = ignore_index, reduction
        x, safe_target, keep = batched(input, safe_target, keep)
        picked = x.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # x_{n, y_n} (class 0 at ignored positions)
        loss = reduce_class_losses(picked.neg(), safe_target, keep, flat_weight(weight), reduction)
        return loss.reshape(()) if input.dim() == 1 else loss

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight, safe_target, keep = ctx.saved_tensors
        grad_input = nll_loss_grad(
            grad_output, input, target, weight, ctx.ignore_index, ctx.reduction, mask=(safe_target, keep)
        )
        return grad_input, None, None, None, None, None, None


# ----------------------------------------------------------------------------------------------------
# Shared with cross_entropy: argument checks, the ignore mask, the weighted reduction.
