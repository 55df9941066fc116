"""Reductions: the strings torch accepts, the legacy arguments, and how a reduction moves gradients.

Every loss in refimpl ends in one of three ways, selected by ``reduction``:

.. math::

    \\ell(x, y) = L = (l_1, \\dots, l_n) \\quad \\text{('none')}, \\qquad
    \\frac{1}{n} \\sum_i l_i \\quad \\text{('mean')}, \\qquad
    \\sum_i l_i \\quad \\text{('sum')}

where ``n`` is the number of elements of the unreduced loss. A weighted mean divides by the sum of the
weights instead of ``n`` (``l1_loss`` and ``mse_loss`` with ``weight=``).

The deprecated ``size_average`` and ``reduce`` arguments, when either is given, override ``reduction``
exactly as ``torch.nn._reduction.legacy_get_string`` does:

==================  ==============  =======
size_average        reduce          result
==================  ==============  =======
None or True        None or True    'mean'
False               None or True    'sum'
any                 False           'none'
==================  ==============  =======
"""

import warnings

import torch
from torch import Tensor

from refimpl._checks import user_stacklevel

REDUCTIONS = ("none", "mean", "sum")


def legacy_get_string(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> str:
    """Map the deprecated ``size_average``/``reduce`` pair to a reduction string, warning as torch does."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        reduction = "mean"
    elif reduce:
        reduction = "sum"
    else:
        reduction = "none"
    if emit_warning:
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
            stacklevel=user_stacklevel(),
        )
    return reduction


def resolve(fn_name: str, reduction: str, size_average: bool | None = None, reduce: bool | None = None) -> str:
    """Return the reduction a loss must apply: legacy arguments first, then ``reduction`` validated.

    Accepts the deprecated alias ``'elementwise_mean'`` with torch's warning. Anything outside
    ``'none' | 'mean' | 'sum'`` raises ``ValueError`` with torch's phrase
    "is not a valid value for reduction", naming the function and the argument.
    """
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            stacklevel=user_stacklevel(),
        )
        return "mean"
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{fn_name}(): {reduction} is not a valid value for reduction "
            f"(argument reduction={reduction!r}; expected 'none', 'mean' or 'sum')"
        )
    return reduction


def resolve_weighted(fn_name: str, reduction: str) -> str:
    """Validate ``reduction`` on the ``weight=`` path of l1/mse/huber, which has its own message in torch."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{fn_name}(): Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum' "
            f"(argument reduction={reduction!r})."
        )
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Apply a validated reduction to an unreduced loss. An empty 'mean' is NaN (0/0), an empty 'sum' is 0."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    return loss.sum()


def reduce_weighted(loss: Tensor, weight: Tensor, reduction: str, mean_over: str) -> Tensor:
    """Reduce ``weight * loss``. 'mean' divides by ``sum(weight)`` when ``mean_over='weight'`` (the
    weighted mean of l1/mse, NaN when the weights sum to 0) or by the number of elements when
    ``mean_over='numel'`` (huber)."""
    weighted = loss * weight
    if reduction == "mean" and mean_over == "weight":
        return weighted.sum() / weight.sum()
    return reduce_loss(weighted, reduction)


def reduce_jvp(
    loss: Tensor,
    loss_tangent: Tensor,
    reduction: str,
    weight: Tensor | None = None,
    weight_tangent: Tensor | None = None,
    mean_over: str = "weight",
) -> Tensor:
    r"""Forward-mode derivative of :func:`reduce_loss` or :func:`reduce_weighted`: the tangent of
    ``reduce(weight * loss)`` from the tangent of the unweighted elementwise loss, :math:`\dot l_i`, and of the
    weight, :math:`\dot w_i`. Each term is :math:`w_i \dot l_i + \dot w_i l_i`, reduced as the loss is, except the
    weighted mean over the weights, :math:`L = \sum_i w_i l_i / \sum_j w_j`, whose quotient rule gives
    :math:`\dot L = (\sum_i (w_i \dot l_i + \dot w_i l_i) - L \sum_j \dot w_j) / \sum_j w_j`."""
    if weight is None:
        return reduce_loss(loss_tangent, reduction)
    term_tangent = weight * loss_tangent
    if weight_tangent is not None:
        term_tangent = term_tangent + weight_tangent * loss
    if reduction == "mean" and mean_over == "weight":
        total = weight.sum()
        total_tangent = 0.0 if weight_tangent is None else weight_tangent.sum()
        return (term_tangent.sum() - (loss * weight).sum() / total * total_tangent) / total
    return reduce_loss(term_tangent, reduction)


def grad_scale(grad_output: Tensor, reduction: str, numel: int) -> Tensor:
    """The upstream gradient each element of the unreduced loss receives, ready to broadcast.

    'none' passes ``grad_output`` through (one value per element); 'sum' gives every element the scalar
    ``grad_output``; 'mean' gives it ``grad_output / n``, the derivative of ``sum(l) / n``.
    """
    if reduction == "mean":
        return grad_output / numel
    return grad_output


def weighted_grads(
    grad_output: Tensor,
    loss: Tensor,
    dloss: Tensor,
    weight: Tensor,
    reduction: str,
    mean_over: str,
) -> tuple[Tensor, Tensor]:
    """Gradients of ``reduce(weight * loss)`` with respect to the residual and to ``weight``.

    ``loss`` is the unweighted elementwise loss and ``dloss`` its derivative with respect to the
    residual; ``weight`` broadcasts against both. ``mean_over`` says what 'mean' divides by:
    ``'weight'`` (l1/mse: :math:`L = \\sum_i w_i l_i / \\sum_j w_j`) or ``'numel'`` (huber:
    :math:`L = \\frac{1}{n}\\sum_i w_i l_i`). For the weighted mean the quotient rule gives

    .. math::

        \\frac{\\partial L}{\\partial w_j} = \\frac{l_j - L}{\\sum_i w_i}.
    """
    # Promote explicitly: a 0-dim grad_output would not promote a float32 loss against a float64 weight.
    loss = loss.to(torch.promote_types(loss.dtype, weight.dtype))
    dloss = dloss.to(torch.promote_types(dloss.dtype, weight.dtype))  # stays complex for complex residuals
    if reduction == "mean" and mean_over == "weight":
        total_weight = weight.sum()
        per_element = grad_output / total_weight
        mean = (weight * loss).sum() / total_weight
        grad_residual = dloss * weight * per_element
        grad_weight = (loss * per_element).sum_to_size(weight.shape) - per_element * mean
        return grad_residual, grad_weight
    per_element = grad_scale(grad_output, reduction, loss.numel())
    grad_residual = dloss * weight * per_element  # dimensioned operands first: a 0-dim one would not promote
    grad_weight = (loss * per_element).sum_to_size(weight.shape)
    return grad_residual, grad_weight
