r"""Multi-label margin loss (a pairwise hinge between every label and every non-label), as
``torch.nn.functional.multilabel_margin_loss`` computes it.

Chapter: ``book/margin/multilabel_margin.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl._autograd import derivative_not_implemented
from refimpl.fast._transforms import readable_under_transforms
from refimpl.margin import multilabel_margin as readable

FN = "multilabel_margin_loss"
_CHUNK_ELEMENTS = 1 << 22  # rows per chunk * C * C: bounds the memory of the pairwise (N, C, C) hinge


@readable_under_transforms(readable.multilabel_margin_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.margin.multilabel_margin.multilabel_margin_loss`, computed in chunks of rows, with the active
    pairs counted by the forward."""
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
    r"""The gradient of
    :func:`refimpl.margin.multilabel_margin.multilabel_margin_loss_grad`: ``(grad_input,)``. ``counts``, the
    active-pair bracket for every :math:`(n, i)` as the forward computed it, is reused (and scaled in place) when
    given."""
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
    def backward(ctx, grad_output):
        scores, target = ctx.saved_tensors
        compute = scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores
        counts, ctx.counts = ctx.counts, None  # scaled in place: used once (a second backward recomputes them)
        (grad,) = multilabel_margin_loss_grad(grad_output.to(compute.dtype), compute, target, ctx.reduction, counts)
        grad = derivative_not_implemented("multilabel_margin_loss_backward", grad.to(scores.dtype), scores)
        return grad, None, None, None
