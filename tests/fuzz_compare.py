"""Run one call on torch and on refimpl and compare everything: raised exception type, value (shape, dtype,
numbers, NaN and inf) and the gradient of every argument in ``wrt``. Shared by test_fuzz, test_dtypes and
test_layouts; unlike tests/test_parity.py it accepts calls where torch raises (refimpl must raise the same type),
and it compares gradients within per-dtype tolerances scaled to the size of the gradient."""

import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from refimpl.testing import tolerances


def _leaf(value, requires_grad: bool):
    """A detached alias of a tensor argument (strides kept: ``detach`` does not copy), requiring grad if asked."""
    if not isinstance(value, Tensor):
        return value
    leaf = value.detach()
    if requires_grad and (leaf.is_floating_point() or leaf.is_complex()):
        leaf = leaf.requires_grad_(True)
    return leaf


def outcome(fn: Callable, args: tuple, kwargs: dict, wrt: tuple, grad_seed: int = 0):
    """``('raises', stage, type)`` or ``('ok', value, {w: gradient})`` of ``fn(*args, **kwargs)`` on fresh leaves
    (gradients of ``sum(value * v)`` for a seeded random ``v``). Warnings are silenced: tests/test_parity.py
    compares them on the registry."""
    args = [_leaf(a, i in wrt) for i, a in enumerate(args)]
    kwargs = {k: _leaf(v, k in wrt) for k, v in kwargs.items()}
    leaves = {w: args[w] if isinstance(w, int) else kwargs[w] for w in wrt}
    leaves = {w: t for w, t in leaves.items() if isinstance(t, Tensor) and t.requires_grad}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the type is what is compared
            return ("raises", "forward", type(error))
        grads = {}
        if leaves and isinstance(value, Tensor) and value.requires_grad:
            generator = torch.Generator().manual_seed(grad_seed)
            v = torch.randn(value.shape, generator=generator, dtype=torch.float64).to(value.dtype).to(value.device)
            try:
                found = torch.autograd.grad(value, list(leaves.values()), v, allow_unused=True)
            except Exception as error:  # noqa: BLE001
                return ("raises", "backward", type(error))
            grads = dict(zip(leaves, found, strict=True))
    return ("ok", value.detach() if isinstance(value, Tensor) else value, grads)


def assert_same_outcome(
    actual, expected, what: str, slack: float = 1.0, tol_dtype: torch.dtype | None = None, input_scale: float = 1.0
) -> None:
    """The two outcomes agree: the same exception type at the same stage, or the same value and gradients.
    Tolerances are those of the result's dtype (or ``tol_dtype``: a float64 result computed from float32 inputs
    carries float32 rounding; the looser of the two), times ``slack``. Gradients' absolute tolerance grows with
    ``input_scale``, the largest finite input: a gradient that cancels terms of that size keeps their rounding."""
    if expected[0] == "raises" or actual[0] == "raises":
        torch_says = f"raises {expected[2].__name__} in {expected[1]}" if expected[0] == "raises" else "computes"
        ref_says = f"raises {actual[2].__name__} in {actual[1]}" if actual[0] == "raises" else "computes"
        assert torch_says == ref_says, f"{what}: torch {torch_says}, refimpl {ref_says}"
        return
    _, value, grads = actual
    _, expected_value, expected_grads = expected
    rtol, atol = _tolerances(expected_value.dtype, tol_dtype, slack)
    torch.testing.assert_close(
        value, expected_value, rtol=rtol, atol=atol, equal_nan=True, msg=lambda m: f"{what} value: {m}"
    )
    for w, e in expected_grads.items():
        a = grads.get(w)
        if e is None or a is None:
            other = e if a is None else a
            assert other is None or bool((other == 0).all()), f"{what}: gradient of {w!r} present in one only"
            continue
        rtol, atol = _tolerances(e.dtype, tol_dtype, slack)
        # a gradient entry is a sum of terms as large as the largest gradient entry or the loss itself (a weighted
        # mean's weight gradient cancels terms of the loss's size): absolute error scales with them
        finite = torch.cat([t[t.isfinite()].abs().double().reshape(-1) for t in (e, expected_value)])
        scale = max(input_scale, float(finite.max())) if finite.numel() else input_scale
        torch.testing.assert_close(
            a, e, rtol=rtol, atol=atol * scale, equal_nan=True, msg=lambda m, w=w: f"{what} gradient of {w!r}: {m}"
        )


def _tolerances(dtype: torch.dtype, tol_dtype: torch.dtype | None, slack: float) -> tuple[float, float]:
    rtol, atol = tolerances(dtype)
    if tol_dtype is not None:
        rtol, atol = max(rtol, tolerances(tol_dtype)[0]), max(atol, tolerances(tol_dtype)[1])
    return slack * rtol, slack * atol


def largest_finite(*values) -> float:
    """max(1, the largest finite magnitude among the floating point tensors in ``values``)."""
    found = [
        v[v.isfinite()].abs().max().item()
        for v in values
        if isinstance(v, Tensor) and v.is_floating_point() and v.isfinite().any()
    ]
    return max([1.0, *found])
