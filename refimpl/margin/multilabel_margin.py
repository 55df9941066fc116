r"""Multi-label margin loss (a pairwise hinge between every label and every non-label), as
``torch.nn.functional.multilabel_margin_loss`` computes it.

Chapter: ``book/margin/multilabel_margin.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl._autograd import derivative_not_implemented
from refimpl._checks import check_same_device, check_tensor_argument, plain
from refimpl._module import Loss
from refimpl.margin.multi_margin import check_class_scores, check_kernel_dtype, check_long_target

FN = "multilabel_margin_loss"


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
    reduction = _validate_multilabel_margin_loss(input, target, size_average, reduce, reduction)
    return _MultiLabelMarginLossFunction.apply(input, target, reduction)


def _validate_multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average: bool | None, reduce: bool | None, reduction: str
) -> str:
    """torch's checks in torch's order, with its exception types; returns the reduction."""
    reduction = _reduction.resolve(FN, reduction, size_average, reduce)
    check_tensor_argument(FN, "input", input, position=1)
    check_tensor_argument(FN, "target", target, position=2)
    check_same_device(FN, input=input, target=target)
    check_class_scores(FN, input)
    n_classes = 1 if input.dim() == 0 else input.size(-1)
    if input.dim() <= 1:
        ok = target.dim() <= 1 and target.numel() == n_classes
    else:
        ok = target.shape == input.shape
    if not ok:
        raise RuntimeError(
            f"{FN}(): inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)} "
            "(argument target must have input's shape: one -1 padded list of class indices per sample)"
        )
    target = plain(target)  # the values, also under torch.func.vmap
    if target.numel() and bool(((target < -1) | (target >= n_classes)).any()):
        raise RuntimeError(
            f"{FN}(): argument #2 'target' is out of range (argument target: every entry must be a class index "
            f"in [0, {n_classes}) or the padding -1; got values from {int(target.min())} to {int(target.max())})"
        )
    check_kernel_dtype(FN, "multilabel_margin_loss_forward_out_frame", input)
    check_long_target(FN, target)
    return reduction


def _label_pairs(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""``(z, counted, labels)``: the margins of every (label, class) pair of every sample and the pairs the loss
    counts.

    ``input`` (N, C), (C) or () is viewed as (N, C) rows, computed in at least float32 (torch's kernels accumulate
    half precision in float32), and ``target`` as (N, C). ``labels`` (N, K) are the first :math:`K` entries of each
    row, :math:`K` the longest list (the entries before a row's first :math:`-1`); ``z`` (N, K, C) is
    :math:`z_{nki} = 1 - x_{n j_k} + x_{ni}`; ``counted`` (N, K, C) is :math:`[k \text{ listed}]\,[i \notin J_n]\,
    [z_{nki} > 0]`, the strict hinge of torch's kernel (a NaN :math:`z` counts 0).
    """
    x = torch.atleast_2d(input).to(torch.promote_types(input.dtype, torch.float32))
    target = target.reshape(x.shape)
    listed = (target >= 0).cumprod(1).bool()  # True up to the row's first -1
    longest = int(listed.sum(1).max()) if target.numel() else 0  # K
    labels, listed = target[:, :longest].clamp_min(0), listed[:, :longest]  # an unlisted -1 read as class 0
    classes = torch.arange(x.size(1), device=x.device)
    is_label = ((labels.unsqueeze(2) == classes) & listed.unsqueeze(2)).any(1)  # [i in J_n], (N, C)
    z = 1 - x.gather(1, labels).unsqueeze(2) + x.unsqueeze(1)  # (1 - x_{n j_k}) + x_{ni}, in torch's order
    counted = listed.unsqueeze(2) & ~is_label.unsqueeze(1) & (z > 0)
    return z, counted, labels


def multilabel_margin_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
) -> tuple[Tensor]:
    r"""Hand-derived gradient of :func:`multilabel_margin_loss` with respect to ``input``.

    With :math:`a_{nki} = [z_{nki} > 0]\,[i \notin J_n]` the counted pairs (:func:`_label_pairs`) and
    :math:`s_n = g_n / C` (:math:`g_n / N` for 'mean'):

    .. math::

        \frac{\partial \ell}{\partial x_{ni}} = s_n \Bigl( \sum_k a_{nki}
            - \sum_{k:\, j_k = i} \sum_{m} a_{nkm} \Bigr),

    since :math:`x_{ni}` enters :math:`z_{nki}` with a plus sign (a non-label is pushed down once per label it
    comes too close to) and :math:`x_{n j_k}` enters every :math:`z_{nkm}` with a minus sign (a label is pushed up
    once per counted pair, a duplicated label twice). 0 exactly at the hinge, as in torch. Returns
    ``(grad_input,)`` in ``input``'s shape and dtype.
    """
    z, counted, labels = _label_pairs(input, target)
    a = counted.to(z.dtype)
    s = _reduction.grad_scale(grad_output, reduction, z.size(0)).reshape(-1, 1) / z.size(2)  # g_n / C, (N, 1)
    down = a.sum(1)  # sum_k a_{nki}, (N, C)
    up = torch.zeros_like(down).scatter_add(1, labels, a.sum(2))  # sum_m a_{nkm} added to column j_k
    return (((down - up) * s).to(input.dtype).reshape(input.shape),)


class _MultiLabelMarginLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`multilabel_margin_loss`. Backward: :func:`multilabel_margin_loss_grad`
    (once differentiable, like torch's)."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, reduction: str) -> Tensor:
        z, counted, _ = _label_pairs(input, target)
        loss = torch.where(counted, z, 0).sum((1, 2)) / z.size(2)  # l_n = sum_k sum_{i not in J_n} [z > 0] z / C
        return _reduction.reduce_loss(loss.to(input.dtype).reshape(input.shape[:-1]), reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, reduction = inputs
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        (grad_input,) = multilabel_margin_loss_grad(grad_output, input, target, ctx.reduction)
        # torch's gradient is not differentiable again: neither is this one (refimpl/_autograd.py)
        return derivative_not_implemented("multilabel_margin_loss_backward", grad_input, input), None, None


class MultiLabelMarginLoss(Loss):
    """Drop-in for ``torch.nn.MultiLabelMarginLoss(size_average=None, reduce=None, reduction='mean')``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multilabel_margin_loss(input, target, reduction=self.reduction)
