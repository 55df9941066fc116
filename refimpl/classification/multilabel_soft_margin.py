r"""Multi-label soft margin loss, as ``torch.nn.functional.multilabel_soft_margin_loss`` computes it: one
logistic loss per class, averaged over the classes of the last dimension.

Chapter: ``book/classification/multilabel_soft_margin.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import WeightedLoss


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Per-class logistic loss averaged over the classes (the last dimension), then reduced over the rest.

    With logits :math:`x`, targets :math:`y` (meant to be in :math:`[0, 1]`; not checked), the class weights
    :math:`w` (1 when absent) and :math:`C` = ``input.size(-1)``, for each sample :math:`n` and class :math:`c`:

    .. math::

        l_{nc} = -\bigl[\, y_{nc} \log\sigma(x_{nc}) + (1 - y_{nc}) \log\sigma(-x_{nc}) \bigr],
        \qquad
        \log\sigma(x) = \min(x, 0) - \operatorname{log1p}\bigl(e^{-|x|}\bigr),

    the stable log-sigmoid (no exponent is positive: :math:`x = \pm 10^4` gives :math:`0` or :math:`\mp 10^4`,
    never an infinity). Then

    .. math::

        l_n = \frac{1}{C} \sum_{c=1}^{C} w_c\, l_{nc}

    (divided by :math:`C`, **not** by :math:`\sum_c w_c`), and 'none' returns :math:`(l_n)_n`, of ``input``'s
    shape without its last dimension (a 0-dim tensor for a 1-D input); 'mean' is :math:`\frac1N \sum_n l_n`
    over the :math:`N` entries of that tensor; 'sum' is :math:`\sum_n l_n`. Equivalently
    ``binary_cross_entropy_with_logits(x, y, weight=w, reduction='none').mean(-1)``, reduced.

    torch broadcasts ``input``, ``target`` and ``weight`` silently and then sums over the dimension of index
    ``input.dim() - 1`` of the broadcast loss, dividing by ``input.size(-1)``; refimpl does the same, also when
    a larger target moves that index off the last dimension.

    Gradients, with :math:`s_{nc} = g_n w_c / C` (also divided by :math:`N` for 'mean'), :math:`g` the
    upstream gradient:

    .. math::

        \frac{\partial \ell}{\partial x_{nc}}
            = s_{nc} \bigl[(1 - y_{nc})\,\sigma(x_{nc}) - y_{nc}\,\sigma(-x_{nc})\bigr]
            = s_{nc} \bigl(\sigma(x_{nc}) - y_{nc}\bigr),
        \qquad
        \frac{\partial \ell}{\partial y_{nc}} = s_{nc} \bigl[\log\sigma(-x_{nc}) - \log\sigma(x_{nc})\bigr]
            = -s_{nc}\, x_{nc},
        \qquad
        \frac{\partial \ell}{\partial w_c} = \sum_n \frac{g_n}{C}\, l_{nc} .

    All three are differentiable (torch's version is plain autograd, so is this one, twice).

    Shapes: ``input`` :math:`(C)`, :math:`(N, C)` or :math:`(N, d_1, \dots, C)`; ``target`` the same
    (broadcastable); ``weight`` broadcastable to the loss, usually :math:`(C,)`; output :math:`()` for 'mean'
    and 'sum' and for 'none' with a 1-D input, else ``input.shape[:-1]``. The dtype follows promotion of
    ``input``, ``target`` and ``weight`` (each log-sigmoid rounded to ``input``'s dtype first, as in torch).

    Args:
        input: logits :math:`x`, floating point, at least 1-D.
        target: targets :math:`y`, usually 0/1 per class (floating point or integer, not bool).
        weight: optional per-class weight :math:`w` (a buffer of the module), differentiable.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; checked after everything else, as in torch, and
            ``'elementwise_mean'`` is not accepted.

    Raises:
        TypeError: ``input``, ``target`` or ``weight`` not a tensor; a ``reduction`` that is not a string.
        NotImplementedError: integer, bool or complex ``input``.
        RuntimeError: ``target`` or ``weight`` that does not broadcast; a bool ``target``.
        IndexError: a 0-dim ``input`` (it has no class dimension).
        ValueError: a ``reduction`` string other than 'none', 'mean' and 'sum' (message "... is not valid").
    """
    reduction = _validate_multilabel_soft_margin_loss(input, target, weight, size_average, reduce, reduction)
    return _MultiLabelSoftMarginLossFunction.apply(input, target, weight, reduction)


def _validate_multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> str:
    """torch's checks, in torch's order and with its exception types; returns the reduction to apply."""
    fn = "multilabel_soft_margin_loss"
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    _checks.check_tensor_argument(fn, "input", input, position=1)
    _checks.check_floating(fn, "log_sigmoid_cpu", input.dtype, what="the logits in input")
    _checks.check_tensor_argument(fn, "target", target, position=2)
    _checks.check_same_device(fn, input=input, target=target, weight=weight)
    shape = _checks.broadcast_shapes(fn, "target", target, "input", input)  # torch's order: target * logsigmoid(input)
    if target.dtype == torch.bool:
        raise RuntimeError(
            f"{fn}(): Subtraction, the `-` operator, with a bool tensor is not supported (argument target is bool, "
            "and the loss uses 1 - target; pass target.float())"
        )
    if weight is not None:
        _checks.check_tensor_argument(fn, "weight", weight, position=3)
        loss_stand_in = torch.empty(shape, device="meta")  # broadcast_shapes reads shapes only: no memory, no compute
        _checks.broadcast_shapes(fn, "the unreduced loss", loss_stand_in, "weight", weight)
    if input.dim() == 0:
        raise IndexError(
            f"{fn}(): Dimension specified as -1 but tensor has no dimensions (argument input is 0-dim; the "
            "classes are its last dimension, so pass at least a 1-D tensor of C logits)"
        )
    if reduction not in _reduction.REDUCTIONS:
        if not isinstance(reduction, str):
            raise TypeError(
                f"{fn}(): argument reduction={reduction!r} must be a str: 'none', 'mean' or 'sum' (torch fails "
                f"building its message: unsupported operand type(s) for +: '{type(reduction).__name__}' and 'str')"
            )
        raise ValueError(
            f"{fn}(): {reduction} is not valid (argument reduction={reduction!r}; expected 'none', 'mean' or "
            "'sum'; this loss does not accept 'elementwise_mean')"
        )
    return reduction


def multilabel_soft_margin_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""Hand-derived gradient of :func:`multilabel_soft_margin_loss` with respect to ``input``, ``target`` and
    ``weight``.

    From :math:`\frac{d}{dx}\log\sigma(x) = \sigma(-x)` and :math:`\frac{d}{dx}\log\sigma(-x) = -\sigma(x)`:

    .. math::

        \frac{\partial l_{nc}}{\partial x_{nc}} = (1 - y_{nc})\,\sigma(x_{nc}) - y_{nc}\,\sigma(-x_{nc}),
        \qquad
        \frac{\partial l_{nc}}{\partial y_{nc}} = \log\sigma(-x_{nc}) - \log\sigma(x_{nc}),
        \qquad
        \frac{\partial l_n}{\partial w_c} = \frac{l_{nc}}{C},

    the first two times :math:`w_c / C`, all three times the reduction's factor :math:`s_n` (:math:`g_n`,
    :math:`g` or :math:`g/N`), each summed over the dimensions its argument was broadcast along. The input's
    derivative simplifies to :math:`\sigma(x_{nc}) - y_{nc}` (as :math:`\sigma(-x) = 1 - \sigma(x)`); torch's
    backward evaluates the two-sigmoid form, which keeps the tiny gradients of confident, correct predictions that
    :math:`\sigma(x) - 1` rounds to 0 (a difference below the dtype's rounding of 1). The target's derivative uses
    the log-sigmoids in ``input``'s dtype, as the forward does. For a complex target (a complex loss), each
    derivative is conjugated, autograd's convention. Returns ``(grad_input, grad_target, grad_weight)``,
    ``grad_weight`` ``None`` without a weight.
    """
    class_dim = input.dim() - 1
    shape = torch.broadcast_shapes(input.shape, target.shape, *(() if weight is None else (weight.shape,)))
    if reduction == "none":
        grad_output = grad_output.unsqueeze(class_dim)  # one upstream value per row, shared by its classes
    rows = math.prod(size for dim, size in enumerate(shape) if dim != class_dim)
    s = _reduction.grad_scale(grad_output, reduction, rows) / input.size(-1)  # s_n / C, in the loss's dtype
    ws = s if weight is None else s * weight.to(s.dtype).conj()  # w_c s_n / C (.to: a 0-dim s would not promote w)
    # -log sigma(x) and -log sigma(-x) as the forward has them: in input's dtype, then promoted against the target
    # (a float16 input with a float32 target: their difference is taken in float32, as torch's autograd takes it)
    dtype = torch.result_type(input, target)
    minus_log_p = torch.logaddexp(-input, input.new_zeros(())).to(dtype)
    minus_log_q = torch.logaddexp(input, input.new_zeros(())).to(dtype)
    d_input = torch.sigmoid(input) - target  # (1 - y) sigma(x) - y sigma(-x), simplified
    d_target = minus_log_p - minus_log_q  # log sigma(-x) - log sigma(x)
    grad_input = _gradient_of(d_input.conj() * ws, input, shape)
    grad_target = _gradient_of(d_target * ws, target, shape)
    if weight is None:
        return grad_input, grad_target, None
    loss = target * minus_log_p + (1 - target) * minus_log_q  # l_nc
    return grad_input, grad_target, _gradient_of(loss.conj() * s, weight, shape)


def _gradient_of(grad: Tensor, like: Tensor, shape: torch.Size) -> Tensor:
    """``grad`` (broadcastable to the loss's ``shape``) as the gradient of ``like``: summed over the dimensions
    ``like`` was broadcast along, the real part when ``like`` is real and the loss complex, in ``like``'s dtype."""
    grad = grad.broadcast_to(shape).sum_to_size(like.shape).contiguous()  # contiguous: no expanded view leaks
    if grad.is_complex() and not like.is_complex():
        grad = grad.real
    return grad.to(like.dtype)


class _MultiLabelSoftMarginLossFunction(torch.autograd.Function):
    """Forward: the Definition's per-class logistic loss, averaged over the classes and reduced.
    Backward: :func:`multilabel_soft_margin_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        # -log sigma(x) = log(e^0 + e^{-x}) and -log sigma(-x) = log(e^0 + e^x): logaddexp with 0 never overflows
        minus_log_p = torch.logaddexp(-input, input.new_zeros(()))
        minus_log_q = torch.logaddexp(input, input.new_zeros(()))
        loss = target * minus_log_p + (1 - target) * minus_log_q  # l_nc = -[y log sigma(x) + (1-y) log sigma(-x)]
        if weight is not None:
            loss = loss * weight  # w_c l_nc; the weight may broadcast the loss to a larger shape
        loss = loss.sum(dim=input.dim() - 1) / input.size(-1)  # l_n: the sum over input's last dim, divided by C
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, weight, reduction = inputs
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        grad_input, grad_target, grad_weight = multilabel_soft_margin_loss_grad(
            grad_output, input, target, weight, ctx.reduction
        )
        return grad_input, grad_target, grad_weight, None


class MultiLabelSoftMarginLoss(WeightedLoss):
    """Drop-in for ``torch.nn.MultiLabelSoftMarginLoss``: ``MultiLabelSoftMarginLoss(weight=None,
    size_average=None, reduce=None, reduction='mean')``; ``weight`` is a buffer."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)
