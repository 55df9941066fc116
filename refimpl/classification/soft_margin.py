r"""Soft margin loss, the logistic loss on labels -1/+1, as ``torch.nn.functional.soft_margin_loss`` defines it,
computed in a form that does not overflow at large margins.

Chapter: ``book/classification/soft_margin.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def soft_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Logistic loss of the margin :math:`y x`: :math:`\log(1 + e^{-y x})`, elementwise.

    With the score :math:`x`, the label :math:`y` (meant to be :math:`\pm 1`; not checked) and
    :math:`z_i = -y_i x_i` (computed in ``input``'s dtype, the target broadcast into ``input``'s shape):

    .. math::

        l_i = \log\bigl(1 + e^{z_i}\bigr) = \max(z_i, 0) + \operatorname{log1p}\bigl(e^{-|z_i|}\bigr),

    reduced by 'none' (:math:`(l_i)_i`, ``input``'s shape), 'mean' (:math:`\frac1n \sum_i l_i`, :math:`n` the
    number of elements of ``input``) or 'sum' (:math:`\sum_i l_i`). torch evaluates the first form literally,
    ``log1p(exp(z))``: it is infinite once :math:`e^{z}` overflows, for :math:`z` above 88.72 (float32 and
    bfloat16), 709.78 (float64) or 11.09 (float16). refimpl evaluates the second form, the stable softplus
    (``torch.logaddexp(z, 0)``): its exponent is never positive, so the value is finite and correct to the
    last bits there (:math:`l = z` to rounding for large :math:`z`), and it agrees with torch to rounding
    wherever torch is finite. This is the one place where refimpl deliberately differs from torch.

    Gradient, with :math:`\sigma(z) = 1/(1 + e^{-z})` and :math:`g_i` the upstream gradient (divided by
    :math:`n` for 'mean'):

    .. math::

        \frac{\partial \ell}{\partial x_i} = -g_i\, y_i\, \sigma(z_i)
            = -g_i\, y_i \frac{e^{z_i}}{1 + e^{z_i}} .

    torch computes the right-hand quotient, which is :math:`\infty/\infty` = NaN where :math:`e^{z}` overflows;
    refimpl's :math:`\sigma(z)` is finite for every :math:`z` (:math:`-g y` there, the exact value). The target
    is not differentiable: a target that requires grad raises, as in torch.

    Shapes: ``input`` :math:`(*)`; ``target`` broadcastable to it without enlarging it (a :math:`(C,)` target
    against an :math:`(N, C)` input is fine, an :math:`(N, C)` target against an :math:`(N, 1)` input raises);
    output :math:`()` for 'mean' and 'sum', ``input``'s shape for 'none'. The loss has ``input``'s dtype
    (torch writes it into a tensor of that dtype): float32 for a float32 input and a float64 target. A complex
    ``input`` gives the complex :math:`\log(1 + e^{z})` (not differentiable).

    Args:
        input: scores :math:`x`, floating point (or complex), any real value.
        target: labels :math:`y`, :math:`\pm 1`; float, integer or bool (torch's backward then fails, refimpl's
            does not); broadcastable to ``input``'s shape; must not require grad.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction`` (checked first, as in torch).
        TypeError: ``input`` or ``target`` not a tensor.
        RuntimeError: ``target`` requires grad; ``target`` that does not broadcast to ``input`` or would
            enlarge it; a bool ``input``; an integer ``input``, or a ``target`` whose dtype cannot be cast to
            ``input``'s (complex into real); a complex ``input`` that requires grad.
    """
    reduction = _validate_soft_margin_loss(input, target, size_average, reduce, reduction)
    return _SoftMarginLossFunction.apply(input, target, reduction)


def _validate_soft_margin_loss(
    input: Tensor, target: Tensor, size_average: bool | None, reduce: bool | None, reduction: str
) -> str:
    """torch's checks, in torch's order and with its exception types; returns the reduction to apply."""
    fn = "soft_margin_loss"
    reduction = _reduction.resolve(fn, reduction, size_average, reduce)
    _checks.check_tensor_argument(fn, "input", input, position=1)
    _checks.check_tensor_argument(fn, "target", target, position=2)
    _checks.check_same_device(fn, input=input, target=target)
    if target.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            f"{fn}(): The function '{fn}' is not differentiable with respect to argument 'target'. This input "
            "cannot have requires_grad True. (the labels are constants: pass target.detach())"
        )
    if input.dtype == torch.bool:
        raise RuntimeError(
            f"{fn}(): Negation, the `-` operator, on a bool tensor is not supported (argument input is bool; "
            "pass floating point scores)"
        )
    # the kernel multiplies the target into a tensor of input's shape: it may broadcast, not enlarge it
    _checks.check_fits_output(fn, "target", target, input.shape, output="input")
    result = torch.result_type(input, target)
    if not (input.is_floating_point() or input.is_complex()):
        # torch writes the loss into a tensor of input's dtype: the product with a float target, or else exp(),
        # is a float that cannot be cast back into an integer input
        produced = result if (result.is_floating_point or result.is_complex) else torch.get_default_dtype()
        raise RuntimeError(
            f"{fn}(): result type {_checks.dtype_name(produced)} can't be cast to the desired output type "
            f"{_checks.dtype_name(input.dtype)} (argument input has dtype {input.dtype}; the loss has input's "
            "dtype, so pass floating point scores)"
        )
    _checks.check_in_place_dtype(fn, "target", target.dtype, input.dtype, output="loss (input's dtype)")
    if input.is_complex() and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            f"{fn}(): {fn} does not support automatic differentiation for outputs with complex dtype "
            f"(argument input is {input.dtype} and requires grad)"
        )
    return reduction


def soft_margin_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
) -> tuple[Tensor]:
    r"""Hand-derived gradient of :func:`soft_margin_loss` with respect to ``input`` (the only differentiable input).

    With :math:`z = -y x` and :math:`\frac{d}{dz}\log(1 + e^{z}) = \sigma(z)`:

    .. math::

        \frac{\partial \ell}{\partial x_i} = -g_i\, y_i\, \sigma(z_i), \qquad |\sigma(z)| \le 1,

    with :math:`g_i` the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean'). Never NaN for
    finite inputs: where torch's :math:`e^{z}/(1 + e^{z})` is :math:`\infty/\infty`, :math:`\sigma(z) = 1`.
    Returns ``(grad_input,)`` in ``input``'s dtype.
    """
    z = (-input * target).to(input.dtype)
    g = _reduction.grad_scale(grad_output, reduction, input.numel())
    grad_input = -g * torch.sigmoid(z) * target  # g and sigma(z) first: a 0-dim g never rounds to the target's dtype
    return (grad_input.to(input.dtype),)  # a float64 target promotes the product; the gradient has input's dtype


def soft_margin_loss_jvp(
    input: Tensor, target: Tensor, tangent_input: Tensor, tangent_target: Tensor, reduction: str = "mean"
) -> Tensor:
    r"""Hand-derived forward-mode derivative (JVP) of :func:`soft_margin_loss` along the tangents :math:`\dot x` and
    :math:`\dot y` (autograd passes zeros for an argument without one):

    .. math::

        \dot l_i = -\sigma(z_i)\, (y_i \dot x_i + x_i \dot y_i), \qquad z_i = -y_i x_i,

    the derivative of :func:`soft_margin_loss_grad` applied to the tangents, reduced as the loss is. torch defines
    the input's term only: with a tangent on the target, torch raises ``NotImplementedError``; refimpl adds its
    term (the labels are :math:`\pm 1` in practice, so it is rarely used).
    """
    z = (-input * target).to(input.dtype)
    loss_tangent = -torch.sigmoid(z) * (target * tangent_input + input * tangent_target)
    return _reduction.reduce_loss(loss_tangent.to(input.dtype), reduction)


class _SoftMarginLossFunction(torch.autograd.Function):
    """Forward: the stable softplus of the negative margin, reduced. Backward: :func:`soft_margin_loss_grad`.
    Forward mode: :func:`soft_margin_loss_jvp`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, reduction: str) -> Tensor:
        z = (-input * target).to(input.dtype)  # the negative margin -y x, in the input's dtype as in torch
        if z.is_complex():
            loss = torch.log1p(torch.exp(z))  # torch's formula: the branch of the complex log that torch picks
        else:
            # log(1 + e^z) = logaddexp(z, 0) = max(z, 0) + log1p(e^{-|z|}): no exponent is positive, so nothing
            # overflows (torch's log1p(exp(z)) is inf beyond z = 88.7 in float32)
            loss = torch.logaddexp(z, z.new_zeros(()))
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, reduction = inputs
        ctx.save_for_backward(input, target)
        ctx.save_for_forward(input, target)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        (grad_input,) = soft_margin_loss_grad(grad_output, input, target, ctx.reduction)
        return grad_input, None, None

    @staticmethod
    def jvp(ctx, tangent_input: Tensor, tangent_target: Tensor, _) -> Tensor:
        input, target = ctx.saved_tensors
        return soft_margin_loss_jvp(input, target, tangent_input, tangent_target, ctx.reduction)


class SoftMarginLoss(Loss):
    """Drop-in for ``torch.nn.SoftMarginLoss``: ``SoftMarginLoss(size_average=None, reduce=None, reduction='mean')``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return soft_margin_loss(input, target, reduction=self.reduction)
