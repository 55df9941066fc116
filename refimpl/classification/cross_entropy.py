r"""Cross-entropy loss on logits, as ``torch.nn.functional.cross_entropy`` computes it.

The log-softmax comes from the log-sum-exp (``refimpl.classification._log_softmax``), never from torch's
softmax; class-index targets share their validation, ignore mask and weighted mean with
``refimpl.classification.nll``.

Chapter: ``book/classification/cross_entropy.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import WeightedLoss
from refimpl.classification._log_softmax import accumulate_dtype, log_softmax, softmax
from refimpl.classification.nll import (
    batched,
    check_arguments,
    check_class_targets,
    check_target_range,
    class_target_mask,
    flat_weight,
    position_scale,
    reduce_class_losses,
    target_coefficients,
    total_weight,
)


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
    r"""Cross entropy between the softmax of logits :math:`z` and class indices or class probabilities.

    With :math:`\log p_{n,c} = z_{n,c} - \log\sum_{c'} e^{z_{n,c'}}` along the class dimension (dim 1, or
    dim 0 for a 1-D input), class weights :math:`w_c` (all 1 without ``weight``),
    :math:`\varepsilon` = ``label_smoothing`` and :math:`k_n = [y_n \ne \text{ignore\_index}]`.

    **Class-index targets** (``target`` shape differs from ``input``'s), :math:`\varepsilon = 0`: exactly
    ``nll_loss(log_softmax(z), y, weight, ignore_index)``,

    .. math::

        l_n = -\,w_{y_n} \log p_{n, y_n}\, k_n, \qquad
        \text{'sum'}: \sum_n l_n, \qquad
        \text{'mean'}: \frac{\sum_n l_n}{\sum_n w_{y_n} k_n}.

    With :math:`0 < \varepsilon \le 1` the target is mixed with the uniform distribution, but the
    smoothing term is class-weighted and shares the NLL's denominator:

    .. math::

        L = (1 - \varepsilon)\, L_{\text{NLL}} + \frac{\varepsilon}{C}\, R, \qquad
        s_n = -\,k_n \sum_c w_c \log p_{n,c}, \qquad
        R = s \ (\text{'none'}), \ \sum_n s_n \ (\text{'sum'}), \
        \frac{\sum_n s_n}{\sum_n w_{y_n} k_n} \ (\text{'mean'}).

    **Class-probability targets** (``target`` of the input's shape, floating point), with
    :math:`q = (1 - \varepsilon) y + \varepsilon / C`:

    .. math::

        l_n = -\sum_c w_c\, q_{n,c} \log p_{n,c}, \qquad
        \text{'sum'}: \sum_n l_n, \qquad
        \text{'mean'}: \frac{\sum_n l_n}{N d_1 \cdots d_K},

    a mean over positions **whatever the weights** (so a one-hot float target with ``weight`` differs
    from the index target with the same ``weight``); ``ignore_index`` must be negative; the target is not
    checked to be a distribution; the result dtype promotes input, target and weight.

    Hidden edges, as in torch: :math:`\varepsilon < 0` (or NaN) is silently 0, :math:`\varepsilon > 1`
    raises; all targets ignored gives 'mean' NaN with an all-zero gradient; kept targets of total weight 0
    give NaN (or :math:`\pm\infty`) and a NaN gradient; an empty batch gives 'mean' NaN and 'sum' 0 (-0.0
    for probability targets); a :math:`+\infty` or NaN logit makes its row NaN. float16 and bfloat16 logits
    go through the log-softmax in float32 and are rounded once, as torch's CPU kernel does, and the
    total weight is held in the input's dtype (see :func:`refimpl.classification.nll.nll_loss`).

    Gradient (hand-derived in :func:`cross_entropy_grad`): for index targets
    :math:`\partial l_n / \partial z_{n,c} = w_{y_n} k_n\, (p_{n,c} - [c = y_n])`, with smoothing
    :math:`(1-\varepsilon)\, w_{y_n} k_n (p_{n,c} - [c = y_n]) + \tfrac{\varepsilon}{C} k_n
    (p_{n,c} \sum_{c'} w_{c'} - w_c)`, and for probability targets
    :math:`p_{n,c} \sum_{c'} w_{c'} q_{n,c'} - w_c q_{n,c}`, times the reduction's factor. Probability
    targets (and then ``weight``) are differentiable; class weights of index targets are not (torch raises).

    Shapes: ``input`` :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, \dots, d_K)`; ``target`` of class
    indices :math:`()` (or :math:`(1,)`), :math:`(N)` or :math:`(N, d_1, \dots, d_K)`, int64 (or uint8 for
    1-D and 2-D inputs), or of probabilities with the input's shape; ``weight`` :math:`(C)`. 'none'
    returns the per-position shape (0-dim for a 1-D input).

    Args:
        input: logits :math:`z`, floating point, unnormalised.
        target: class indices or class probabilities (decided by ``target.shape == input.shape``).
        weight: optional per-class weights; the input's dtype for index targets.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        ignore_index: a class-index target value that contributes neither loss nor weight.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`, the weight of the uniform distribution.

    Raises:
        ValueError: invalid ``reduction``; batch sizes differ (see ``nll_loss`` for the index checks).
        RuntimeError: label_smoothing > 1; an integer probability target; ignore_index >= 0 with probability
            targets; wrong target rank, size or dtype; wrong weight size or dtype, or weight requiring grad
            with index targets.
        IndexError: a kept target outside :math:`[0, C)`; a 0-dim input.
        NotImplementedError: integer, bool or complex input.
        TypeError: a non-tensor argument; a non-integer ``ignore_index``; a non-number ``label_smoothing``.
    """
    reduction, ignore_index, smoothing = _validate_cross_entropy(
        input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing
    )
    return _CrossEntropyLossFunction.apply(input, target, weight, ignore_index, reduction, smoothing)


def _validate_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    size_average: bool | None,
    ignore_index: int,
    reduce: bool | None,
    reduction: str,
    label_smoothing: float,
) -> tuple[str, int, float]:
    """torch's checks of :func:`cross_entropy`, in torch's order, for the mode that ``target``'s shape selects.
    Returns the resolved reduction, ``ignore_index`` and the smoothing :math:`\varepsilon` (0 unless > 0)."""
    reduction = _reduction.resolve("cross_entropy", reduction, size_average, reduce)
    ignore_index = check_arguments("cross_entropy", "cross_entropy_loss", input, target, weight, ignore_index)
    _checks.check_same_device("cross_entropy", input=input, target=target, weight=weight)
    if isinstance(label_smoothing, bool):
        label_smoothing = float(label_smoothing)  # torch's parser takes a bool as a number here
    label_smoothing = _checks.check_number("cross_entropy", "label_smoothing", label_smoothing, position=6)
    # torch smooths only when label_smoothing > 0: a negative value or NaN silently means no smoothing
    smoothing = label_smoothing if label_smoothing > 0 else 0.0
    if input.shape == target.shape:  # torch's only test for class probabilities
        check_probability_target(input, target, weight, ignore_index, smoothing)
        return reduction, ignore_index, smoothing
    check_smoothing_range(smoothing)
    check_logits(input)
    classes = check_class_targets("cross_entropy", input, target, weight, checked_input=True)
    safe_target, _ = class_target_mask(target, ignore_index)
    check_target_range("cross_entropy", safe_target, classes, ignore_index)
    if smoothing > 0:
        check_smoothing_quirks(input, target, weight, reduction)
    return reduction, ignore_index, smoothing


def cross_entropy_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    wrt: tuple[str, ...] = ("input", "target", "weight"),
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    r"""Hand-derived gradient of :func:`cross_entropy`: ``(grad_input, grad_target, grad_weight)``.

    Every form of the loss is :math:`-\sum_c a_{n,c} \log p_{n,c}` with coefficients :math:`a` that do not
    depend on the logits, and :math:`\partial \log p_{n,c'} / \partial z_{n,c} = [c = c'] - p_{n,c}` gives

    .. math::

        \frac{\partial L}{\partial z_{n,c}} = p_{n,c} \sum_{c'} a_{n,c'} - a_{n,c}.

    Index targets have :math:`a_{n,c} = \sigma_n k_n \big((1 - \varepsilon)\, w_{y_n} [c = y_n]
    + \tfrac{\varepsilon}{C} w_c\big)`, so without smoothing the gradient is
    :math:`\sigma_n w_{y_n} k_n (p_{n,c} - [c = y_n])`, "softmax minus one-hot", scaled by the reduction's
    :math:`\sigma_n` (:math:`g_n`, :math:`g`, or :math:`g / \sum_m w_{y_m} k_m`). Probability targets have
    :math:`a_{n,c} = \sigma_n w_c q_{n,c}` with :math:`\sigma_n` = :math:`g_n`, :math:`g` or
    :math:`g / (N d_1 \cdots d_K)`, and also

    .. math::

        \frac{\partial L}{\partial y_{n,c}} = -(1 - \varepsilon)\, \sigma_n\, w_c \log p_{n,c}, \qquad
        \frac{\partial L}{\partial w_c} = -\sum_n \sigma_n\, q_{n,c} \log p_{n,c}.

    ``p`` and ``log p`` are recomputed from ``input`` (in float32 for half precision), with differentiable
    operations, so the gradient has a gradient. ``grad_target`` and ``grad_weight`` are ``None`` for index
    targets (not differentiable), and so is any gradient not named in ``wrt``.
    """
    smoothing = label_smoothing if label_smoothing > 0 else 0.0
    if input.shape == target.shape:
        return _probability_target_grad(grad_output, input, target, weight, reduction, smoothing, wrt)
    z, target = batched(input, target)  # an unbatched (C) input is a batch of one
    classes = z.shape[1]
    p = softmax(z.to(accumulate_dtype(z.dtype)), 1)  # float32 for half precision
    safe_target, keep = class_target_mask(target, ignore_index)
    w = flat_weight(weight)
    # a_{n,c} = sigma_n k_n ((1 - eps) w_{y_n} [c = y_n] + (eps / C) w_c), the coefficient of -log p_{n,c}, has a
    # part at the target class and a uniform part; each contributes p sum_c a - a
    coefficient = target_coefficients(grad_output, safe_target, keep, w, reduction, z.dtype)  # sigma_n w_{y_n} k_n
    at_target = (1 - smoothing) * coefficient.to(p.dtype).unsqueeze(1)
    grad = (p * at_target).scatter_add(1, safe_target.unsqueeze(1), -at_target)  # softmax minus one-hot, scaled
    if smoothing > 0:
        sigma = position_scale(grad_output, safe_target, keep, w, reduction, z.dtype).to(p.dtype)  # sigma_n k_n
        w_c = torch.ones(classes, dtype=p.dtype, device=p.device) if w is None else w.to(p.dtype)
        uniform = (smoothing / classes) * sigma.unsqueeze(1) * class_view(w_c, z.dim())  # (eps / C) sigma_n k_n w_c
        grad = grad + (p * uniform.sum(1, keepdim=True) - uniform)
    return grad.to(input.dtype).reshape(input.shape), None, None


def _probability_target_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    reduction: str,
    smoothing: float,
    wrt: tuple[str, ...],
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """The three gradients of :func:`cross_entropy` with class-probability targets (see its formulas)."""
    z, y = (input.unsqueeze(0), target.unsqueeze(0)) if input.dim() == 1 else (input, target)
    classes = z.shape[1]
    dtype = torch.promote_types(input.dtype, target.dtype)  # the loss's dtype: input, target and weight promoted
    if weight is not None:
        dtype = torch.promote_types(dtype, weight.dtype)
    q = smoothed(y, smoothing, classes).to(dtype)  # smoothed in the target's dtype, then promoted, as torch
    w = 1.0 if weight is None else class_view(weight, z.dim()).to(dtype)
    positions = z.shape[:1] + z.shape[2:]  # (N, d_1, ..., d_K)
    if reduction == "none":
        sigma = grad_output.reshape(positions).unsqueeze(1)  # g_n, broadcast over the classes
    else:
        sigma = grad_output / math.prod(positions) if reduction == "mean" else grad_output
    sigma = sigma.to(dtype)
    log_p = log_softmax(z.to(accumulate_dtype(z.dtype)), 1).to(input.dtype).to(dtype)  # as the forward's log p
    grad_input = grad_target = grad_weight = None
    if "input" in wrt:
        p = softmax(z.to(accumulate_dtype(z.dtype)), 1)  # float32 for half precision
        a = sigma * w * q  # the coefficient of -log p_{n,c}
        grad_input = (p * a.sum(1, keepdim=True) - a).to(input.dtype).reshape(input.shape)
    if "target" in wrt:
        grad_target = -(1 - smoothing) * sigma * w * log_p
        grad_target = grad_target.to(target.dtype).reshape(target.shape)
    if "weight" in wrt and weight is not None:
        dims = [d for d in range(z.dim()) if d != 1]
        grad_weight = -(sigma * q * log_p).sum(dims).to(weight.dtype).reshape(weight.shape)
    return grad_input, grad_target, grad_weight


class _CrossEntropyLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`cross_entropy`. Backward: :func:`cross_entropy_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(
        input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, reduction: str, smoothing: float
    ) -> Tensor:
        z = input.unsqueeze(0) if input.dim() == 1 else input  # an unbatched (C) input is a batch of one
        # log p = z - m - log(sum(exp(z - m))); half precision in float32, rounded once, as torch's CPU kernel
        log_p = log_softmax(z.to(accumulate_dtype(z.dtype)), 1).to(z.dtype)
        if input.shape == target.shape:  # class probabilities: -sum_c w_c q_{n,c} log p_{n,c}
            loss = probability_target_loss(log_p, target, weight, reduction, smoothing, input)
        else:
            y = target.reshape(1) if input.dim() == 1 else target
            safe_target, keep = class_target_mask(y, ignore_index)  # y_n (class 0 where ignored) and k_n
            w = flat_weight(weight)
            log_p_y = log_p.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # log p_{n, y_n}
            loss = reduce_class_losses(-log_p_y, safe_target, keep, w, reduction)  # the NLL of log p
            if smoothing > 0:  # (1 - eps) NLL + (eps / C) R
                uniform = smoothing_term(log_p, safe_target, keep, w, reduction, z.dtype)
                loss = (1 - smoothing) * loss + uniform * (smoothing / z.shape[1])
        return loss.reshape(()) if input.dim() == 1 else loss

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, weight, ignore_index, reduction, smoothing = inputs
        ctx.save_for_backward(input, target, weight)
        ctx.ignore_index, ctx.reduction, ctx.smoothing = ignore_index, reduction, smoothing

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        names = ("input", "target", "weight")
        wrt = tuple(name for name, needed in zip(names, ctx.needs_input_grad[:3], strict=True) if needed)
        grad_input, grad_target, grad_weight = cross_entropy_grad(
            grad_output, input, target, weight, ctx.ignore_index, ctx.reduction, ctx.smoothing, wrt=wrt
        )
        return grad_input, grad_target, grad_weight, None, None, None


class CrossEntropyLoss(WeightedLoss):
    """Drop-in for ``torch.nn.CrossEntropyLoss``: ``CrossEntropyLoss(weight=None, size_average=None,
    ignore_index=-100, reduce=None, reduction='mean', label_smoothing=0.0)``."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


# ----------------------------------------------------------------------------------------------------
# The pieces: smoothing and probability-target terms, validation.


def class_view(weight: Tensor, ndim: int) -> Tensor:
    """Per-class weights shaped ``(1, C, 1, ..., 1)`` to broadcast along the class dimension 1."""
    return weight.reshape(1, -1, *([1] * (ndim - 2)))


def smoothed(target: Tensor, smoothing: float, classes: int) -> Tensor:
    r""":math:`q = (1 - \varepsilon) y + \varepsilon / C`, in the target's dtype (``y`` itself when
    :math:`\varepsilon = 0`)."""
    return target * (1 - smoothing) + smoothing / classes if smoothing > 0 else target


def smoothing_term(
    log_probs: Tensor, target: Tensor, keep: Tensor, weight: Tensor | None, reduction: str, dtype: torch.dtype
) -> Tensor:
    r""":math:`R`: :math:`s_n = -k_n \sum_c w_c \log p_{n,c}` reduced like the NLL, 'mean' by the same total
    weight of kept targets."""
    per_position = -(log_probs.sum(1) if weight is None else (log_probs * class_view(weight, log_probs.dim())).sum(1))
    per_position = torch.where(keep, per_position.to(dtype), 0)
    if reduction == "none":
        return per_position
    if reduction == "sum":
        return per_position.sum()
    return per_position.sum() / total_weight(target, keep, weight, dtype)


def probability_target_loss(
    log_probs: Tensor, target: Tensor, weight: Tensor | None, reduction: str, smoothing: float, input: Tensor
) -> Tensor:
    r"""The loss of class-probability targets: :math:`-\sum_c w_c q_{n,c} \log p_{n,c}`, its sum, or its sum
    divided by the number of positions :math:`N d_1 \cdots d_K` (the input's size over :math:`C`)."""
    y = target.unsqueeze(0) if target.dim() == 1 else target
    classes = log_probs.shape[1]
    terms = log_probs * smoothed(y, smoothing, classes)  # promotes to the target's dtype, as torch does
    if weight is not None:
        terms = terms * class_view(weight, terms.dim())
    if reduction == "none":
        return -terms.sum(1)
    if reduction == "sum":
        return -terms.sum()  # -0.0 for an empty batch, as torch
    if input.numel() == 0:
        return -terms.sum() * float("nan")  # torch fills an empty 'mean' with NaN
    return -terms.sum() / (input.numel() // classes)


def check_logits(input: Tensor) -> None:
    """What torch's ``log_softmax`` rejects: a 0-dim input (no class dimension 1), non-floating dtypes."""
    if input.dim() == 0:
        raise IndexError(
            "cross_entropy(): Dimension out of range (expected to be in range of [-1, 0], but got 1) (argument "
            "input is 0-dim; it needs a class dimension: shape (C), (N, C) or (N, C, d1, ..., dK))"
        )
    kernel = "log_softmax_lastdim_kernel_impl" if input.dim() <= 2 else "log_softmax_kernel_impl"
    _checks.check_floating("cross_entropy", kernel, input.dtype, what="the input's logits")


def check_smoothing_range(smoothing: float) -> None:
    """label_smoothing above 1 raises (when the loss is called); negative values were mapped to 0."""
    if smoothing > 1:
        raise RuntimeError(
            f"cross_entropy(): label_smoothing must be between 0.0 and 1.0. Got: {smoothing} "
            "(argument label_smoothing is the weight of the uniform distribution)"
        )


def check_probability_target(
    input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, smoothing: float
) -> None:
    """torch's checks for class-probability targets, in its order."""
    if not target.dtype.is_floating_point:
        raise RuntimeError(
            "cross_entropy(): Expected floating point type for target with class probabilities, got "
            f"{_checks.dtype_name(target.dtype)} (argument target has the input's shape {tuple(input.shape)}, so "
            "it is read as class probabilities; class indices have the input's shape without dimension 1)"
        )
    if ignore_index >= 0:
        raise RuntimeError(
            f"cross_entropy(): ignore_index is not supported for floating point target (argument ignore_index="
            f"{ignore_index}; with class probabilities it must be negative, e.g. the default -100)"
        )
    if input.dim() == 0:
        raise IndexError(
            "cross_entropy(): Dimension specified as 1 but tensor has no dimensions (argument input is 0-dim; it "
            "needs a class dimension: shape (C), (N, C) or (N, C, d1, ..., dK))"
        )
    classes = input.shape[1] if input.dim() > 1 else input.shape[0]
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(
            f"cross_entropy(): cross_entropy: weight tensor should be defined either for all {classes} classes or no "
            f"classes but got weight tensor of shape: {list(weight.shape)} (argument weight: expected ({classes},))"
        )
    check_logits(input)
    check_smoothing_range(smoothing)


def check_smoothing_quirks(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> None:
    """Three calls that torch's label-smoothing code rejects although the loss is well defined; refimpl
    rejects them too, with torch's exception and phrase, so both behave alike."""
    if weight is not None and weight.dim() > 1 and weight.shape[0] != weight.numel():
        shape = [1] * input.dim()
        shape[1] = weight.shape[0]
        raise RuntimeError(
            f"cross_entropy(): shape '{shape}' is invalid for input of size {weight.numel()} (argument weight of "
            f"shape {tuple(weight.shape)}: with label_smoothing torch views the weight with its first size; pass "
            "a 1-D weight)"
        )
    if input.dim() == 1 and target.dim() == 1:
        raise RuntimeError(
            "cross_entropy(): output with shape [] doesn't match the broadcast shape [1] (argument target of shape "
            "(1,) with an unbatched input and label_smoothing > 0: pass a 0-dim target)"
        )
    if weight is not None and reduction == "mean" and target.dtype == torch.uint8:
        raise RuntimeError(
            "cross_entropy(): gather(): Expected dtype int32/int64 for index (argument target is uint8: torch "
            "gathers the class weights with it when label_smoothing > 0, weight is given and reduction='mean'; "
            "pass int64 class indices)"
        )
