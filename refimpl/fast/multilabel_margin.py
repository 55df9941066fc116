r"""Multi-label margin loss (a pairwise hinge between every label and every non-label), as
``torch.nn.functional.multilabel_margin_loss`` computes it.

Chapter: ``book/margin/multilabel_margin.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.margin import multilabel_margin as readable

FN = "multilabel_margin_loss"
_CHUNK_ELEMENTS = 1 << 22  # rows per chunk * C * C: bounds the memory of the pairwise (N, C, C) hinge


def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Pairwise hinge between each label and each non-label of a sample, summed and divided by :math:`C`.

    ``target`` is *not* a multi-hot vector: row :math:`n` lists class indices and ends at its first
    :math:`-1` (or at its end). Let :math:`j_1, \dots, j_K` be the entries before the first :math:`-1`
    (duplicates kept: a label listed twice counts twice) and :math:`J_n = \{j_1, \dots, j_K\}` the label
    set. With scores :math:`x_n \in \mathbb{R}^C` and :math:`z_{nji} = 1 - x_{nj} + x_{ni}`:

    .. math::

        l_n = \frac{1}{C} \sum_{k=1}^{K} \sum_{i \notin J_n} [z_{n j_k i} > 0]\; z_{n j_k i}

    (strict hinge: a NaN :math:`z` counts 0 and the gradient is 0 exactly at :math:`z = 0`). 'none' returns
    :math:`(l_n)_n` (shape :math:`(N)`, :math:`()` for a 1-D input), 'mean' :math:`\frac1N \sum_n l_n`,
    'sum' :math:`\sum_n l_n`; an empty batch gives NaN for 'mean' and 0 for 'sum' (torch returns
    uninitialised memory there). A row that starts with :math:`-1` has no labels and a loss of 0; so does a
    row whose labels cover every class.

    Gradient, with :math:`c_{nj}` the number of times class :math:`j` is listed, :math:`a_{nji} =
    [z_{nji} > 0][i \notin J_n]` and :math:`s_n = g_n / C` (:math:`/N` for 'mean'):

    .. math::

        \frac{\partial \ell}{\partial x_{ni}} = s_n \Bigl( \sum_j c_{nj}\, a_{nji} - c_{ni} \sum_{k} a_{nik} \Bigr),

    the first term for non-labels (pushed down), the second for labels (pushed up). No double backward (torch
    has none).

    Shapes: ``input`` :math:`(N, C)`, :math:`(C)` or :math:`()` (:math:`C = 1`); ``target`` int64 of the
    same shape (a 0-dim input also takes a :math:`(1)` target), every entry in :math:`[-1, C)`, including
    those after the first :math:`-1`. float32 and float64 on the CPU (no float16/bfloat16 CPU kernel in
    torch); float16/bfloat16 on CUDA are computed in float32 and rounded.

    Args:
        input: scores :math:`x`, floating point.
        target: label lists padded with :math:`-1`, int64.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction``.
        TypeError: ``input`` or ``target`` not a tensor.
        RuntimeError: bad input shape, target of another shape, a target entry outside :math:`[-1, C)`, a
            non-int64 target.
        NotImplementedError: integer, bool or complex input, and float16/bfloat16 on the CPU.
    """
    reduction = readable._validate_multilabel_margin_loss(input, target, size_average, reduce, reduction)
    n_classes = 1 if input.dim() == 0 else input.size(-1)
    n_frames = 1 if input.dim() <= 1 else input.size(0)
    out_shape = (n_frames,) if input.dim() == 2 else ()
    return _MultiLabelMarginLossFunction.apply(
        input.reshape(n_frames, n_classes), target.reshape(n_frames, n_classes), reduction, out_shape
    )


def label_lists(target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""The label lists of ``target`` (N, C): ``(labels, listed, non_label)``.

    ``labels`` (N, K) are the first :math:`K` columns, :math:`K` the longest list (entries before the first
    :math:`-1`), with every :math:`-1` replaced by 0; ``listed`` (N, K) says which entries are labels (all
    before the row's first :math:`-1`, duplicates included); ``non_label`` (N, C) is :math:`[i \notin J_n]`.
    """
    listed = (target >= 0).cumprod(1).bool()  # True up to the first -1
    longest = int(listed.sum(1).max()) if target.numel() else 0
    labels, listed = target[:, :longest].clamp_min(0), listed[:, :longest]
    counts = torch.zeros(target.shape, dtype=torch.int32, device=target.device)
    counts.scatter_add_(1, labels, listed.to(torch.int32))  # how often each class is listed
    return labels, listed, counts == 0


def _active(scores: Tensor, labels: Tensor, listed: Tensor, non_label: Tensor) -> Tensor:
    r""":math:`z_{nki}\,[z_{nki} > 0]\,[i \notin J_n]` for each listed label :math:`j_k`, with
    :math:`z_{nki} = (1 - x_{n j_k}) + x_{ni}` (torch's order); shape (rows, K, C), 0 for unlisted entries."""
    shift = scores.gather(1, labels).neg_().add_(1)  # 1 - x_j, (rows, K)
    z = shift.unsqueeze(2) + scores.unsqueeze(1)
    keep = (z > 0) & non_label.unsqueeze(1) & listed.unsqueeze(2)
    return torch.where(keep, z, 0)


def _chunks(n_frames: int, per_row: int):
    rows = max(1, _CHUNK_ELEMENTS // max(1, per_row))
    return [(start, min(start + rows, n_frames)) for start in range(0, n_frames, rows)]


def _per_sample(scores: Tensor, target: Tensor, counts: Tensor | None = None) -> Tensor:
    """The per-sample sums of the active hinges; with ``counts`` (N, C), also the gradient's pair counts
    (see :func:`_pair_counts`) from the same active terms, so that the backward only scales them."""
    labels, listed, non_label = label_lists(target)
    out = scores.new_zeros(scores.size(0))
    for start, stop in _chunks(scores.size(0), labels.size(1) * scores.size(1)):
        rows = slice(start, stop)
        active = _active(scores[rows], labels[rows], listed[rows], non_label[rows])
        out[rows] = active.sum((1, 2))
        if counts is not None:
            _pair_counts(counts[rows], active > 0, labels[rows])
    return out


def _pair_counts(counts: Tensor, active: Tensor, labels: Tensor) -> None:
    r"""Write :math:`\sum_k a_{ki} - \sum_{k:\, j_k = i} \sum_m a_{km}` into ``counts`` (rows, C), from the
    active pairs (rows, K, C): each non-label is pushed down once per active pair, each label up."""
    active = active.to(counts.dtype)
    counts.copy_(active.sum(1))
    counts.scatter_add_(1, labels, active.sum(2).neg_())


def multilabel_margin_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    counts: Tensor | None = None,
) -> tuple[Tensor]:
    r"""Hand-derived gradient of :func:`multilabel_margin_loss` with respect to ``input`` (N, C), ``target``
    the matching (N, C) int64 label lists.

    .. math::

        \frac{\partial \ell}{\partial x_{ni}} = \frac{g_n}{C} \Bigl( \sum_k a_{nki}
            - \sum_{k:\, j_k = i} \sum_{m} a_{nkm} \Bigr), \qquad
            a_{nki} = [1 - x_{n j_k} + x_{ni} > 0]\,[i \notin J_n],

    (:math:`g_n / N` for 'mean'): each active pair pushes the non-label :math:`i` down and the label
    :math:`j_k` up (a duplicated label twice); 0 exactly at the hinge, as in torch. Returns ``(grad_input,)``.
    ``counts``, the bracket for every :math:`(n, i)` as the forward computed it, is reused (and scaled in place)
    when given.
    """
    n_frames, n_classes = input.shape
    scale = _reduction.grad_scale(grad_output, reduction, n_frames).reshape(-1, 1) / n_classes
    if counts is None:
        labels, listed, non_label = label_lists(target)
        counts = torch.zeros_like(input)
        for start, stop in _chunks(n_frames, labels.size(1) * n_classes):
            rows = slice(start, stop)
            active = _active(input[rows], labels[rows], listed[rows], non_label[rows]) > 0
            _pair_counts(counts[rows], active, labels[rows])
    return (counts.mul_(scale),)


class _MultiLabelMarginLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`multilabel_margin_loss` on (N, C). Backward:
    :func:`multilabel_margin_loss_grad` (once differentiable, like torch's)."""

    @staticmethod
    def forward(ctx, scores, target, reduction, out_shape):
        compute = scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores
        # the gradient's pair counts come from the forward's active terms: the backward only scales them
        ctx.counts = torch.zeros_like(compute) if ctx.needs_input_grad[0] else None
        loss = _per_sample(compute, target, ctx.counts)
        loss = loss.div_(scores.size(1)).to(scores.dtype).reshape(out_shape)
        ctx.save_for_backward(scores, target)
        ctx.reduction = reduction
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        scores, target = ctx.saved_tensors
        compute = scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores
        counts, ctx.counts = ctx.counts, None  # scaled in place: used once (a second backward recomputes them)
        (grad,) = multilabel_margin_loss_grad(grad_output.to(compute.dtype), compute, target, ctx.reduction, counts)
        return grad.to(scores.dtype), None, None, None
