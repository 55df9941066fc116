"""refimpl.fast under torch.func and forward-mode AD: the readable function instead.

Most of refimpl.fast's ``autograd.Function``\\ s keep what the forward computed (buffers, a precomputed gradient) on
``ctx`` for the backward: the old ``forward(ctx, ...)`` form, which ``torch.func`` (``grad``, ``vmap``, ``jvp``,
...) does not support, and they define no forward-mode derivative. Under those transforms the fast functions
therefore call the readable function of the same name, whose Function is written for them; elsewhere, the common
case, they run as tuned.
"""

import functools
from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd import forward_ad


def transforms_active(*values: object) -> bool:
    """Whether a torch.func transform is running, or one of ``values`` is a tensor with a forward-mode tangent."""
    if torch._C._are_functorch_transforms_active():
        return True
    if forward_ad._current_level < 0:  # no dual level is open: no tensor can carry a tangent
        return False
    return any(isinstance(v, Tensor) and forward_ad.unpack_dual(v).tangent is not None for v in values)


def readable_under_transforms(readable: Callable) -> Callable:
    """Decorate a refimpl.fast function so that under torch.func or forward-mode AD it calls ``readable``."""

    def decorate(fast: Callable) -> Callable:
        @functools.wraps(fast)
        def dispatch(*args, **kwargs):
            if transforms_active(*args, *kwargs.values()):
                return readable(*args, **kwargs)
            return fast(*args, **kwargs)

        return dispatch

    return decorate
