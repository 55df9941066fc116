r"""Kullback-Leibler divergence loss, as ``torch.nn.functional.kl_div`` computes it.

Chapter: ``book/probabilistic/kl_div.ipynb``.
"""

import warnings

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss

MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)
"""torch's warning for ``reduction='mean'``, word for word (its three sentences are joined without spaces)."""


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    r"""Pointwise KL divergence of a model's log-probabilities ``input`` from the distribution ``target``.

    With :math:`x` = ``input`` (log-probabilities of the model :math:`q`, :math:`x = \log q`) and :math:`y` =
    ``target`` (probabilities :math:`p`, or log-probabilities when ``log_target=True``), broadcast to a
    common shape with :math:`n` elements:

    .. math::

        l_i = \operatorname{xlogy}(y_i, y_i) - y_i x_i = y_i (\log y_i - x_i)
        \quad(\texttt{log\_target=False}), \qquad
        l_i = e^{y_i} (y_i - x_i) \quad(\texttt{log\_target=True}),

    where :math:`\operatorname{xlogy}(0, \cdot) = 0`: a zero target contributes :math:`0 - 0 \cdot x_i`, which
    is 0 for finite :math:`x_i` and NaN for :math:`x_i = -\infty`; a negative target gives NaN
    (:math:`\log` of a negative number), and so does :math:`y_i = -\infty` with ``log_target=True``
    (:math:`0 \cdot -\infty`). Summed over a distribution's support, :math:`\sum_c l_c = \mathrm{KL}(p \,\|\, q)`:
    note the order, the *target* comes first. Reductions:

    .. math::

        \texttt{'none'}: (l_1, \dots, l_n), \quad
        \texttt{'sum'}: \sum_i l_i, \quad
        \texttt{'batchmean'}: \frac{1}{N} \sum_i l_i, \quad
        \texttt{'mean'}: \frac{1}{n} \sum_i l_i,

    with :math:`N` = ``input.size(0)`` (the *input's* first size, even when the target broadcasts it; :math:`C`
    for a 1-D input; no division for a 0-dim input). ``'batchmean'`` is the KL divergence per sample;
    ``'mean'`` (the default) also divides by the support size and warns. An empty input gives NaN for
    'mean' and 'batchmean' (0/0), 0 for 'sum'.

    The deprecated ``size_average``/``reduce``, when given, replace ``reduction`` (with torch's warning and
    without validating it), but torch still divides by ``input.size(0)`` afterwards when
    ``reduction='batchmean'``: ``kl_div(x, y, size_average=False, reduction='batchmean')`` is the batch mean
    and ``reduce=False`` with ``'batchmean'`` gives :math:`l_i / N`. (``nn.KLDivLoss(size_average=False,
    reduction='batchmean')`` stores ``'sum'`` at construction and does not divide.)

    Gradient (:func:`kl_div_grad`): :math:`\partial l_i/\partial x_i = -y_i` and
    :math:`\partial l_i/\partial y_i = \log y_i + 1 - x_i`, NaN at :math:`y_i = 0` (and :math:`+\infty`) as in
    torch's backward; with ``log_target``, :math:`-e^{y_i}` and :math:`e^{y_i}(y_i - x_i + 1)`; times the
    reduction's factor (:math:`g`, :math:`g/n`, :math:`g/N`). The input's gradient does not depend on
    :math:`x`: the loss is linear in the input.

    The target broadcasts against the input silently (no size-mismatch warning). The result has the
    promoted dtype of ``input`` and ``target``.

    Args:
        input: log-probabilities :math:`x` of the model, floating point, any shape.
        target: probabilities :math:`y` (or log-probabilities with ``log_target``), broadcastable with ``input``.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'batchmean'`` | ``'sum'`` | ``'mean'`` (``'elementwise_mean'``, deprecated,
            is ``'mean'`` with a deprecation warning instead of the 'mean' warning).
        log_target: whether ``target`` holds log-probabilities.

    Returns:
        The loss: 0-dim, or the broadcast shape for 'none'.

    Raises:
        ValueError: invalid ``reduction``.
        TypeError: ``input`` or ``target`` not a tensor; ``log_target`` not a bool.
        RuntimeError: integer, bool or complex ``input`` or ``target``; shapes that do not broadcast.
    """
    reduction, batchmean = _validate_kl_div(input, target, size_average, reduce, reduction, log_target)
    return _KLDivFunction.apply(input, target, reduction, batchmean, log_target)


def _validate_kl_div(
    input: Tensor, target: Tensor, size_average: bool | None, reduce: bool | None, reduction: str, log_target: bool
) -> tuple[str, bool]:
    """torch's checks, in torch's order and with its exception types (and its warning for 'mean').

    Returns the reduction to apply ('none', 'mean' or 'sum'; 'batchmean' is 'sum') and whether to divide it by
    ``input.size(0)`` afterwards: torch does so whenever ``reduction='batchmean'`` was passed, even when the
    legacy arguments replaced it.
    """
    if size_average is not None or reduce is not None:
        reduction_used = _reduction.legacy_get_string(size_average, reduce)
    elif reduction == "batchmean":
        reduction_used = "sum"  # divided by input.size(0) in the forward
    elif reduction in ("none", "mean", "sum", "elementwise_mean"):
        if reduction == "mean":
            warnings.warn(MEAN_WARNING, stacklevel=_checks.user_stacklevel())
        reduction_used = _reduction.resolve("kl_div", reduction)
    else:
        raise ValueError(
            f"kl_div(): {reduction} is not a valid value for reduction "
            f"(argument reduction={reduction!r}; expected 'none', 'batchmean', 'sum' or 'mean')"
        )
    _checks.check_tensor_argument("kl_div", "input", input, position=1)
    _checks.check_tensor_argument("kl_div", "target", target, position=2)
    _checks.check_same_device("kl_div", input=input, target=target)
    _checks.check_bool("kl_div", "log_target", log_target)
    for argument, tensor in (("input", input), ("target", target)):  # torch checks complex first, for both
        if tensor.is_complex():
            raise RuntimeError(
                f"kl_div: Complex inputs not supported (argument {argument} has dtype {tensor.dtype}; "
                "input and target must be floating point)"
            )
    for argument, tensor in (("input", input), ("target", target)):
        if not tensor.is_floating_point():
            raise RuntimeError(
                f"kl_div: Integral inputs not supported (argument {argument} has dtype {tensor.dtype}; "
                "input and target must be floating point)"
            )
    _checks.broadcast_shapes("kl_div", "target", target, "input", input)
    return reduction_used, reduction == "batchmean"


def kl_div_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    log_target: bool = False,
    batchmean: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`kl_div` with respect to input and target.

    .. math::

        \frac{\partial l_i}{\partial x_i} = -y_i, \qquad
        \frac{\partial l_i}{\partial y_i} = \log y_i + 1 - x_i
        \qquad (\texttt{log\_target=False}),

        \frac{\partial l_i}{\partial x_i} = -e^{y_i}, \qquad
        \frac{\partial l_i}{\partial y_i} = e^{y_i}(y_i - x_i + 1)
        \qquad (\texttt{log\_target=True}),

    times the reduction's factor :math:`g`: ``grad_output`` ('none', 'sum') or ``grad_output / n`` ('mean'), and
    divided by :math:`N` = ``input.size(0)`` when ``batchmean`` (``reduction='sum'`` for 'batchmean' itself).
    torch differentiates :math:`\operatorname{xlogy}(y, y)` as :math:`\log y + y/y`, so the target's gradient is
    NaN at :math:`y = 0` (0/0) and :math:`y = +\infty`; written the same way here. Each gradient is summed over
    the dimensions its argument was broadcast along, in its argument's dtype. The terms are computed one by one,
    in the order autograd differentiates the forward, so that float16 and bfloat16 gradients round as torch's
    do. Returns ``(grad_input, grad_target)``.
    """
    shape = torch.broadcast_shapes(input.shape, target.shape)
    g = _reduction.grad_scale(grad_output, reduction, shape.numel())
    if batchmean and input.dim() != 0:
        g = g / input.size(0)
    g = g.expand(shape)  # the upstream gradient of each element, a tensor of the loss's shape as autograd passes it
    # term by term, as autograd differentiates the forward's operations, so that half precision rounds as torch's
    if log_target:
        exp_target = torch.exp(target)
        grad_input = _as_gradient_of(-g * exp_target, input)  # -g e^y
        # g (y - x) e^y, through e^y, plus g e^y, through y - x
        grad_target = _as_gradient_of(g * (target - input), target) * exp_target + _as_gradient_of(
            g * exp_target, target
        )
    else:
        grad_input = _as_gradient_of(-g * target, input)  # -g y
        g_xlogy = _as_gradient_of(g, target)  # the upstream gradient of xlogy(y, y): the target's shape and dtype
        # g log y + g y / y - g x: y / y is 1, except NaN at y = 0 and y = inf, as torch's backward of xlogy(y, y)
        grad_target = g_xlogy * torch.log(target) + g_xlogy * target / target + _as_gradient_of(-g * input, target)
    return grad_input, grad_target


def _as_gradient_of(grad: Tensor, like: Tensor) -> Tensor:
    """One term of a gradient as autograd hands it to ``like``: summed over the dimensions ``like`` was broadcast
    along, in ``like``'s dtype."""
    return grad.sum_to_size(like.shape).to(like.dtype)


class _KLDivFunction(torch.autograd.Function):
    """Forward: the pointwise formula of :func:`kl_div` and its reduction. Backward: :func:`kl_div_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, reduction: str, batchmean: bool, log_target: bool) -> Tensor:
        if log_target:
            loss = torch.exp(target) * (target - input)  # e^y (y - x)
        else:
            loss = torch.xlogy(target, target) - target * input  # y log y - y x, with xlogy(0, y) = 0
        loss = _reduction.reduce_loss(loss, reduction)
        if batchmean and input.dim() != 0:
            loss = loss / input.size(0)  # 'batchmean': the sum divided by the input's first size
        return loss

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, reduction, batchmean, log_target = inputs
        ctx.save_for_backward(input, target)
        ctx.reduction, ctx.batchmean, ctx.log_target = reduction, batchmean, log_target

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        grad_input, grad_target = kl_div_grad(grad_output, input, target, ctx.reduction, ctx.log_target, ctx.batchmean)
        return grad_input, grad_target, None, None, None


class KLDivLoss(Loss):
    """Drop-in for ``torch.nn.KLDivLoss``: ``KLDivLoss(size_average=None, reduce=None, reduction='mean',
    log_target=False)``. Legacy arguments become a reduction string at construction, as in torch."""

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
