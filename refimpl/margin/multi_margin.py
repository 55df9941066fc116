r"""Multi-class margin loss (the Weston-Watkins multiclass hinge, scaled by 1/C), as
``torch.nn.functional.multi_margin_loss`` computes it.

Chapter: ``book/margin/multi_margin.ipynb``.
"""

import numbers

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._autograd import derivative_not_implemented
from refimpl._module import WeightedLoss

FN = "multi_margin_loss"


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Multi-class hinge loss: every wrong class whose score comes within ``margin`` of the true class's
    score is penalised (Weston-Watkins), and the sum is divided by the number of classes :math:`C`.

    With scores :math:`x_n \in \mathbb{R}^C`, the true class :math:`y_n`, the class weights :math:`w`
    (all 1 when absent), :math:`p \in \{1, 2\}` and :math:`z_{ni} = \text{margin} - x_{n y_n} + x_{ni}`:

    .. math::

        l_n = \frac{1}{C} \sum_{i \ne y_n} w_{y_n}\, [z_{ni} > 0]\; z_{ni}^{\,p}

    The hinge is the strict :math:`[z > 0]` of torch's kernel: a NaN :math:`z` counts as 0 (not NaN), and
    the gradient is 0 exactly at the margin (:math:`z = 0`). The weight of the *true* class multiplies
    after the power. The division is by :math:`C`, not by the :math:`C - 1` terms of the sum. 'none' returns
    :math:`(l_n)_n` (shape :math:`(N)`, or :math:`()` for a 0-dim target), 'mean' is
    :math:`\frac1N \sum_n l_n`, 'sum' is :math:`\sum_n l_n`. An empty batch (:math:`N = 0`) gives NaN for
    'mean' and 0 for 'sum' (torch returns uninitialised memory there).

    Gradient (:math:`g_n` the upstream gradient, divided by :math:`N` for 'mean'), for :math:`i \ne y_n`:

    .. math::

        \frac{\partial \ell}{\partial x_{ni}} = \frac{g_n w_{y_n}}{C}\, p\, z_{ni}^{\,p-1} [z_{ni} > 0],
        \qquad
        \frac{\partial \ell}{\partial x_{n y_n}} = -\sum_{i \ne y_n} \frac{\partial \ell}{\partial x_{ni}}.

    ``weight`` is not differentiable (torch refuses a weight that requires grad), and there is no double
    backward (torch has none).

    Shapes: ``input`` :math:`(N, C)`, :math:`(C)` or :math:`()` (one sample of :math:`C = 1`); ``target``
    int64 :math:`(N)` (or :math:`()`/:math:`(1)` for one sample) with values in :math:`[0, C)`; ``weight``
    :math:`(C)` of ``input``'s dtype. float32 and float64 on the CPU (torch has no float16/bfloat16 CPU
    kernel); float16/bfloat16 on CUDA are computed in float32 and rounded.

    Args:
        input: scores :math:`x`, floating point.
        target: class indices :math:`y`, int64.
        p: 1 (hinge) or 2 (squared hinge).
        margin: the margin (any real number; a 0-dim tensor is accepted too).
        weight: optional per-class weights :math:`w` (the module's buffer), not differentiable.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction``; ``p`` not 1 or 2; ``weight`` not 1-D.
        TypeError: ``input``/``target`` not tensors; ``margin`` not a number.
        RuntimeError: bad input or target shape; weight of the wrong size or dtype or requiring grad;
            non-int64 target; a target outside :math:`[0, C)`.
        NotImplementedError: integer, bool or complex input, and float16/bfloat16 on the CPU.
    """
    reduction, margin = _validate_multi_margin_loss(input, target, p, margin, weight, size_average, reduce, reduction)
    return _MultiMarginLossFunction.apply(input, target, p, margin, weight, reduction)


def _validate_multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int,
    margin: float,
    weight: Tensor | None,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> tuple[str, float]:
    """torch's checks in torch's order, with its exception types; returns the reduction and the margin."""
    reduction = _reduction.resolve(FN, reduction, size_average, reduce)
    if p != 1 and p != 2:
        raise ValueError(f"{FN}(): only p == 1 and p == 2 supported (argument p={p!r})")
    if weight is not None:
        _checks.check_tensor(FN, "weight", weight)
        if weight.dim() != 1:
            raise ValueError(
                f"{FN}(): weight must be one-dimensional (argument weight has shape {tuple(weight.shape)}; "
                "expected one weight per class, shape (C,))"
            )
        if weight.requires_grad:
            raise RuntimeError(
                f"The function '{FN}' is not differentiable with respect to argument 'weight'. This input cannot "
                "have requires_grad True. (pass weight.detach())"
            )
    _checks.check_tensor_argument(FN, "input", input, position=1)
    _checks.check_tensor_argument(FN, "target", target, position=2)
    _checks.check_same_device(FN, input=input, target=target, weight=weight)
    if isinstance(margin, Tensor) and margin.numel() == 1:
        margin = margin.item()
    if isinstance(margin, bool) or not isinstance(margin, numbers.Number):
        raise TypeError(f"{FN}(): argument 'margin' (position 4) must be Number, not {type(margin).__name__}")
    check_class_scores(FN, input)
    n_frames = 1 if input.dim() <= 1 else input.size(0)
    n_classes = 1 if input.dim() == 0 else input.size(-1)
    if target.dim() > 1 or target.numel() != n_frames:
        raise RuntimeError(
            f"{FN}: target tensor should be 1-D with size equal to the number of input samples (batch size). "
            f"Expected target size [{n_frames}], but got {list(target.shape)}. Input has shape {list(input.shape)}. "
            "(argument target: one class index per sample)"
        )
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(
            f"{FN}(): inconsistent weight size, expected {n_classes} but got {list(weight.shape)} "
            "(argument weight: one weight per class)"
        )
    check_kernel_dtype(FN, "multi_margin_loss_cpu_kernel", input)
    check_long_target(FN, target)
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(
            f"{FN}(): expected scalar type {_checks.dtype_name(input.dtype)} but found "
            f"{_checks.dtype_name(weight.dtype)} (argument weight must have input's dtype {input.dtype})"
        )
    target = _checks.plain(target)  # the values, also under torch.func.vmap
    if target.numel() and bool(((target < 0) | (target >= n_classes)).any()):
        raise RuntimeError(
            f"{FN}(): target out of range (argument target must hold class indices in [0, {n_classes}); "
            f"got values from {int(target.min())} to {int(target.max())})"
        )
    return reduction, float(margin)


def check_class_scores(fn: str, input: Tensor) -> None:
    """torch's shape rule of the two multi-class margin kernels: a 0-dim input, a non-empty vector, or a matrix
    with at least one class (the batch may be empty)."""
    ok = input.dim() == 0 or (input.dim() == 1 and input.size(0) > 0) or (input.dim() == 2 and input.size(1) > 0)
    if not ok:
        raise RuntimeError(
            f"{fn}(): Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(input.shape)} (argument input: scores of shape (C) or (N, C))"
        )


def check_kernel_dtype(fn: str, kernel: str, input: Tensor) -> None:
    """float32/float64 everywhere, float16/bfloat16 on CUDA only: torch's CPU kernels raise
    NotImplementedError for half precision, integers, bool and complex."""
    dtype = input.dtype
    half_ok = input.device.type != "cpu" and dtype in (torch.float16, torch.bfloat16)
    if dtype not in (torch.float32, torch.float64) and not half_ok:
        raise NotImplementedError(
            f"{fn}(): \"{kernel}\" not implemented for '{_checks.dtype_name(dtype)}' (argument input has dtype "
            f"{dtype}; expected float32 or float64{'' if input.device.type != 'cpu' else ' on the CPU'})"
        )


def check_long_target(fn: str, target: Tensor) -> None:
    """The class-index target must be int64 (torch: "expected scalar type Long")."""
    if target.dtype != torch.int64:
        raise RuntimeError(
            f"{fn}(): expected scalar type Long but found {_checks.dtype_name(target.dtype)} "
            f"(argument target has dtype {target.dtype}; pass class indices as int64, target.long())"
        )


def _hinge(input: Tensor, target: Tensor, margin: float) -> Tensor:
    r""":math:`[z_{ni} > 0]\, z_{ni}` with :math:`z_{ni} = \text{margin} - x_{n y_n} + x_{ni}`, shape (N, C), 0 in
    the true class's column (it is not a term of the sum).

    ``input`` (N, C), (C) or () is viewed as (N, C) rows and computed in at least float32, as torch's kernels
    accumulate half precision. ``torch.where(z > 0, z, 0)`` is the strict hinge of torch's kernel: a NaN ``z``
    gives 0, where ``clamp_min`` would keep the NaN.
    """
    x = torch.atleast_2d(input).to(torch.promote_types(input.dtype, torch.float32))
    y = target.reshape(-1, 1)  # y_n as a column, (N, 1)
    z = margin - x.gather(1, y) + x  # (margin - x_{n y_n}) + x_{ni}, in torch's order
    return torch.where(z > 0, z, 0).scatter(1, y, 0)


def multi_margin_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> tuple[Tensor]:
    r"""Hand-derived gradient of :func:`multi_margin_loss` with respect to ``input``.

    With :math:`h_{ni} = [z_{ni} > 0]\, z_{ni}` (0 in the true column, :func:`_hinge`) and
    :math:`s_n = g_n w_{y_n} / C` (:math:`g_n / N` for 'mean'):

    .. math::

        \frac{\partial \ell}{\partial x_{ni}} = s_n\, \frac{d h_{ni}^p}{d z_{ni}}
            = s_n \begin{cases} [z_{ni} > 0] & p = 1 \\ 2 h_{ni} & p = 2 \end{cases} \quad (i \ne y_n), \qquad
        \frac{\partial \ell}{\partial x_{n y_n}} = -\sum_{i \ne y_n} \frac{\partial \ell}{\partial x_{ni}},

    since :math:`x_{n y_n}` enters every :math:`z_{ni}` with a minus sign. At :math:`z = 0` (exactly at the margin)
    the gradient is 0, as in torch (strict inequality). Returns ``(grad_input,)`` in ``input``'s shape and dtype.
    """
    hinge = _hinge(input, target, margin)
    n_frames, n_classes = hinge.shape
    y = target.reshape(-1, 1)
    s = _reduction.grad_scale(grad_output, reduction, n_frames).reshape(-1, 1) / n_classes  # g_n / C, (N, 1)
    w = 1 if weight is None else weight[y]  # w_{y_n}, (N, 1)
    dz = (hinge > 0).to(hinge.dtype) if p == 1 else 2 * hinge  # d h^p / dz on the wrong classes
    grad = dz * w * s
    grad = grad.scatter(1, y, -grad.sum(1, keepdim=True))  # the true class: minus the sum of the others
    return (grad.to(input.dtype).reshape(input.shape),)


class _MultiMarginLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`multi_margin_loss`. Backward: :func:`multi_margin_loss_grad` (once
    differentiable, like torch's)."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, p: int, margin: float, weight: Tensor | None, reduction: str) -> Tensor:
        hinge = _hinge(input, target, margin)  # [z > 0] z, (N, C)
        w = 1 if weight is None else weight[target.reshape(-1, 1)]  # w_{y_n}, (N, 1)
        loss = (w * hinge**p).sum(1) / hinge.size(1)  # l_n = sum_{i != y_n} w_{y_n} h_{ni}^p / C
        return _reduction.reduce_loss(loss.to(input.dtype).reshape(target.shape), reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, p, margin, weight, reduction = inputs
        ctx.save_for_backward(input, target, weight)
        ctx.p, ctx.margin, ctx.reduction = p, margin, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        (grad_input,) = multi_margin_loss_grad(grad_output, input, target, ctx.p, ctx.margin, weight, ctx.reduction)
        # torch's gradient is not differentiable again: neither is this one (refimpl/_autograd.py)
        return derivative_not_implemented("multi_margin_loss_backward", grad_input, input), None, None, None, None, None


class MultiMarginLoss(WeightedLoss):
    """Drop-in for ``torch.nn.MultiMarginLoss(p=1, margin=1.0, weight=None, size_average=None, reduce=None,
    reduction='mean')``; ``weight`` is a buffer."""

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p != 1 and p != 2:
            raise ValueError(f"only p == 1 and p == 2 supported (argument p={p!r} of MultiMarginLoss)")
        if weight is not None and weight.dim() != 1:
            raise ValueError(
                f"MultiMarginLoss: expected weight to be None or 1D tensor, got {weight.dim()}D instead "
                "(argument weight)"
            )
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multi_margin_loss(
            input, target, p=self.p, margin=self.margin, weight=self.weight, reduction=self.reduction
        )
