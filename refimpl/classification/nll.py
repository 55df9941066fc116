r"""Negative log-likelihood loss, as ``torch.nn.functional.nll_loss`` computes it.

Also the pieces ``cross_entropy`` shares with it: the validation of class-index targets (torch's checks,
in torch's order), the target mask for ``ignore_index``, the class-weighted reduction and the coefficients
of its gradient.

Chapter: ``book/classification/nll.ipynb``.
"""

import operator

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import WeightedLoss


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Negative log-likelihood of class indices: minus the input entry at each target class, weighted.

    ``input`` holds log-probabilities :math:`x_{n,c}` (this function does not apply ``log_softmax`` and
    does not check that it was applied) and ``target`` class indices :math:`y_n`. With class weights
    :math:`w_c` (all 1 without ``weight``) and the indicator :math:`k_n = [y_n \ne \text{ignore\_index}]`:

    .. math::

        l_n = -\,w_{y_n}\, x_{n, y_n}\, k_n \quad(\text{'none'; 0 at ignored targets}), \qquad
        \sum_n l_n \quad(\text{'sum'}), \qquad
        \frac{\sum_n l_n}{\sum_n w_{y_n} k_n} \quad(\text{'mean'}).

    'mean' is a **weighted** mean: it divides by the total weight of the kept targets, not by :math:`N`
    (without ``weight``: by the number of kept targets). Hidden edge values, as in torch: all targets
    ignored gives 'mean' = 0/0 = NaN with an all-zero gradient; kept targets whose weights are all 0 give
    NaN and a NaN gradient; an empty batch gives 'mean' NaN and 'sum' 0. The total weight is held in the
    input's dtype, so a float16 'mean' over more than 65504 kept targets divides by inf (0, or NaN when the
    sum overflows too), and bfloat16 rounds the count (257 targets divide by 256).

    Gradient: :math:`\partial L / \partial x_{n,c} = -g\, w_{y_n} k_n\, [c = y_n]` times the reduction's
    factor (:math:`g_n` for 'none', :math:`g` for 'sum', :math:`g / \sum_n w_{y_n} k_n` for 'mean');
    zero for every other class. ``target`` and ``weight`` get no gradient (torch raises if ``weight``
    requires one).

    Shapes: ``input`` :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, \dots, d_K)`; ``target``
    :math:`()` (or :math:`(1,)`), :math:`(N)` or :math:`(N, d_1, \dots, d_K)` with values in
    :math:`[0, C)` or ``ignore_index``; ``weight`` :math:`(C)`, the input's dtype. 'none' returns the
    target's shape (a 0-dim tensor for a 1-D input), 'mean' and 'sum' a 0-dim tensor.

    Args:
        input: log-probabilities, floating point, classes along dim 1 (dim 0 when 1-D).
        target: class indices, int64 or uint8 (uint8 only for 1-D and 2-D inputs, as in torch).
        weight: optional per-class weights (not differentiable).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        ignore_index: a target value that contributes neither loss nor weight.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction``; 0-dim input; batch sizes differ; a 1-D input with a 1-D
            target of size other than 1.
        RuntimeError: target of the wrong rank, spatial size or dtype; weight of the wrong size or
            dtype, or requiring grad.
        IndexError: a kept target outside :math:`[0, C)`.
        NotImplementedError: integer, bool or complex input.
        TypeError: a non-tensor input, target or weight; a non-integer ``ignore_index``.
    """
    reduction, ignore_index = _validate_nll_loss(input, target, weight, size_average, ignore_index, reduce, reduction)
    return _NLLLossFunction.apply(input, target, weight, ignore_index, reduction)


def _validate_nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    size_average: bool | None,
    ignore_index: int,
    reduce: bool | None,
    reduction: str,
) -> tuple[str, int]:
    """torch's checks of :func:`nll_loss`, in torch's order; returns the resolved reduction and ``ignore_index``."""
    reduction = _reduction.resolve("nll_loss", reduction, size_average, reduce)
    ignore_index = check_arguments("nll_loss", "nll_loss_nd", input, target, weight, ignore_index)
    _checks.check_same_device("nll_loss", input=input, target=target, weight=weight)
    classes = check_class_targets("nll_loss", input, target, weight)
    safe_target, _ = class_target_mask(target, ignore_index)
    check_target_range("nll_loss", safe_target, classes, ignore_index)
    return reduction, ignore_index


def nll_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    r"""Hand-derived gradient of :func:`nll_loss` with respect to ``input`` (the only differentiable input).

    .. math::

        \frac{\partial L}{\partial x_{n,c}} = -\,\sigma_n\, w_{y_n} k_n\, [c = y_n], \qquad
        \sigma_n = \begin{cases} g_n & \text{'none'} \\ g & \text{'sum'} \\
        g \,/\, \sum_m w_{y_m} k_m & \text{'mean'} \end{cases}

    A single nonzero entry per position, at the target class; rows of ignored targets are 0 even when
    the 'mean' divides by a total weight of 0 (torch skips them). The loss is linear in ``input``, so its
    values do not appear: ``input`` only supplies the shape and dtype.
    """
    x, target = batched(input, target)
    safe_target, keep = class_target_mask(target, ignore_index)
    coefficient = target_coefficients(grad_output, safe_target, keep, flat_weight(weight), reduction, x.dtype)
    # -sigma_n w_{y_n} k_n placed at c = y_n, an exact 0 elsewhere (not a product with a one-hot: 0 * inf is NaN)
    grad = torch.zeros_like(x).scatter(1, safe_target.unsqueeze(1), -coefficient.unsqueeze(1))
    return grad.reshape(input.shape)


class _NLLLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`nll_loss`. Backward: :func:`nll_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str) -> Tensor:
        x, target = batched(input, target)  # an unbatched (C) input is a batch of one
        safe_target, keep = class_target_mask(target, ignore_index)  # y_n (class 0 where ignored) and k_n
        picked = x.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # x_{n, y_n}
        # l_n = -w_{y_n} x_{n, y_n} k_n, then 'none', 'sum' or the weighted 'mean'
        loss = reduce_class_losses(-picked, safe_target, keep, flat_weight(weight), reduction)
        return loss.reshape(()) if input.dim() == 1 else loss

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, weight, ignore_index, reduction = inputs
        ctx.save_for_backward(input, target, weight)
        ctx.ignore_index, ctx.reduction = ignore_index, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        grad_input = nll_loss_grad(grad_output, input, target, weight, ctx.ignore_index, ctx.reduction)
        return grad_input, None, None, None, None


class NLLLoss(WeightedLoss):
    """Drop-in for ``torch.nn.NLLLoss``:
    ``NLLLoss(weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean')``."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


# ----------------------------------------------------------------------------------------------------
# Shared with cross_entropy: argument checks, the ignore mask, the weighted reduction.


def check_arguments(fn_name: str, op: str, input: object, target: object, weight: object, ignore_index: object) -> int:
    """The argument parser's ``TypeError``\\s (torch checks types before anything else); returns
    ``ignore_index`` as an ``int`` (torch accepts integer-like values such as a 0-dim integer tensor)."""
    _checks.check_tensor_argument(fn_name, "input", input, position=1)
    _checks.check_tensor_argument(fn_name, "target", target, position=2)
    if weight is not None:
        _checks.check_tensor_argument(fn_name, "weight", weight, position=3)
    try:
        if isinstance(ignore_index, bool):
            raise TypeError
        return operator.index(ignore_index)
    except TypeError:
        raise TypeError(
            f"{fn_name}(): argument 'ignore_index' (position 5) must be int, not {type(ignore_index).__name__} "
            f"(torch's {op} takes an integer class index)"
        ) from None


def check_class_targets(
    fn_name: str, input: Tensor, target: Tensor, weight: Tensor | None, checked_input: bool = False
) -> int:
    """torch's checks of ``nll_loss_nd``, ``nll_loss`` and ``nll_loss2d``, in torch's order.

    The order matters only for a call with several mistakes, which then fails on the same one in both
    libraries: ranks and batch size, ``weight.requires_grad``, target rank, target dtype, sizes, weight
    size, input dtype (skipped when ``checked_input``: cross_entropy has checked it), weight dtype, and
    (for K-dimensional inputs) a uint8 target. Class ranges are checked by :func:`check_target_range`.
    Returns the number of classes :math:`C`.
    """
    ndim = input.dim()
    if ndim < 1:
        raise ValueError(
            f"{fn_name}(): Expected 1 or more dimensions (got 0) (argument input is 0-dim; expected "
            "(C), (N, C) or (N, C, d1, ..., dK))"
        )
    target_batch = target.shape[0] if target.dim() > 0 else 0  # torch reads a 0-dim target's batch as 0
    if ndim != 1 and input.shape[0] != target_batch:
        raise ValueError(
            f"{fn_name}(): Expected input batch_size ({input.shape[0]}) to match target batch_size ({target_batch}). "
            f"(argument input has shape {tuple(input.shape)}, target has shape {tuple(target.shape)})"
        )
    if ndim == 3 or ndim > 4:
        expected = [input.shape[0], *input.shape[2:]]
        if list(target.shape) != expected:
            raise RuntimeError(
                f"{fn_name}(): Expected target size {expected}, got {list(target.shape)} (argument target must "
                f"have the input's shape {tuple(input.shape)} without the class dimension 1)"
            )
    if weight is not None and weight.requires_grad:
        raise RuntimeError(
            f"{fn_name}(): The function 'nll_loss_forward' is not differentiable with respect to argument 'weight'. "
            "This input cannot have requires_grad True. (argument weight: pass weight.detach(); class weights "
            "of class-index targets get no gradient in torch)"
        )
    if ndim <= 2:
        if target.dim() > 1:
            raise RuntimeError(
                f"{fn_name}(): 0D or 1D target tensor expected, multi-target not supported (argument target has "
                f"shape {tuple(target.shape)}; input of shape {tuple(input.shape)} needs class indices of shape "
                f"{'()' if ndim == 1 else (input.shape[0],)})"
            )
    elif ndim == 4 and target.dim() != 3:
        raise RuntimeError(
            f"{fn_name}(): only batches of spatial targets supported (3D tensors) but got targets of dimension: "
            f"{target.dim()} (argument target has shape {tuple(target.shape)}, input {tuple(input.shape)})"
        )
    if target.dtype not in (torch.int64, torch.uint8):
        raise RuntimeError(
            f"{fn_name}(): expected target dtype to be Long or Byte, but got {_checks.dtype_name(target.dtype)} "
            f"(argument target holds class indices: convert it with .long())"
        )
    classes = input.shape[1] if ndim > 1 else input.shape[0]
    if ndim == 1 and target.dim() == 1 and target.shape[0] != 1:
        raise ValueError(
            f"{fn_name}(): For 1D input, 1D target must have size 1, but got target size: {target.shape[0]} "
            "(argument target: one class index for an unbatched input)"
        )
    if ndim <= 2:
        if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
            raise RuntimeError(
                f"{fn_name}(): weight tensor should be defined either for all {classes} classes or no classes but "
                f"got weight tensor of shape: {list(weight.shape)} (argument weight: expected shape ({classes},))"
            )
    else:
        if weight is not None and weight.numel() != classes:
            raise RuntimeError(
                f"{fn_name}(): weight tensor should be defined either for all or no classes (argument weight has "
                f"{weight.numel()} elements; expected {classes}, one per class)"
            )
        if ndim == 4 and target.shape[1:] != input.shape[2:]:
            raise RuntimeError(
                f"{fn_name}(): size mismatch (got input: {list(input.shape)} , target: {list(target.shape)} "
                f"(argument target must have shape {(input.shape[0], *input.shape[2:])})"
            )
    if not checked_input:
        kernel = "nll_loss_out_frame" if ndim <= 2 else "nll_loss2d_forward_out_frame"
        _checks.check_floating(fn_name, kernel, input.dtype, what="the input's log-probabilities")
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(
            f"{fn_name}(): expected scalar type {_checks.dtype_name(input.dtype)} but found "
            f"{_checks.dtype_name(weight.dtype)} (argument weight must have the input's dtype {input.dtype})"
        )
    if ndim > 2 and target.dtype == torch.uint8:
        raise RuntimeError(
            f"{fn_name}(): expected scalar type Long but found Byte (argument target: uint8 class indices are "
            "accepted only for 1-D and 2-D inputs; use int64)"
        )
    return classes


def class_target_mask(target: Tensor, ignore_index: int) -> tuple[Tensor, Tensor]:
    """``(safe_target, keep)``: the int64 targets with ignored positions replaced by class 0 (so that every
    index is valid for ``gather``), and the boolean mask :math:`k_n` of the kept positions."""
    target = target.long()  # uint8 targets compare with ignore_index as integers, as in torch's kernel
    keep = target != ignore_index
    return torch.where(keep, target, 0), keep


def check_target_range(fn_name: str, safe_target: Tensor, classes: int, ignore_index: int) -> None:
    """torch's ``IndexError`` for a kept target outside :math:`[0, C)` (ignored ones are 0 in ``safe_target``)."""
    if safe_target.numel() == 0:
        return
    safe_target = _checks.plain(safe_target)  # the values, also under torch.func.vmap
    low, high = (int(bound) for bound in torch.aminmax(safe_target))
    if low < 0 or high >= classes:
        flat = safe_target.flatten()
        bad = int(flat[(flat < 0) | (flat >= classes)][0])
        raise IndexError(
            f"{fn_name}(): Target {bad} is out of bounds. (argument target must hold class indices in "
            f"[0, {classes}) or ignore_index={ignore_index})"
        )


def batched(input: Tensor, *per_position: Tensor) -> tuple[Tensor, ...]:
    """An unbatched ``(C)`` input as ``(1, C)`` and its per-position tensors as ``(1,)``; others unchanged."""
    if input.dim() == 1:
        return input.unsqueeze(0), *(t.reshape(1) for t in per_position)
    return input, *per_position


def flat_weight(weight: Tensor | None) -> Tensor | None:
    """The class weights as a 1-D tensor (torch's K-dimensional kernel accepts any shape with C elements)."""
    return None if weight is None else weight.reshape(-1)


def total_weight(target: Tensor, keep: Tensor, weight: Tensor | None, dtype: torch.dtype) -> Tensor:
    r""":math:`\sum_n w_{y_n} k_n`, the denominator of the weighted 'mean', in the input's dtype like torch's
    ``total_weight`` (so float16 counts above 65504 become inf, bfloat16 counts are rounded)."""
    if weight is None:
        return keep.sum().to(dtype)  # the exact count, then rounded to dtype (a float16 sum would overflow early)
    return torch.where(keep, weight[target], 0).sum()


def reduce_class_losses(loss: Tensor, target: Tensor, keep: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
    r"""Weight the per-position losses :math:`-\log p_{n, y_n}` by :math:`w_{y_n}`, set ignored positions
    to 0 and reduce: 'sum', 'none', or the weighted 'mean' :math:`\sum_n l_n / \sum_n w_{y_n} k_n`."""
    if weight is not None:
        loss = loss * weight[target]
    loss = torch.where(keep, loss, 0)  # torch writes 0 at ignored positions (even over a NaN or inf logit)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / total_weight(target, keep, weight, loss.dtype)


def position_scale(
    grad_output: Tensor, target: Tensor, keep: Tensor, weight: Tensor | None, reduction: str, dtype: torch.dtype
) -> Tensor:
    r"""The reduction's factor :math:`\sigma_n k_n` of every position: :math:`g_n` ('none'), :math:`g` ('sum')
    or :math:`g / \sum_m w_{y_m} k_m` ('mean'), and an exact 0 at ignored positions, also when the 'mean'
    divides by a total weight of 0 (torch skips them)."""
    if reduction == "none":
        scale = grad_output.reshape(keep.shape)
    elif reduction == "sum":
        scale = grad_output.expand(keep.shape)
    else:
        scale = (grad_output / total_weight(target, keep, weight, dtype)).expand(keep.shape)
    return torch.where(keep, scale, 0)


def target_coefficients(
    grad_output: Tensor, target: Tensor, keep: Tensor, weight: Tensor | None, reduction: str, dtype: torch.dtype
) -> Tensor:
    r"""The factor :math:`c_n = \sigma_n w_{y_n} k_n` that the target class of every position carries,
    computed in torch's order (the upstream gradient divided by the total weight, then times the weight)."""
    scale = position_scale(grad_output, target, keep, weight, reduction, dtype)
    return scale if weight is None else weight[target] * scale
