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
    return _MultiLabelSoftMarginLossFunction.apply(input, target, weight, reduction)


def multilabel_soft_margin_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    *,
    needs_input_grad: tuple[bool, bool, bool] = (True, True, True),
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    r"""Hand-derived gradient of :func:`multilabel_soft_margin_loss` with respect to ``input``, ``target`` and
    ``weight``.

    From :math:`\frac{d}{dx}\log\sigma(x) = \sigma(-x)` and :math:`\frac{d}{dx}\log\sigma(-x) = -\sigma(x)`:

    .. math::

        \frac{\partial l_{nc}}{\partial x_{nc}} = (1 - y_{nc})\,\sigma(x_{nc}) - y_{nc}\,\sigma(-x_{nc}),
        \qquad
        \frac{\partial l_{nc}}{\partial y_{nc}} = \log\sigma(-x_{nc}) - \log\sigma(x_{nc}),

    each times :math:`w_c\, g_n / C` (and :math:`1/N` for 'mean'), summed back to each argument's shape;
    :math:`\partial \ell / \partial w_c = \sum_n l_{nc}\, g_n / C` (over broadcast dimensions). The two-sigmoid
    form keeps the small gradients of confident, correct predictions exact (:math:`\sigma(x) - 1` would round
    to 0); the target's uses the log-sigmoids rounded to ``input``'s dtype, as torch's autograd does, so
    mixed-precision calls agree too. :math:`|\partial l / \partial x| \le 1` for :math:`y \in [0, 1]`.
    Returns ``(grad_input, grad_target, grad_weight)``; an entry is ``None`` when there is no weight or
    ``needs_input_grad`` says it is not wanted.
    """
    class_dim = input.dim() - 1
    shape = torch.broadcast_shapes(input.shape, target.shape, *(() if weight is None else (weight.shape,)))
    rows = math.prod(size for dim, size in enumerate(shape) if dim != class_dim)
    if reduction == "none":
        grad_output = grad_output.unsqueeze(class_dim)  # one upstream value per row, broadcast over the classes
    scale = _reduction.grad_scale(grad_output, reduction, rows) / input.size(-1)
    factor = scale  # g / C per row (and / N for 'mean'), then times w: small, (C,) for a class weight and 'mean'
    if weight is not None:  # promote explicitly: a 0-dim float64 scale would not promote a float32 weight
        factor = scale * weight.conj().to(torch.promote_types(scale.dtype, weight.dtype))
    grad_input = grad_target = grad_weight = None
    if needs_input_grad[0]:
        # (1 - y) sigma(x) - y sigma(-x): two sigmoids, so sigma(x) - 1 never cancels for a confident positive
        slope = torch.sigmoid(input).mul(1 - target).sub_(torch.sigmoid(-input).mul(target))
        grad_input = _as_gradient_of(torch.mul(slope.conj(), factor), input, shape)
    if needs_input_grad[1] or (weight is not None and needs_input_grad[2]):
        minus_log_p, minus_log_q = softplus_pair(input, promote_to=torch.promote_types(input.dtype, target.dtype))
        if needs_input_grad[1]:
            # log sigma(-x) - log sigma(x) = softplus(-x) - softplus(x), i.e. -x up to the rounding torch keeps
            grad_target = _as_gradient_of(torch.mul(minus_log_p - minus_log_q, factor), target, shape)
        if weight is not None and needs_input_grad[2]:
            loss = torch.mul(target, minus_log_p).addcmul_(1 - target, minus_log_q)
            grad_weight = _as_gradient_of(torch.mul(loss.conj(), scale), weight, shape)
    return grad_input, grad_target, grad_weight


def _as_gradient_of(grad: Tensor, leaf: Tensor, shape: torch.Size) -> Tensor:
    """``grad``, broadcast to the loss's ``shape`` and summed over the dimensions ``leaf`` was broadcast along,
    in ``leaf``'s dtype. A complex target makes the loss complex; autograd's convention is then
    ``grad_output * conj(derivative)`` (hence the ``conj()`` calls above, no-ops on real tensors), and a real
    leaf keeps the real part."""
    grad = grad.broadcast_to(shape).sum_to_size(leaf.shape).contiguous()  # contiguous: no expanded view leaks
    if grad.is_complex() and not leaf.is_complex():
        grad = grad.real
    return grad.to(leaf.dtype)


def softplus_pair(input: Tensor, promote_to: torch.dtype | None = None) -> tuple[Tensor, Tensor]:
    r""":math:`(-\log\sigma(x), -\log\sigma(-x)) = (\operatorname{softplus}(-x), \operatorname{softplus}(x))`.

    ``torch.logaddexp(z, 0)`` evaluates :math:`\log(e^z + e^0) = \max(z, 0) + \operatorname{log1p}(e^{-|z|})`
    in one pass, the stable form: the exponent is never positive, and each result is rounded once to
    ``input``'s dtype, as torch's ``log_sigmoid`` rounds. ``promote_to`` then widens both (the loss of a
    float32 input and a float64 target is float64, built from float32 log-sigmoids).
    """
    zero = input.new_zeros(())
    minus_log_p = torch.logaddexp(-input, zero)  # -log sigma(x)
    minus_log_q = torch.logaddexp(input, zero)  # -log sigma(-x) = -log(1 - sigma(x))
    if promote_to is not None and promote_to != input.dtype:
        return minus_log_p.to(promote_to), minus_log_q.to(promote_to)
    return minus_log_p, minus_log_q


def multilabel_soft_margin_unreduced(input: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
    r""":math:`l_n = \frac1C \sum_c w_c\, l_{nc}`, one value per row, in torch's order of operations."""
    minus_log_p, minus_log_q = softplus_pair(input)
    # y (-log sigma(x)) + (1 - y)(-log sigma(-x)): the negation of torch's -(y log sigma(x) + (1-y) log sigma(-x)),
    # exact, so the rounding is torch's
    loss = torch.mul(target, minus_log_p).addcmul_(1 - target, minus_log_q)
    if weight is not None:
        loss = loss * weight  # out of place: the weight may broadcast the loss to a larger shape
    return loss.sum(dim=input.dim() - 1) / input.size(-1)  # C = input's last size; the index is input's last dim


class _MultiLabelSoftMarginLossFunction(torch.autograd.Function):
    """Forward: :func:`multilabel_soft_margin_unreduced`, reduced.
    Backward: :func:`multilabel_soft_margin_loss_grad`."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction
        return _reduction.reduce_loss(multilabel_soft_margin_unreduced(input, target, weight), reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        grads = multilabel_soft_margin_loss_grad(
            grad_output, input, target, weight, ctx.reduction, needs_input_grad=ctx.needs_input_grad[:3]
        )
        return *grads, None


class MultiLabelSoftMarginLoss(WeightedLoss):
    """Drop-in for ``torch.nn.MultiLabelSoftMarginLoss``: ``MultiLabelSoftMarginLoss(weight=None,
    size_average=None, reduce=None, reduction='mean')``; ``weight`` is a buffer."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)
