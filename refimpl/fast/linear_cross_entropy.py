r"""``linear_cross_entropy``, tuned: the logits of each chunk are built once, not twice.

The readable :mod:`refimpl.large_output.linear_cross_entropy` walks the row chunks in the forward for the loss
and again in the backward for the gradient, rebuilding each chunk's logits :math:`Z = X W^\top + b` (the matrix
product that is the whole cost). For 'mean' and 'sum' the upstream gradient is one scalar, so here the forward
computes the gradient for a unit upstream gradient in the same pass and the backward only scales it; each chunk's
buffers are updated in place, and :math:`e^t` is computed as :math:`2^{t \log_2 e}`. Validation and the
unchunked path (K-dimensional weights, class probabilities) are the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl.classification._log_softmax import accumulate_dtype
from refimpl.classification.nll import (
    class_target_mask,
    position_scale,
    total_weight,
)
from refimpl.fast._log_softmax import LOG2_E
from refimpl.fast._transforms import readable_under_transforms
from refimpl.fast.cross_entropy import cross_entropy
from refimpl.large_output import linear_cross_entropy as readable


@readable_under_transforms(readable.linear_cross_entropy)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    *,
    linear_bias: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: torch.nn.LinearCrossEntropyOptions | None = None,
) -> Tensor:
    r""":func:`refimpl.large_output.linear_cross_entropy.linear_cross_entropy`,
    with the one-pass chunks below."""
    chunked, reduction, ignore_index, smoothing, options = readable._validate_linear_cross_entropy(
        input, linear_weight, target, linear_bias, weight, reduction, ignore_index, label_smoothing, options
    )
    if not chunked:  # K-dimensional weights or class probabilities: torch's reference path, on the full logits
        return cross_entropy(
            readable._logits(input, linear_weight, linear_bias),
            target,
            weight=weight,
            reduction=reduction,
            ignore_index=ignore_index,
            label_smoothing=smoothing,
        )
    safe_target, keep = class_target_mask(target, ignore_index)
    x = input.reshape(-1, input.shape[-1])
    chunk = chunk_rows(x.shape[0], x.shape[1], linear_weight.shape[0], options)
    half = input.dtype in (torch.float16, torch.bfloat16)
    matmul_dtype = torch.float32 if options is not None and half else input.dtype
    loss = _LinearCrossEntropyFunction.apply(
        x,
        linear_weight,
        linear_bias,
        safe_target.reshape(-1),
        keep.reshape(-1),
        weight,
        reduction,
        smoothing,
        chunk,
        matmul_dtype,
        options,
    )
    return loss.reshape(()) if input.dim() == 1 and reduction == "none" else loss


@torch.compiler.disable  # plain arithmetic on the sizes: torch.compile runs it as Python, with concrete sizes
def chunk_rows(rows: int, in_features: int, classes: int, options=None) -> int:
    r"""Rows per chunk :math:`B`: torch's ``aspect_ratio`` rule, the power of two at or above
    :math:`\lceil N / \lceil C / d \rceil \rceil`, so one chunk of logits is about the size of the input;
    ``options`` may set ``batch_chunk_size`` or ``chunking_method`` (``'auto'`` is ``'aspect_ratio:2'``,
    halving it). Without ``options`` at least 64 rows: thinner chunks make the matrix products slow."""
    method = "aspect_ratio"
    floor = min(64, rows) if options is None else 1
    if options is not None:
        method = options.chunking_method
        if options.batch_chunk_size is not None and method == "auto":
            method = None
        if method == "auto":
            method = "aspect_ratio:2"
        if method is None:
            return max(1, min(options.batch_chunk_size or rows, rows))
    factor = int(method.split(":", 1)[1]) if ":" in method else 1
    per_chunk = -(-rows // max(1, -(-classes // max(in_features, 1))))
    return max(1, floor, min((1 << max(per_chunk - 1, 0).bit_length()) // factor, rows))


def _chunk_pass(
    x,
    linear_weight,
    linear_bias,
    target,
    keep,
    weight,
    smoothing,
    chunk,
    matmul_dtype,
    scale=None,
    need_loss=True,
    need=(False, False, False),
):
    r"""One walk over the batch, ``chunk`` rows at a time. Returns the per-row :math:`-\log p_{n,y_n}` and
    smoothing sums :math:`-\sum_c w_c \log p_{n,c}` (when ``need_loss``) and the three gradients for the
    per-row factors ``scale`` :math:`= \sigma_n k_n` (those named by ``need``, else ``None``)."""
    rows, classes = x.shape[0], linear_weight.shape[0]
    dtype = x.dtype
    acc = accumulate_dtype(dtype)
    w_mm = linear_weight.to(matmul_dtype)
    b_mm = None if linear_bias is None else linear_bias.to(matmul_dtype)
    w_acc = None if weight is None else weight.to(acc)
    weight_sum = classes if weight is None else w_acc.sum()
    nll = x.new_empty(rows, dtype=acc) if need_loss else None
    smooth = x.new_empty(rows, dtype=acc) if need_loss and smoothing > 0 else None
    grad_x = torch.empty(x.shape, dtype=dtype) if need[0] else None
    grad_w = torch.zeros(linear_weight.shape, dtype=acc) if need[1] else None
    grad_b = torch.zeros(classes, dtype=acc) if need[2] else None
    for start in range(0, rows, chunk):
        stop = min(start + chunk, rows)
        xb = x[start:stop].to(matmul_dtype)
        z = torch.matmul(xb, w_mm.mT) if b_mm is None else torch.addmm(b_mm, xb, w_mm.mT)
        z = z.to(acc)  # the logits (in the input's dtype, as torch's linear, or float32), processed in acc
        z = z.sub_(z.amax(1, keepdim=True)) if classes else z  # shifted: every exponent <= 0
        tb = target[start:stop].unsqueeze(1)
        # e^(z - m); as 2^((z - m) log2 e) (faster) except in half precision, where torch's exact float32
        # log-softmax is rounded to the input's dtype and the backward sees that rounding
        e = torch.exp(z) if matmul_dtype != acc else torch.mul(z, LOG2_E).exp2_()
        s = e.sum(1, keepdim=True)
        lse = s.log()
        if need_loss:
            nll[start:stop] = (lse - z.gather(1, tb)).squeeze(1)
            if smooth is not None:  # sum_c w_c (lse - z_c)
                zw = z.sum(1, keepdim=True) if weight is None else torch.matmul(z, w_acc).unsqueeze(1)
                smooth[start:stop] = (lse * weight_sum - zw).squeeze(1)
        if scale is None:
            continue
        sb = scale[start:stop].to(acc).unsqueeze(1)  # sigma_n k_n
        wy = sb if weight is None else sb * w_acc[tb]  # sigma_n k_n w_{y_n}
        if matmul_dtype != acc:  # half precision: torch's backward sees log p rounded to the input's dtype
            g = z.sub_(lse).to(dtype).to(acc).exp_()
        else:
            g = e.div_(s)  # softmax p, in place: G is built in this buffer
        if smoothing == 0:
            g.mul_(wy).scatter_add_(1, tb, -wy)  # sigma k w_y (p - onehot)
        else:
            eps = smoothing / classes
            g.mul_((1 - smoothing) * wy + eps * weight_sum * sb).scatter_add_(1, tb, -(1 - smoothing) * wy)
            g.sub_(eps * sb if weight is None else (eps * sb) * w_acc)
        gm = g.to(matmul_dtype)  # G in the input's dtype, as torch's backward of linear sees it
        if grad_x is not None:
            grad_x[start:stop] = torch.matmul(gm, w_mm).to(dtype)
        if grad_w is not None:  # half precision: products summed in float32, rounded once at the end
            grad_w += torch.matmul(gm.mT.to(acc), xb.to(acc))
        if grad_b is not None:
            grad_b += gm.to(acc).sum(0)
    return (
        nll,
        smooth,
        grad_x,
        None if grad_w is None else grad_w.to(dtype),
        None if grad_b is None else grad_b.to(dtype),
    )


def _reduce(nll, smooth, target, keep, weight, reduction, smoothing, classes, dtype):
    r"""The per-row terms weighted and reduced as torch's cross entropy: :math:`(1-\varepsilon)` NLL plus
    :math:`\varepsilon / C` times the smoothing sums, 'mean' over :math:`\sum_n w_{y_n} k_n`."""
    loss = nll.to(dtype)
    if weight is not None:
        loss = loss * weight[target]
    loss = torch.where(keep, loss, 0)
    if smoothing > 0:
        extra = torch.where(keep, smooth.to(dtype), 0)
    if reduction == "none":
        return loss if smoothing == 0 else (1 - smoothing) * loss + extra * (smoothing / classes)
    total = total_weight(target, keep, weight, dtype) if reduction == "mean" else None
    out = loss.sum() if total is None else loss.sum() / total
    if smoothing > 0:
        r = extra.sum() if total is None else extra.sum() / total
        out = (1 - smoothing) * out + r * (smoothing / classes)
    return out


def linear_cross_entropy_grad(
    grad_output: Tensor,
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    linear_bias: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    chunk: int | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""Hand-derived gradients ``(grad_input, grad_linear_weight, grad_linear_bias)`` of
    :func:`linear_cross_entropy` (index targets, :math:`(C, d)` weight): for each chunk of :math:`B` rows,
    :math:`G_B = \sigma k [(1-\varepsilon) w_y (p - \text{onehot}) + \tfrac{\varepsilon}{C}(p \sum w - w)]`,
    then :math:`\partial L/\partial X_B = G_B W`, :math:`\partial L/\partial W \mathrel{+}= G_B^\top X_B`,
    :math:`\partial L/\partial b \mathrel{+}= G_B^\top 1`. ``grad_linear_bias`` is ``None`` without a bias."""
    ignore_index = -100 if ignore_index is None else ignore_index
    smoothing = label_smoothing if label_smoothing > 0 else 0.0
    x = input.reshape(-1, input.shape[-1])
    safe_target, keep = class_target_mask(target.reshape(-1), ignore_index)
    classes = linear_weight.shape[0]
    if chunk is None:
        chunk = chunk_rows(x.shape[0], x.shape[1], classes)
    scale = position_scale(grad_output, safe_target, keep, weight, reduction, input.dtype)
    _, _, gx, gw, gb = _chunk_pass(
        x,
        linear_weight,
        linear_bias,
        safe_target,
        keep,
        weight,
        smoothing,
        chunk,
        input.dtype,
        scale,
        need_loss=False,
        need=(True, True, linear_bias is not None),
    )
    return gx.reshape(input.shape), gw, gb


class _LinearCrossEntropyFunction(torch.autograd.Function):
    """Forward: the chunked loss (and, for 'mean'/'sum', the gradient for a unit upstream gradient).
    Backward: scales that gradient, or for 'none' recomputes it per chunk with the upstream ``g_n``. Under
    ``create_graph=True`` (a gradient penalty, a Hessian-vector product) it returns the readable module's gradient
    instead, whose operations autograd can differentiate again: the precomputed one is a constant."""

    @staticmethod
    def forward(
        ctx,
        x,
        linear_weight,
        linear_bias,
        target,
        keep,
        weight,
        reduction,
        smoothing,
        chunk,
        matmul_dtype,
        options,
    ):
        need = (ctx.needs_input_grad[0], ctx.needs_input_grad[1], linear_bias is not None and ctx.needs_input_grad[2])
        precompute = reduction != "none" and any(need)
        scale = None
        if precompute:
            one = torch.ones((), dtype=x.dtype)
            scale = position_scale(one, target, keep, weight, reduction, x.dtype)
            if options is not None and reduction == "mean":  # torch's chunked path: 0 / 0 in every row
                scale = torch.where(total_weight(target, keep, weight, x.dtype) == 0, torch.nan, scale)
        nll, smooth, gx, gw, gb = _chunk_pass(
            x,
            linear_weight,
            linear_bias,
            target,
            keep,
            weight,
            smoothing,
            chunk,
            matmul_dtype,
            scale,
            need_loss=True,
            need=need if precompute else (False, False, False),
        )
        loss = _reduce(nll, smooth, target, keep, weight, reduction, smoothing, linear_weight.shape[0], x.dtype)
        ctx.reduction, ctx.smoothing, ctx.chunk, ctx.matmul_dtype, ctx.need, ctx.options = (
            reduction,
            smoothing,
            chunk,
            matmul_dtype,
            need,
            options,
        )
        ctx.save_for_backward(x, linear_weight, linear_bias, target, keep, weight, gx, gw, gb)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        need = ctx.need
        x, linear_weight, linear_bias, target, keep, weight, gx, gw, gb = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient autograd can differentiate again
            labels = torch.where(keep, target, -100)
            grads = readable.linear_cross_entropy_grad(
                grad_output,
                x,
                linear_weight,
                labels,
                linear_bias,
                weight,
                ctx.reduction,
                -100,
                ctx.smoothing,
                ctx.options,
            )
        elif ctx.reduction != "none":
            grads = [None if t is None else t * grad_output for t in (gx, gw, gb)]
        else:
            scale = torch.where(keep, grad_output, 0)
            _, _, *grads = _chunk_pass(
                x,
                linear_weight,
                linear_bias,
                target,
                keep,
                weight,
                ctx.smoothing,
                ctx.chunk,
                ctx.matmul_dtype,
                scale,
                need_loss=False,
                need=need,
            )
        return (*[g if n else None for g, n in zip(grads, need, strict=True)], *[None] * 8)
