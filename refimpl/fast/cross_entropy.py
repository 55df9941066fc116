r"""Cross-entropy loss on logits, as ``torch.nn.functional.cross_entropy`` computes it.

The log-softmax comes from the log-sum-exp (``refimpl.classification._log_softmax``), never from torch's
softmax; class-index targets share their validation, ignore mask and weighted mean with
``refimpl.classification.nll``.

Chapter: ``book/classification/cross_entropy.ipynb``.
"""

import torch
from torch import Tensor

from refimpl.classification import cross_entropy as readable
from refimpl.classification._log_softmax import accumulate_dtype, row_max
from refimpl.classification.cross_entropy import (  # the same code in the readable module
    class_view,
    probability_target_loss,
    smoothed,
    smoothing_term,
)
from refimpl.classification.nll import (
    batched,
    class_target_mask,
    flat_weight,
    position_scale,
    reduce_class_losses,
    target_coefficients,
)
from refimpl.fast._log_softmax import fast_exp, fast_exp_, log_softmax, softmax
from refimpl.fast._transforms import readable_under_transforms


@readable_under_transforms(readable.cross_entropy)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """:func:`refimpl.classification.cross_entropy.cross_entropy`, with the tuned Function below (one buffer
    for the log-softmax)."""
    reduction, ignore_index, smoothing = readable._validate_cross_entropy(
        input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing
    )
    if input.shape == target.shape:  # class probabilities
        return _CrossEntropyLossFunction.apply(input, target, weight, ignore_index, reduction, smoothing, None, None)
    safe_target, keep = class_target_mask(target, ignore_index)
    return _CrossEntropyLossFunction.apply(input, target, weight, ignore_index, reduction, smoothing, safe_target, keep)


def cross_entropy_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    probs: Tensor | None = None,
    log_probs: Tensor | None = None,
    wrt: tuple[str, ...] = ("input", "target", "weight"),
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    r"""The gradients of
    :func:`refimpl.classification.cross_entropy.cross_entropy_grad`: ``(grad_input, grad_target, grad_weight)``,
    ``None`` for those not named in ``wrt``. ``probs`` and ``log_probs`` are the softmax and log-softmax of ``input``
    along the class dimension when the caller already has them (the forward saves them); what is missing is
    computed here from ``input`` (differentiably, so the gradient has a gradient)."""
    smoothing = label_smoothing if label_smoothing > 0 else 0.0
    x = input.unsqueeze(0) if input.dim() == 1 else input
    classes = x.shape[1]
    if probs is None:
        probs = softmax(x.to(accumulate_dtype(x.dtype)), 1)
    if input.shape == target.shape:
        if log_probs is None:
            log_probs = log_softmax(x.to(accumulate_dtype(x.dtype)), 1)
        return _probability_target_grad(grad_output, input, target, weight, reduction, smoothing, probs, log_probs, wrt)
    if "input" not in wrt:  # class indices and their weights are not differentiable
        return None, None, None
    _, safe_target, keep = batched(input, *class_target_mask(target, ignore_index))
    w = flat_weight(weight)
    coef = target_coefficients(grad_output, safe_target, keep, w, reduction, x.dtype).to(probs.dtype).unsqueeze(1)
    if smoothing == 0:
        grad = probs * coef  # p - onehot, the onehot part added at the target below
    else:
        per_class = position_scale(grad_output, safe_target, keep, w, reduction, x.dtype).to(probs.dtype)
        per_class = per_class.unsqueeze(1) * (smoothing / classes)  # (eps / C) sigma_n k_n, without w_{y_n}
        weight_sum = classes if w is None else w.sum().to(probs.dtype)
        grad = probs * ((1 - smoothing) * coef + per_class * weight_sum)
        grad.sub_(per_class if w is None else per_class * class_view(w, x.dim()))
        coef = coef * (1 - smoothing)
    grad.scatter_add_(1, safe_target.unsqueeze(1), -coef)  # the - onehot: one entry per position
    return grad.to(input.dtype).reshape(input.shape), None, None


def _probability_target_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    reduction: str,
    smoothing: float,
    probs: Tensor,
    log_probs: Tensor,
    wrt: tuple[str, ...],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """The three gradients of :func:`cross_entropy` with class-probability targets (see its formulas)."""
    x, y = (input.unsqueeze(0), target.unsqueeze(0)) if input.dim() == 1 else (input, target)
    classes = x.shape[1]
    dtype = torch.promote_types(input.dtype, target.dtype)  # the loss's dtype: input, target and weight promoted
    if weight is not None:
        dtype = torch.promote_types(dtype, weight.dtype)
    q = smoothed(y, smoothing, classes).to(dtype)  # smoothed in the target's dtype, then promoted, as torch
    w = None if weight is None else class_view(weight, x.dim()).to(dtype)
    if reduction == "none":
        sigma = grad_output.reshape(x.shape[:1] + x.shape[2:]).unsqueeze(1).to(dtype)
    elif reduction == "sum":
        sigma = grad_output.to(dtype)
    else:
        sigma = (grad_output / (input.numel() // classes) if input.numel() else grad_output).to(dtype)
    grad_input = grad_target = grad_weight = None
    if "input" in wrt:  # sigma (p sum_c w_c q_c - w q): two passes over the classes
        weight_q = q.sum(1, keepdim=True) if w is None else torch.tensordot(q, w.flatten(), ([1], [0])).unsqueeze(1)
        grad_input = probs * (sigma * weight_q).to(probs.dtype)
        grad_input = grad_input.to(dtype).addcmul_(q, sigma if w is None else sigma * w, value=-1)
        grad_input = grad_input.to(input.dtype).reshape(input.shape)
    log_probs = log_probs.to(input.dtype).to(dtype)  # torch's log-softmax output has the input's dtype
    if "target" in wrt:
        factor = -sigma if w is None else -sigma * w
        grad_target = log_probs * (factor * (1 - smoothing) if smoothing > 0 else factor)
        grad_target = grad_target.to(target.dtype).reshape(target.shape)
    if "weight" in wrt and weight is not None:
        dims = [d for d in range(x.dim()) if d != 1]
        grad_weight = (q * log_probs).mul_(-sigma).sum(dims).to(weight.dtype).reshape(weight.shape)
    return grad_input, grad_target, grad_weight


class _CrossEntropyLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`cross_entropy`. Backward: :func:`cross_entropy_grad`."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index: int, reduction: str, smoothing: float, safe_target, keep):
        # safe_target and keep: class_target_mask(target) for index targets (None for probabilities)
        x = input.unsqueeze(0) if input.dim() == 1 else input
        logits = x.to(accumulate_dtype(x.dtype))  # float32 for half precision, as torch's CPU kernel
        shift = row_max(logits, 1)  # the stable log-sum-exp: every exponent <= 0
        needs_log_probs = safe_target is None or smoothing > 0  # probability targets, label smoothing
        shifted = torch.sub(logits, shift)
        probs = fast_exp(shifted) if needs_log_probs else fast_exp_(shifted)  # e^(z - shift), in one buffer
        sum_exp = probs.sum(1, keepdim=True)
        log_sum_exp = sum_exp.log()  # log p = (z - shift) - log_sum_exp
        log_probs = shifted.sub_(log_sum_exp) if needs_log_probs else None
        if safe_target is None:
            loss = probability_target_loss(log_probs.to(input.dtype), target, weight, reduction, smoothing, input)
        else:
            _, safe_target, keep = batched(input, safe_target, keep)
            index = safe_target.unsqueeze(1)
            # -log p_y = log_sum_exp - (z_y - shift): both terms small, no cancellation of large numbers
            neg_log_p = (log_sum_exp - (logits.gather(1, index) - shift)).squeeze(1)
            w = flat_weight(weight)
            loss = reduce_class_losses(neg_log_p.to(input.dtype), safe_target, keep, w, reduction)
            if smoothing > 0:
                loss = (1 - smoothing) * loss + smoothing_term(
                    log_probs, safe_target, keep, w, reduction, input.dtype
                ) * (smoothing / x.shape[1])
            log_probs = None  # not needed by the backward of index targets
        probs.div_(sum_exp)  # now the softmax p, which the backward needs
        ctx.save_for_backward(input, target, weight, probs, log_probs)
        ctx.ignore_index, ctx.reduction, ctx.smoothing = ignore_index, reduction, smoothing
        return loss.reshape(()) if input.dim() == 1 else loss

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight, probs, log_probs = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: recompute p and log p from input, differentiably
            probs = log_probs = None
        names = ("input", "target", "weight")
        wrt = tuple(name for name, needed in zip(names, ctx.needs_input_grad[:3], strict=True) if needed)
        grad_input, grad_target, grad_weight = cross_entropy_grad(
            grad_output, input, target, weight, ctx.ignore_index, ctx.reduction, ctx.smoothing, probs, log_probs, wrt
        )
        return grad_input, grad_target, grad_weight, None, None, None, None, None


# ----------------------------------------------------------------------------------------------------
# The pieces: smoothing and probability-target terms, validation.
