r"""Negative log-likelihood loss, as ``torch.nn.functional.nll_loss`` computes it.

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
    return _NLLLossFunction.apply(input, target, weight, ignore_index, reduction, safe_target, keep)


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


