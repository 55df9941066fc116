r"""``kl_div``, tuned: the backward computes only the gradients autograd asks for, and reuses the forward's
:math:`e^y` with ``log_target``.

The readable :mod:`refimpl.probabilistic.kl_div` has a pure gradient that always returns both the input's and the
target's gradient; in training the target is data, and its gradient (a logarithm per element) is work thrown away.
Here the backward passes ``ctx.needs_input_grad`` down, and each term is accumulated as torch's backward does.
Validation is the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._transforms import readable_under_transforms
from refimpl.probabilistic import kl_div as readable


@readable_under_transforms(readable.kl_div)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """:func:`refimpl.probabilistic.kl_div.kl_div`, with the backward below."""
    reduction, batchmean = readable._validate_kl_div(input, target, size_average, reduce, reduction, log_target)
    loss = _KLDivFunction.apply(input, target, reduction, log_target)
    if batchmean and input.dim() != 0:
        loss = loss / input.size(0)  # as torch: after the sum, even after a legacy override; autograd divides g
    return loss


def kl_div_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    log_target: bool = False,
    needs_input_grad: tuple[bool, bool] = (True, True),
    exp_target: Tensor | None = None,
) -> tuple[Tensor | None, Tensor | None]:
    r"""The gradients of :func:`refimpl.probabilistic.kl_div.kl_div_grad`, accumulated term by
    term as torch's backward does: ``(grad_input, grad_target)``, with ``None`` where ``needs_input_grad`` is False
    (the target's gradient is not computed when only the input's is asked for). ``'batchmean'`` is passed as
    ``reduction='sum'`` with ``grad_output / input.size(0)``. ``exp_target``, the forward's :math:`e^y` when
    ``log_target``, saves recomputing it."""
    shape = torch.broadcast_shapes(input.shape, target.shape)
    g = _reduction.grad_scale(grad_output, reduction, shape.numel())
    grad_input = grad_target = None
    # Term by term as torch's backward runs (see refimpl.probabilistic._grads), so half precision rounds alike.
    if log_target:
        exp_target = torch.exp(target) if exp_target is None else exp_target
        if needs_input_grad[0]:  # -g e^y
            grad_input = cast_like(sum_to(times(-g, exp_target), shape, input), input)
        if needs_input_grad[1]:  # g (y - x) e^y  +  g e^y
            through_exp = cast_like(sum_to(g * (target - input), shape, target), exp_target) * exp_target
            grad_target = through_exp + cast_like(sum_to(times(g, exp_target), shape, target), target)
    else:
        if needs_input_grad[0]:  # -g y
            grad_input = cast_like(sum_to(times(-g, target), shape, input), input)
        if needs_input_grad[1]:  # g log y + g y / y  (from xlogy(y, y))  -  g x  (from y * x)
            g_target = cast_like(sum_to(g, shape, target), target)
            # g y / y is g, except at y = 0 and y = inf, where it is NaN: torch's quotient rule for xlogy(y, y)
            from_xlogy = (g_target * torch.log(target)).add_(g_target * target / target)
            grad_target = from_xlogy + cast_like(sum_to(times(-g, input), shape, target), target)
    return (
        None if grad_input is None else grad_input.contiguous(),
        None if grad_target is None else grad_target.contiguous(),
    )


class _KLDivFunction(torch.autograd.Function):
    """Forward: the pointwise formula of :func:`kl_div` and its reduction. Backward: :func:`kl_div_grad`."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, reduction: str, log_target: bool) -> Tensor:
        ctx.reduction, ctx.log_target = reduction, log_target
        if log_target:
            exp_target = torch.exp(target)
            loss = exp_target * (target - input)
            ctx.save_for_backward(input, target, exp_target)
        else:
            loss = torch.xlogy(target, target) - target * input  # xlogy(0, y) = 0: zero targets add nothing
            ctx.save_for_backward(input, target)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, *saved_exp = ctx.saved_tensors
        # e^y from the forward is reused, except when autograd records the gradient for a double backward:
        # then kl_div_grad recomputes it from the target so that the second derivative flows through it.
        exp_target = saved_exp[0] if saved_exp and not torch.is_grad_enabled() else None
        grad_input, grad_target = kl_div_grad(
            grad_output, input, target, ctx.reduction, ctx.log_target, ctx.needs_input_grad[:2], exp_target
        )
        return grad_input, grad_target, None, None


# Gradient plumbing: each term gets the upstream gradient as torch's backward gives it, so half precision rounds
# alike.


def sum_to(grad: Tensor, shape: torch.Size, like: Tensor) -> Tensor:
    """``grad`` (broadcastable to the loss's ``shape``) summed over the dimensions ``like`` was broadcast along,
    so that it has ``like``'s shape. A 0-dim upstream gradient ('sum', 'mean') counts once per element."""
    if like.shape == shape:
        return grad if grad.shape == shape else grad.expand(shape)
    return grad.expand(shape).sum_to_size(like.shape)


def times(grad: Tensor, factor: Tensor) -> Tensor:
    r"""``grad * conj(factor)``, in ``grad``'s dtype (the loss's) or higher.

    torch's upstream gradient is a full tensor of the loss's dtype, so a product with it never stays in a
    lower dtype; with a 0-dim ``grad`` it would, so ``factor`` is converted first. Complex tensors follow
    torch's convention for gradients, :math:`g \cdot \overline{\partial l / \partial z}`.
    """
    factor = factor.to(torch.promote_types(factor.dtype, grad.dtype))
    return grad * (factor.conj() if factor.is_complex() else factor)


def cast_like(grad: Tensor, tensor: Tensor) -> Tensor:
    """``grad`` in ``tensor``'s dtype, as autograd casts a gradient flowing into ``tensor``: the real part
    when ``tensor`` is real and the gradient complex."""
    if grad.is_complex() and not tensor.is_complex():
        grad = grad.real
    return grad.to(tensor.dtype)
