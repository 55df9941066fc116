r"""Linear cross-entropy: a linear layer and the cross-entropy of its logits, computed chunk by chunk.

``linear_cross_entropy(x, W, y)`` is ``cross_entropy(linear(x, W, b), y)``. For a language-model head the
logits :math:`Z = X W^\top + b` are an :math:`N \times C` matrix with :math:`C` (the vocabulary) far larger
than the feature size :math:`d`, so :math:`Z`, its softmax and its gradient dominate the memory of
training. This implementation never holds more than ``B`` rows of :math:`Z`: the forward walks the batch in
chunks of rows and keeps only each row's loss; the hand-derived gradient walks it again, rebuilds each
chunk's logits and softmax, forms that chunk of :math:`G = \partial L / \partial Z` (softmax minus one-hot)
and accumulates :math:`\partial L / \partial X = G W`, :math:`\partial L / \partial W = G^\top X` and
:math:`\partial L / \partial b = G^\top 1`.

Chapter: ``book/large_output/linear_cross_entropy.ipynb``.
"""

import math
import warnings

import torch
from torch import Tensor, nn

from refimpl import _checks, _reduction
from refimpl._module import WeightedLoss
from refimpl.classification.cross_entropy import cross_entropy
from refimpl.classification.nll import (
    check_arguments,
    check_class_targets,
    check_target_range,
    class_target_mask,
    total_weight,
)


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
    options: nn.LinearCrossEntropyOptions | None = None,
) -> Tensor:
    r"""Cross entropy of the logits :math:`z_n = W x_n + b` against class indices or probabilities.

    With :math:`z_{n,c} = \sum_j W_{c,j} x_{n,j} + b_c`, :math:`\log p_{n,c} = z_{n,c} - \log\sum_{c'}
    e^{z_{n,c'}}`, class weights :math:`w_c` (1 without ``weight``), :math:`\varepsilon` =
    ``label_smoothing``, :math:`k_n = [y_n \ne \text{ignore\_index}]` (``ignore_index=None`` means -100)
    and class-index targets:

    .. math::

        l_n = k_n\Big[(1-\varepsilon)\, w_{y_n} (-\log p_{n,y_n})
              + \frac{\varepsilon}{C} \sum_c w_c (-\log p_{n,c})\Big], \qquad
        \text{'sum'}: \sum_n l_n, \qquad
        \text{'mean'}: \frac{\sum_n l_n}{\sum_n w_{y_n} k_n},

    exactly ``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` (see
    :func:`refimpl.classification.cross_entropy.cross_entropy`, also for class-probability targets, whose
    'mean' divides by the number of positions). Computed over chunks of ``B`` rows:
    :math:`\log p_{n,c} = z_{n,c} - \operatorname{lse}(z_n)` with
    :math:`\operatorname{lse}(z) = m + \log\sum_c e^{z_c - m}`, :math:`m = \max_c z_c`.

    Gradient (hand-derived in :func:`linear_cross_entropy_grad`): with :math:`\sigma_n` the reduction's
    factor (:math:`g_n`, :math:`g` or :math:`g / \sum_m w_{y_m} k_m`) and

    .. math::

        G_{n,c} = \frac{\partial L}{\partial z_{n,c}} = \sigma_n k_n\Big[(1-\varepsilon) w_{y_n}
        (p_{n,c} - [c = y_n]) + \frac{\varepsilon}{C}\big(p_{n,c} \textstyle\sum_{c'} w_{c'} - w_c\big)\Big],

    .. math::

        \frac{\partial L}{\partial X} = G W, \qquad
        \frac{\partial L}{\partial W} = G^\top X = \sum_{\text{chunks}} G_B^\top X_B, \qquad
        \frac{\partial L}{\partial b} = \sum_n G_{n,:}.

    The backward rebuilds each chunk's logits from the saved inputs (as torch's chunked path does for
    'none'), so peak extra memory is :math:`O(B C + C d)` instead of :math:`O(N C)`.

    ``options`` (a ``torch.nn.LinearCrossEntropyOptions``) follows torch: with label smoothing, K-dimensional
    weights or non-int64 targets it is ignored with torch's warning; otherwise its ``batch_chunk_size`` /
    ``chunking_method`` set the chunk, float16/bfloat16 products are taken in float32, and an all-ignored
    'mean' has a NaN gradient (the reference path, ``options=None``, gives 0). Chunks never change the value.

    Shapes: ``input`` :math:`(d)` or :math:`(N, d)`; ``linear_weight`` :math:`(C, d)` or
    :math:`(C, d_1, \dots, d_K, d)` (then ``input`` must be batched); ``linear_bias`` :math:`(C, d_1, \dots,
    d_K)`; ``target`` :math:`()`, :math:`(N)`, :math:`(N, d_1, \dots, d_K)` indices or probabilities of the
    logits' shape :math:`(N, C, d_1, \dots, d_K)`; output the per-position shape for 'none', else scalar.
    K-dimensional weights and probability targets materialise the logits (no chunking).

    Args:
        input: features :math:`x`, floating point.
        linear_weight: :math:`W`, the input's dtype.
        target: class indices (int64 or uint8) or class probabilities.
        linear_bias: optional :math:`b`.
        weight: optional per-class weights :math:`w`, shape :math:`(C)`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        ignore_index: index target value to skip; ``None`` means -100 (and must stay ``None`` for
            probability targets).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        options: ``None`` or a ``torch.nn.LinearCrossEntropyOptions``.

    Raises:
        RuntimeError: input not 1-D or 2-D; linear_weight below 2-D; in_features differ; bias shape; K-dim
            weight with unbatched input; ignore_index with probability targets; dtypes of input and
            linear_weight differ; the cross-entropy's target and weight checks.
        ValueError: invalid ``reduction``; batch sizes differ.
        IndexError: a kept target outside :math:`[0, C)`.
        NotImplementedError: integer input.
    """
    chunked, reduction, ignore_index, label_smoothing, options = _validate_linear_cross_entropy(
        input, linear_weight, target, linear_bias, weight, reduction, ignore_index, label_smoothing, options
    )
    if not chunked:  # K-dimensional weights or class probabilities: torch's reference path, on the full logits
        return cross_entropy(
            _logits(input, linear_weight, linear_bias),
            target,
            weight=weight,
            reduction=reduction,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
        )
    return _LinearCrossEntropyFunction.apply(
        input, linear_weight, target, linear_bias, weight, reduction, ignore_index, label_smoothing, options
    )


def _validate_linear_cross_entropy(
    input, linear_weight, target, linear_bias, weight, reduction, ignore_index, label_smoothing, options
):
    """torch's checks, in torch's order, with its messages and its warning when ``options`` are ignored.

    Returns ``(chunked, reduction, ignore_index, label_smoothing, options)``. ``chunked`` is False for
    K-dimensional weights and class-probability targets, which go to ``cross_entropy`` on the full logits (it
    checks the rest itself); otherwise the cross-entropy checks run here too and ``reduction`` is resolved,
    ``label_smoothing`` is a float (0 if negative) and ``options`` is ``None`` where torch ignores them."""
    fn = "linear_cross_entropy"
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(
            f"{fn}(): expected input with dimensionality 1 or 2, got {input.dim()} "
            f"(argument input has shape {tuple(input.shape)}; expected (in_features) or "
            "(N, in_features))"
        )
    if linear_weight.dim() < 2:
        raise RuntimeError(
            f"{fn}(): expected linear_weight with dimensionality at least 2, got {linear_weight.dim()} "
            f"(argument linear_weight has shape {tuple(linear_weight.shape)}; expected "
            "(C, in_features))"
        )
    batch, in_features = input.shape[:-1], input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(
            f"{fn}(): expected equal input and linear_weight last dimensions (in_features), got {in_features} and "
            f"{linear_weight.shape[-1]}, respectively (argument linear_weight must have shape (C, ..., {in_features}))"
        )
    classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes, *out_features):
        raise RuntimeError(
            f"{fn}(): expected linear_bias shape {(classes, *out_features)}, got "
            f"{tuple(linear_bias.shape)} (argument linear_bias: one bias per logit)"
        )
    if out_features and not batch:
        raise RuntimeError(
            f"{fn}(): K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires batched "
            f"input, (N, {in_features}), got unbatched input with shape {tuple(input.shape)} (argument input)"
        )
    _checks.check_same_device(
        fn, input=input, linear_weight=linear_weight, target=target, linear_bias=linear_bias, weight=weight
    )
    logits_shape = (*batch, classes, *out_features)
    probabilities = tuple(target.shape) == logits_shape
    if probabilities and ignore_index is not None:
        raise RuntimeError(
            f"{fn}(): ignore_index cannot be specified when target contains probabilities "
            f"(argument ignore_index={ignore_index}; leave it None)"
        )
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None and (
        out_features
        or reduction not in {"mean", "sum", "none"}
        or label_smoothing != 0.0
        or target.dtype != torch.int64
    ):
        bias_shape = tuple(linear_bias.shape) if linear_bias is not None else None
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path needs reduction in {'mean','sum','none'}, "
            "label_smoothing == 0, target.dtype == int64, out_features == (). Got "
            f"reduction={reduction!r}, label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
            f"out_features={out_features}, tracing=False, linear_bias.shape={bias_shape}.",
            stacklevel=3,
        )
        options = None
    for name, tensor in (("linear_weight", linear_weight), ("linear_bias", linear_bias)):
        if tensor is not None and tensor.dtype != input.dtype:
            raise RuntimeError(
                f"{fn}(): expected m1 and m2 to have the same dtype, but got: {_checks.dtype_name(input.dtype)} != "
                f"{_checks.dtype_name(tensor.dtype)} (argument {name} must have the input's dtype {input.dtype})"
            )
    if out_features or probabilities:
        return False, reduction, ignore_index, label_smoothing, None
    reduction = _reduction.resolve(fn, reduction)
    ignore_index = check_arguments(fn, "cross_entropy_loss", input, target, weight, ignore_index)
    label_smoothing = _checks.check_number(fn, "label_smoothing", label_smoothing, position=9)
    if label_smoothing > 1:
        raise RuntimeError(
            f"{fn}(): label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing} "
            "(argument label_smoothing is the weight of the uniform distribution)"
        )
    if not input.dtype.is_floating_point:
        _checks.check_floating(fn, "log_softmax_lastdim_kernel_impl", input.dtype, what="the logits")
    proxy = torch.empty((), dtype=input.dtype).expand(logits_shape)  # the logits' shape, no memory
    check_class_targets(fn, proxy, target, weight, checked_input=True)
    check_target_range(fn, class_target_mask(target, ignore_index)[0], classes, ignore_index)
    return True, reduction, ignore_index, max(label_smoothing, 0.0), options


@torch.compiler.disable  # plain arithmetic on the sizes: torch.compile runs it as Python, with concrete sizes
def chunk_rows(rows: int, in_features: int, classes: int, options: nn.LinearCrossEntropyOptions | None = None) -> int:
    r"""Rows per chunk :math:`B`, by torch's rules: ``options.batch_chunk_size`` where it is set, else the power
    of two at or above :math:`\lceil N / \lceil C / d \rceil \rceil` (``'aspect_ratio'``: one chunk of logits
    about the size of the input), divided by ``k`` for ``'aspect_ratio:k'``. torch's default ``'auto'`` is
    ``'aspect_ratio:2'``, and so is a call without ``options``, which takes at least 64 rows (thinner chunks make
    the matrix products slow)."""
    method = "auto" if options is None else options.chunking_method
    if options is not None and (method is None or (method == "auto" and options.batch_chunk_size is not None)):
        return max(1, min(options.batch_chunk_size or rows, rows))
    if method == "auto":
        method = "aspect_ratio:2"
    factor = int(method.split(":", 1)[1]) if ":" in method else 1
    per_chunk = -(-rows // max(1, -(-classes // max(in_features, 1))))  # ceil(N / ceil(C / d))
    floor = min(64, rows) if options is None else 1
    return max(1, floor, min((1 << max(per_chunk - 1, 0).bit_length()) // factor, rows))


def _rows(input: Tensor, linear_weight: Tensor, linear_bias: Tensor | None, options) -> tuple:
    r"""The rows :math:`X` (an unbatched input is one row), :math:`W` and :math:`b` in the dtype of the matrix
    products: the input's, as torch's ``linear``, or float32 for a float16/bfloat16 input when ``options`` are
    used (torch's chunked path multiplies in float32); and the rows per chunk :math:`B` (:func:`chunk_rows`)."""
    half = input.dtype in (torch.float16, torch.bfloat16)
    dtype = torch.float32 if options is not None and half else input.dtype
    x = input.reshape(-1, input.shape[-1]).to(dtype)
    b = None if linear_bias is None else linear_bias.to(dtype)
    return x, linear_weight.to(dtype), b, chunk_rows(x.shape[0], x.shape[1], linear_weight.shape[0], options)


def _logits(x: Tensor, linear_weight: Tensor, linear_bias: Tensor | None) -> Tensor:
    r"""The logits :math:`z = x W^\top + b`, one per class (and per position :math:`d_1..d_K` of a
    K-dimensional weight :math:`(C, d_1, \dots, d_K, d)`): shape ``(*x.shape[:-1], *linear_weight.shape[:-1])``."""
    z = x @ linear_weight.reshape(-1, x.shape[-1]).mT
    if linear_bias is not None:
        z = z + linear_bias.reshape(-1)
    return z.reshape(*x.shape[:-1], *linear_weight.shape[:-1])


def _accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for float16/bfloat16 (torch's CPU log-softmax accumulates in float32), else ``dtype``."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _logsumexp(z: Tensor) -> Tensor:
    r"""The stable log-sum-exp of each row, shape ``(B, 1)``: :math:`\operatorname{lse}(z_n) = m_n + \log\sum_c
    e^{z_{n,c} - m_n}` with :math:`m_n = \max_c z_{n,c}`, so every exponent is :math:`\le 0` and nothing
    overflows. The shift cancels, so it is detached: it carries no gradient."""
    m = z.detach().amax(1, keepdim=True)
    return m + (z - m).exp().sum(1, keepdim=True).log()


def _softmax(z: Tensor) -> Tensor:
    r"""The softmax of each row, :math:`p_{n,c} = e^{z_{n,c} - \operatorname{lse}(z_n)}`."""
    return (z - _logsumexp(z)).exp()


def _class_weights(weight: Tensor | None, classes: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The class weights :math:`w_c` in ``dtype``: ``weight``, or all 1 without it."""
    return torch.ones(classes, dtype=dtype, device=device) if weight is None else weight.to(dtype)


class _LinearCrossEntropyFunction(torch.autograd.Function):
    """Forward: the loss of the Definition, ``B`` rows of logits at a time. Backward:
    :func:`linear_cross_entropy_grad`, which rebuilds each chunk's logits from the saved inputs."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input, linear_weight, target, linear_bias, weight, reduction, ignore_index, label_smoothing, options):
        x, linear_weight, linear_bias, chunk = _rows(input, linear_weight, linear_bias, options)
        y, keep = class_target_mask(target.reshape(-1), ignore_index)  # y_n (class 0 where ignored) and k_n
        classes, eps, acc = linear_weight.shape[0], label_smoothing, _accumulate_dtype(input.dtype)
        w = _class_weights(weight, classes, acc, x.device)
        loss = x.new_zeros(x.shape[0], dtype=acc)
        for start in range(0, x.shape[0], chunk):  # B rows at a time: only B x C logits exist
            rows = slice(start, start + chunk)
            z = _logits(x[rows], linear_weight, linear_bias).to(acc)
            lse = _logsumexp(z)
            nll = (lse - z.gather(1, y[rows].unsqueeze(1))).squeeze(1)  # -log p_{n, y_n} = lse(z_n) - z_{n, y_n}
            chunk_loss = (1 - eps) * w[y[rows]] * nll
            if eps > 0:  # plus eps / C sum_c w_c (-log p_{n, c})
                chunk_loss = chunk_loss + eps / classes * (w * (lse - z)).sum(1)
            loss[rows] = chunk_loss
        loss = torch.where(keep, loss, 0).to(input.dtype)  # 0 where ignored, even over a NaN logit
        if reduction == "none":
            return loss.reshape(target.shape)
        if reduction == "sum":
            return loss.sum()
        return loss.sum() / total_weight(y, keep, weight, input.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, linear_weight, target, linear_bias, weight, reduction, ignore_index, label_smoothing, options = inputs
        ctx.save_for_backward(input, linear_weight, target, linear_bias, weight)
        ctx.reduction, ctx.ignore_index, ctx.label_smoothing, ctx.options = (
            reduction,
            ignore_index,
            label_smoothing,
            options,
        )

    @staticmethod
    def backward(ctx, grad_output):
        input, linear_weight, target, linear_bias, weight = ctx.saved_tensors
        grads = linear_cross_entropy_grad(
            grad_output,
            input,
            linear_weight,
            target,
            linear_bias,
            weight,
            ctx.reduction,
            ctx.ignore_index,
            ctx.label_smoothing,
            ctx.options,
        )
        return grads[0], grads[1], None, grads[2], None, None, None, None, None


def _reduction_factor(
    grad_output: Tensor, target: Tensor, keep: Tensor, weight: Tensor | None, reduction: str, dtype: torch.dtype
) -> Tensor:
    r""":math:`\sigma_n`, the upstream gradient each row's loss receives through the reduction: :math:`g_n`
    ('none'), :math:`g` ('sum') or :math:`g / \sum_m w_{y_m} k_m` ('mean', the total weight in ``dtype``)."""
    if reduction == "none":
        return grad_output.reshape(-1)
    if reduction == "sum":
        return grad_output.expand(keep.shape)
    return (grad_output / total_weight(target, keep, weight, dtype)).expand(keep.shape)


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
    options: nn.LinearCrossEntropyOptions | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""Hand-derived gradients ``(grad_input, grad_linear_weight, grad_linear_bias)`` of
    :func:`linear_cross_entropy` (index targets, :math:`(C, d)` weight). For each chunk of :math:`B` rows, the
    logits are rebuilt, :math:`G_B = \partial L / \partial Z_B` is softmax minus one-hot (:func:`_logit_grad`), and
    the chain rule through :math:`Z = X W^\top + b` gives

    .. math::

        \frac{\partial L}{\partial X_B} = G_B W, \qquad
        \frac{\partial L}{\partial W} = \sum_B G_B^\top X_B, \qquad
        \frac{\partial L}{\partial b} = \sum_B G_B^\top 1.

    ``grad_linear_bias`` is ``None`` without a bias; ``options`` as :func:`linear_cross_entropy` resolved them
    (``None`` where torch ignores them)."""
    x, linear_weight, linear_bias, chunk = _rows(input, linear_weight, linear_bias, options)
    y, keep = class_target_mask(target.reshape(-1), -100 if ignore_index is None else ignore_index)
    classes, acc = linear_weight.shape[0], _accumulate_dtype(input.dtype)
    w = _class_weights(weight, classes, acc, x.device)
    sigma = _reduction_factor(grad_output, y, keep, weight, reduction, input.dtype).to(acc)
    # times k_n: torch's chunked path (options) multiplies, so an all-ignored 'mean' (sigma = g / 0) has a NaN
    # gradient; its reference path skips the ignored rows (0)
    scale = sigma * keep if options is not None else torch.where(keep, sigma, 0)
    grad_x = torch.zeros_like(x)
    grad_w = torch.zeros(linear_weight.shape, dtype=acc, device=x.device)
    grad_b = torch.zeros(classes, dtype=acc, device=x.device)
    for start in range(0, x.shape[0], chunk):
        rows = slice(start, start + chunk)
        p = _softmax(_logits(x[rows], linear_weight, linear_bias).to(acc))  # rebuilt: the forward kept no logits
        g = _logit_grad(p, y[rows], scale[rows], w, label_smoothing).to(x.dtype)  # G_B, as torch's linear sees it
        grad_x[rows] = g @ linear_weight  # the rows of G W need only their own rows of G
        # the sums over chunks, accumulated in place (float32 for float16/bfloat16): no second C x d tensor
        grad_w.addmm_(g.mT.to(acc), x[rows].to(acc))
        grad_b += g.sum(0).to(acc)
        del p, g  # free this chunk's B x C arrays before the next chunk's are built
    grad_b = None if linear_bias is None else grad_b.to(input.dtype)
    return grad_x.reshape(input.shape).to(input.dtype), grad_w.to(input.dtype), grad_b


def _logit_grad(p: Tensor, y: Tensor, scale: Tensor, w: Tensor, eps: float) -> Tensor:
    r"""The gradient of the loss with respect to a chunk of logits, "softmax minus one-hot", from the chunk's
    softmax ``p``, its targets ``y``, ``scale`` :math:`= \sigma_n k_n` and the class weights ``w``:

    .. math::

        G_{n,c} = \sigma_n k_n \Big[(1-\varepsilon)\, w_{y_n} (p_{n,c} - [c = y_n])
                  + \frac{\varepsilon}{C}\big(p_{n,c} \textstyle\sum_{c'} w_{c'} - w_c\big)\Big]."""
    classes = p.shape[1]
    one_hot = (y.unsqueeze(1) == torch.arange(classes, device=y.device)).to(p.dtype)  # [c = y_n]
    g = (scale * (1 - eps) * w[y]).unsqueeze(1) * (p - one_hot)
    if eps > 0:
        g = g + (scale * eps / classes).unsqueeze(1) * (p * w.sum() - w)
    return g


class LinearCrossEntropyLoss(WeightedLoss):
    """Drop-in for ``torch.nn.LinearCrossEntropyLoss(in_features, num_classes, *, out_features=(), bias=False,
    device=None, dtype=None, reduction='mean', weight=None, ignore_index=None, label_smoothing=0.0,
    options=None)``: the weight lives in ``self.linear`` (an ``nn.Linear`` of ``C * prod(out_features)``
    outputs), reshaped in ``forward``, so torch's state_dict loads."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        reduction: str = "mean",
        weight: Tensor | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: nn.LinearCrossEntropyOptions | None = None,
    ) -> None:
        if weight is not None and weight.shape != (num_classes,):
            raise RuntimeError(
                f"LinearCrossEntropyLoss: expected weight shape to be {(num_classes,)}, got "
                f"{tuple(weight.shape)} (argument weight: one per class)"
            )
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(
                f"LinearCrossEntropyLoss: expected label_smoothing to be in range [0, 1], got "
                f"{label_smoothing} (argument label_smoothing)"
            )
        super().__init__(weight, None, None, reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = nn.Linear(
            in_features, math.prod(out_features, start=num_classes), bias=bias, device=device, dtype=dtype
        )
        self.options = options

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        linear_weight = self.linear.weight.reshape((self.num_classes, *self.out_features, self.linear.in_features))
        bias = self.linear.bias
        linear_bias = None if bias is None else bias.reshape((self.num_classes, *self.out_features))
        return linear_cross_entropy(
            input,
            linear_weight,
            target,
            linear_bias=linear_bias,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
            f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
            f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}, options={self.options}"
        )
