"""Compare refimpl with torch: ``assert_matches_torch`` for tests and chapters.

``assert_matches_torch`` runs a refimpl loss and the torch loss of the same name on the same inputs and
asserts that values, shapes, dtypes and the gradients of every differentiable argument agree. The exercises'
``self_check`` lives in :mod:`refimpl.exercises`.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

import refimpl.functional

TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    # dtype: (rtol, atol). fp32/fp64 from the bitwise study of torch's kernels (a few ulp apart);
    # half precision is loose because torch's CPU kernels accumulate in float32 and round once.
    torch.float64: (1e-10, 1e-12),
    torch.float32: (1e-5, 1e-6),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (2e-2, 1e-2),
    torch.complex64: (1e-5, 1e-6),
    torch.complex128: (1e-10, 1e-12),
}


def tolerances(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` used for a result of ``dtype``; exact for integer results."""
    return TOLERANCES.get(dtype, (0.0, 0.0))


def assert_close(actual: Tensor, expected: Tensor, what: str, computed_from: torch.dtype | None = None) -> None:
    """``torch.testing.assert_close`` with the table above; NaN equals NaN; dtype and shape must match.

    ``computed_from``: the least precise dtype among the call's floating arguments, when it is less precise than
    the result's (a float32 cross-entropy of float16 logits: torch's log-softmax rounds to float16 on the way,
    so the float32 result carries float16 rounding); its tolerances apply then."""
    rtol, atol = tolerances(expected.dtype)
    if computed_from is not None:
        rtol, atol = max(rtol, tolerances(computed_from)[0]), max(atol, tolerances(computed_from)[1])
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m: f"{what}: {m}")


def available_devices() -> list[str]:
    """``['cpu']``, plus ``'cuda'`` when torch sees a GPU: the devices every check runs on."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _leaf(value, requires_grad: bool):
    """A detached copy of a tensor argument (requiring grad if asked); other values as they are."""
    if not isinstance(value, Tensor):
        return value
    return value.detach().clone().requires_grad_(requires_grad)


def assert_matches_torch(
    name: str,
    *args: Any,
    wrt: Sequence[int | str] | None = None,
    grad_seed: int = 0,
    **kwargs: Any,
) -> Tensor:
    """Assert that ``refimpl.functional.<name>`` equals ``torch.nn.functional.<name>`` on these arguments.

    Both are called with the same positional ``args`` and keyword ``kwargs``. The value must match in
    shape, dtype and (within the per-dtype tolerance) value, NaN and inf included. Then the gradient of
    ``sum(out * v)`` for one seeded random ``v`` is compared for every argument in ``wrt``: positions of
    ``args`` or names of ``kwargs`` (default: every floating point positional tensor). Returns torch's
    value, detached.
    """
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if isinstance(a, Tensor) and (a.is_floating_point() or a.is_complex())]
    results = []
    for fn in (torch_functional(name), getattr(refimpl.functional, name)):
        call_args = [_leaf(a, i in wrt) for i, a in enumerate(args)]
        call_kwargs = {k: _leaf(v, k in wrt) for k, v in kwargs.items()}
        leaves = [call_args[w] if isinstance(w, int) else call_kwargs[w] for w in wrt]
        results.append((fn(*call_args, **call_kwargs), leaves))
    (expected, expected_leaves), (actual, actual_leaves) = results
    assert_close(actual, expected, f"{name} value")
    if not wrt or not expected.requires_grad:
        return expected.detach()
    generator = torch.Generator().manual_seed(grad_seed)
    v = torch.randn(expected.shape, generator=generator, dtype=torch.float64).to(expected.dtype)
    v = v.to(expected.device)
    expected_grads = torch.autograd.grad(expected, expected_leaves, v, allow_unused=True)
    actual_grads = torch.autograd.grad(actual, actual_leaves, v, allow_unused=True)
    for w, e, a in zip(wrt, expected_grads, actual_grads, strict=True):
        if e is None or a is None:
            assert (e is None) == (a is None) or _is_zero(e if a is None else a), (
                f"{name}: gradient of argument {w!r} is {'missing' if a is None else 'unexpected'} in refimpl"
            )
            continue
        assert_close(a, e, f"{name} gradient of argument {w!r}")
    return expected.detach()


def torch_functional(name: str) -> Callable:
    """``torch.nn.functional.<name>``; for a module-only loss (``adaptive_log_softmax``), torch's module run
    with the given weights, the same functional form as ``refimpl.functional.<name>``."""
    if name == "adaptive_log_softmax" and not hasattr(F, name):
        from refimpl.large_output.adaptive_log_softmax import call_with_weights

        return functools.partial(call_with_weights, torch.nn.AdaptiveLogSoftmaxWithLoss)
    return getattr(F, name)


def _is_zero(t: Tensor) -> bool:
    return bool((t == 0).all())
