"""The parity test: every sample of every loss, on every device and dtype, against torch in the same run.

Run over both implementations, refimpl (readable) and refimpl.fast. Compared: the value (shape, dtype, numbers,
NaN and inf), the gradient of every differentiable argument for one seeded random upstream gradient, and the
warnings (category and message).
"""

import warnings

import pytest
import torch

from conftest import DEVICES
from refimpl.testing import assert_close
from registry import CASES, SampleInput


def _params():
    for case in CASES:
        for impl in case.implementations():
            for dtype in case.dtypes["cpu"]:
                for sample in case.samples_under_test(impl, "cpu", dtype):
                    test_id = case.test_id(impl, sample.desc, str(dtype)[6:])
                    yield pytest.param(case, impl, sample.desc, dtype, id=test_id)


def _leaf(value, requires_grad: bool):
    if not isinstance(value, torch.Tensor):
        return value
    return value.detach().clone().requires_grad_(requires_grad and (value.is_floating_point() or value.is_complex()))


def run(fn, sample: SampleInput, grad_seed: int = 0):
    """Call ``fn`` on fresh leaves; return (value, gradients by argument, warnings as (category, text))."""
    args = [_leaf(a, i in sample.wrt) for i, a in enumerate(sample.args)]
    kwargs = {k: _leaf(v, k in sample.wrt) for k, v in sample.kwargs.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn(*args, **kwargs)
    leaves = {w: args[w] if isinstance(w, int) else kwargs[w] for w in sample.wrt}
    leaves = {w: t for w, t in leaves.items() if isinstance(t, torch.Tensor) and t.requires_grad}
    grads = {}
    if leaves and value.requires_grad and not sample.forward_only:
        generator = torch.Generator().manual_seed(grad_seed)
        v = torch.randn(value.shape, generator=generator, dtype=torch.float64).to(value.dtype).to(value.device)
        found = torch.autograd.grad(value, list(leaves.values()), v, allow_unused=True)
        grads = dict(zip(leaves, found, strict=True))
    return value.detach(), grads, sorted((w.category.__name__, str(w.message)) for w in caught)


def least_precise(sample: SampleInput) -> torch.dtype | None:
    """The least precise floating dtype among the sample's tensors (bfloat16 < float16 < float32 < float64)."""
    order = (torch.bfloat16, torch.float16, torch.float32, torch.float64)
    dtypes = {a.dtype for a in (*sample.args, *sample.kwargs.values()) if isinstance(a, torch.Tensor)}
    return next((dtype for dtype in order if dtype in dtypes), None)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case, impl, desc, dtype", list(_params()))
def test_parity(case, impl, desc, dtype, device):
    sample = next(s for s in case.samples(device, dtype) if s.desc == desc)  # built once per (loss, device, dtype)
    expected, expected_grads, expected_warnings = run(case.torch_fn, sample)
    actual, actual_grads, actual_warnings = run(case.implementation(impl), sample)
    least = least_precise(sample)
    assert_close(actual, expected, f"{case.name} value", least)
    assert actual_warnings == expected_warnings
    assert actual_grads.keys() == expected_grads.keys()
    for w, expected_grad in expected_grads.items():
        actual_grad = actual_grads[w]
        if expected_grad is None or actual_grad is None:
            assert expected_grad is None and actual_grad is None, f"gradient of {w!r} present in one only"
            continue
        assert_close(actual_grad, expected_grad, f"{case.name} gradient of argument {w!r}", least)
