"""Gradient plumbing shared by ``kl_div_grad`` and ``poisson_nll_loss_grad``: broadcasting, dtypes, complex.

Both losses are sums of terms, some of which depend on one argument only (``xlogy(y, y)``, ``exp(x)``, the
Stirling term) while others mix both (``y * x``). torch's backward gives each term the upstream gradient
``g`` summed over the dimensions that term was broadcast along, in that term's dtype, and adds the
contributions in the argument's dtype. Doing the same makes float16 and bfloat16 gradients round as
torch's do; in float32 and float64 it only changes the last bits.
"""

import torch
from torch import Tensor


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
