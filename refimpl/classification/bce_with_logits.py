r"""Binary cross-entropy on logits, as ``torch.nn.functional.binary_cross_entropy_with_logits`` computes it.

Chapter: ``book/classification/bce_with_logits.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    r"""Binary cross-entropy between ``sigmoid(input)`` and ``target``, computed from the logits stably.

    With :math:`x` the logit, :math:`\sigma(x) = 1/(1 + e^{-x})`, :math:`y` the target and :math:`p` the
    ``pos_weight`` (1 when absent), elementwise (the shapes of ``input`` and ``target`` must be equal):

    .. math::

        l_i = -\bigl[\, p\, y_i \log\sigma(x_i) + (1 - y_i)\log\bigl(1 - \sigma(x_i)\bigr) \bigr]
            = (1 - y_i)\, x_i + \bigl(1 + (p - 1)\, y_i\bigr)\, \operatorname{softplus}(-x_i),

    using :math:`\log(1 - \sigma(x)) = -x + \log\sigma(x)` and
    :math:`-\log\sigma(x) = \operatorname{softplus}(-x) = \log(1 + e^{-x}) = \log(e^0 + e^{-x})`,
    a two-term log-sum-exp, computed as :math:`\max(-x, 0) + \operatorname{log1p}(e^{-|x|})` so that
    nothing overflows: :math:`x = -10^4` gives :math:`10^4`, not infinity. No clamp is needed.
    ``pos_weight`` broadcasts against the target (a :math:`(C,)` tensor weighs the classes of the last
    dimension) and ``weight`` against the loss; neither may enlarge it. Then each :math:`l_i` becomes
    :math:`w_i l_i` and the reductions over the :math:`n` elements are

    .. math::

        \text{'none'}: (w_i l_i)_i, \qquad
        \text{'mean'}: \frac1n \sum_{i=1}^n w_i l_i \ (\text{not } \div \textstyle\sum_i w_i), \qquad
        \text{'sum'}: \sum_{i=1}^n w_i l_i .

    Gradient, with :math:`g_i` the upstream gradient (divided by :math:`n` for 'mean'):

    .. math::

        \frac{\partial \ell}{\partial x_i} = g_i\, w_i \bigl[\bigl(1 + (p - 1) y_i\bigr)\sigma(x_i) - p\, y_i\bigr]
        \ \bigl(= g_i w_i (\sigma(x_i) - y_i) \text{ for } p = 1\bigr),
        \qquad
        \frac{\partial \ell}{\partial y_i}
            = g_i\, w_i \bigl[p \operatorname{softplus}(-x_i) - \operatorname{softplus}(x_i)\bigr]
        \ \bigl(= -g_i w_i x_i \text{ for } p = 1\bigr).

    ``weight`` and ``pos_weight`` are not differentiable. The target is not range-checked.

    Shapes: ``input`` :math:`(*)`, ``target`` the same shape, ``weight`` and ``pos_weight``
    broadcastable to it (``pos_weight`` :math:`(C,)` for a last dimension of :math:`C` classes); output
    :math:`()` for 'mean' and 'sum', :math:`(*)` for 'none'. The loss has the **target's** dtype (torch
    computes it in place in ``1 - target``), e.g. float64 for a float32 input and a float64 target.

    Args:
        input: logits :math:`x`, floating point, any real value.
        target: targets :math:`y`, usually in [0, 1], same shape as ``input``, floating point.
        weight: optional rescaling weight, broadcastable to the loss; must not require grad.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: optional weight :math:`p` of the positive term, broadcastable to the target (one
            per class of the last dimension); must not require grad.

    Raises:
        ValueError: invalid ``reduction``; ``target`` of another size than ``input``.
        RuntimeError: ``weight`` or ``pos_weight`` that does not broadcast, would enlarge the loss,
            requires grad, or is complex; a bool ``pos_weight``; an integer or bool ``target``.
        NotImplementedError: integer, bool or complex ``input``.
        TypeError: ``weight`` or ``pos_weight`` not a tensor; ``input`` or ``target`` not a tensor (also an
            ``AttributeError``, as in torch).
    """
    reduction = _validate_binary_cross_entropy_with_logits(
        input, target, weight, pos_weight, size_average, reduce, reduction
    )
    return _BinaryCrossEntropyWithLogitsFunction.apply(input, target, weight, pos_weight, reduction)


def _validate_binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    pos_weight: Tensor | None,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> str:
    """torch's checks, in torch's order and with its exception types; returns the reduction to apply."""
    fn = "binary_cross_entropy_with_logits"
    reduction = _reduction.resolve(fn, reduction, size_average, reduce)
    _checks.check_tensor(fn, "target", target)
    _checks.check_tensor(fn, "input", input)
    _checks.check_same_device(fn, input=input, target=target, weight=weight, pos_weight=pos_weight)
    if target.size() != input.size():
        raise ValueError(
            f"{fn}(): Target size ({target.size()}) must be the same as input size ({input.size()}) "
            f"(argument target has shape {tuple(target.shape)}, input has shape {tuple(input.shape)})"
        )
    for name, position, value in (("weight", 3, weight), ("pos_weight", 4, pos_weight)):
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"{fn}(): argument '{name}' (position {position}) must be Tensor, not {type(value).__name__}"
            )
    for name, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is not None and value.requires_grad and torch.is_grad_enabled():
            raise RuntimeError(
                f"The function '{fn}' is not differentiable with respect to argument '{name}'. This input "
                f"cannot have requires_grad True. (pass {name}.detach())"
            )
    _checks.check_floating(fn, "log_sigmoid_cpu", input.dtype, what="input")
    if pos_weight is not None:
        if pos_weight.dtype == torch.bool:
            raise RuntimeError(
                f"{fn}(): Subtraction, the `-` operator, with a bool tensor is not supported (argument pos_weight "
                "is bool; pass a floating point tensor of positive weights)"
            )
        _checks.broadcast_shapes(fn, "pos_weight", pos_weight, "target", target)
        _checks.check_fits_output(fn, "pos_weight", pos_weight, input.shape)
        _checks.check_in_place_dtype(fn, "pos_weight", torch.result_type(pos_weight, target), input.dtype)
    if target.dtype == torch.bool:
        raise RuntimeError(
            f"{fn}(): Subtraction, the `-` operator, with two bool tensors is not supported (argument target is "
            "bool; pass target.float())"
        )
    if not torch.can_cast(torch.promote_types(target.dtype, input.dtype), target.dtype):
        raise RuntimeError(
            f"{fn}(): result type {_checks.dtype_name(torch.promote_types(target.dtype, input.dtype))} can't be "
            f"cast to the desired output type {_checks.dtype_name(target.dtype)} (argument target has dtype "
            f"{target.dtype}; the loss takes the target's dtype, so pass target.to(input.dtype))"
        )
    if weight is not None:
        _checks.check_fits_output(fn, "weight", weight, input.shape)
        _checks.check_in_place_dtype(fn, "weight", weight.dtype, target.dtype)
    if target.is_complex() and torch.is_grad_enabled() and (input.requires_grad or target.requires_grad):
        raise RuntimeError(
            f"{fn} does not support automatic differentiation for outputs with complex dtype. (argument target "
            f"has dtype {target.dtype}, so the loss is complex; pass a real target)"
        )
    return reduction


def binary_cross_entropy_with_logits_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`binary_cross_entropy_with_logits` with respect to ``input`` and ``target``.

    From :math:`l = (1 - y)x + (1 + (p - 1)y)\operatorname{softplus}(-x)` and
    :math:`\frac{d}{dx}\operatorname{softplus}(-x) = -(1 - \sigma(x))`:

    .. math::

        \frac{\partial l}{\partial x} = (1 - y) - (1 + (p - 1)y)(1 - \sigma(x))
            = \bigl(1 + (p - 1)y\bigr)\sigma(x) - p\,y ,
        \qquad
        \frac{\partial l}{\partial y} = -x + (p - 1)\operatorname{softplus}(-x)
            = p\operatorname{softplus}(-x) - \operatorname{softplus}(x),

    (for :math:`p = 1`: :math:`\sigma(x) - y` and :math:`-x`), each times the reduction's factor :math:`g`
    (``grad_output``, divided by :math:`n` for 'mean') and ``weight``. Bounded in :math:`x`:
    :math:`|\partial l/\partial x| \le \max(p, 1)` for :math:`y \in [0, 1]`. Returns ``(grad_input, grad_target)``.
    """
    g = _reduction.grad_scale(grad_output, reduction, input.numel())
    if pos_weight is None:
        grad_input = (torch.sigmoid(input) - target) * g  # g (sigma(x) - y)
        grad_target = -g * input  # -g x
    else:
        positive = pos_weight * target  # p y, broadcast over the target
        grad_input = ((positive + 1 - target) * torch.sigmoid(input) - positive) * g  # g ((1 + (p-1) y) sigma(x) - p y)
        grad_target = (pos_weight * softplus(-input) - softplus(input)) * g  # g (p softplus(-x) - softplus(x))
    if weight is not None:  # w scales each element's loss, so each element's gradient
        grad_input, grad_target = grad_input * weight, grad_target * weight
    return grad_input, grad_target


def softplus(z: Tensor) -> Tensor:
    r""":math:`\log(1 + e^z) = \log(e^0 + e^z)`, the log-sum-exp of 0 and :math:`z`.

    ``torch.logaddexp`` evaluates it as :math:`\max(z, 0) + \operatorname{log1p}(e^{-|z|})`: the exponent is
    never positive, so nothing overflows, and ``log1p`` keeps the small values exact. ``softplus(-x)`` is
    :math:`-\log\sigma(x)`, bit for bit what torch's ``log_sigmoid`` gives, negated.
    """
    return torch.logaddexp(z.new_zeros(()), z)


class _BinaryCrossEntropyWithLogitsFunction(torch.autograd.Function):
    """Forward: the Definition's stable formula, weighted and reduced. Backward:
    :func:`binary_cross_entropy_with_logits_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(
        input: Tensor, target: Tensor, weight: Tensor | None, pos_weight: Tensor | None, reduction: str
    ) -> Tensor:
        # torch computes in place, so each step is rounded to the dtype of the tensor it writes into (the .to calls)
        minus_log_sigmoid = softplus(-input)  # -log sigma(x), stable for every x
        if pos_weight is not None:  # (1 + (p - 1) y) softplus(-x), in the input's dtype
            minus_log_sigmoid = (minus_log_sigmoid * (1 + (pos_weight - 1) * target)).to(input.dtype)
        loss = ((1 - target) * input).to(target.dtype)  # (1 - y) x, in the target's dtype
        loss = (loss + minus_log_sigmoid).to(target.dtype)  # + (1 + (p - 1) y) softplus(-x)
        if weight is not None:
            loss = (loss * weight).to(target.dtype)  # w l: the weight may broadcast, not promote
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, weight, pos_weight, reduction = inputs
        ctx.save_for_backward(input, target, weight, pos_weight)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight, pos_weight = ctx.saved_tensors
        grad_input, grad_target = binary_cross_entropy_with_logits_grad(
            grad_output, input, target, weight, ctx.reduction, pos_weight
        )
        return grad_input, grad_target, None, None, None


class BCEWithLogitsLoss(Loss):
    """Drop-in for ``torch.nn.BCEWithLogitsLoss``: ``BCEWithLogitsLoss(weight=None, size_average=None,
    reduce=None, reduction='mean', pos_weight=None)``; ``weight`` and ``pos_weight`` are buffers. Like torch's,
    it is a ``_Loss``, not a ``_WeightedLoss``: it registers both buffers itself."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction
        )
