"""Hand-derived gradients: gradcheck and gradgradcheck in float64, and each ``<fn>_grad`` called directly
against torch's backward."""

import pytest
import torch

from refimpl.testing import assert_close
from registry import CASES


def _smooth_samples():
    """float64 samples away from kinks and non-finite values, whose gradient is defined everywhere."""
    for case in CASES:
        for sample in case.samples("cpu", torch.float64):
            if sample.kink or sample.forward_only or not sample.args[0].is_floating_point():
                continue
            if any(isinstance(a, torch.Tensor) and a.numel() == 0 for a in sample.args):
                continue
            yield pytest.param(case, sample, id=f"{case.name}-{sample.desc}")


def _smooth_samples_per_implementation():
    """The smooth samples, once per implementation (refimpl, and refimpl.fast where it is another function)."""
    for param in _smooth_samples():
        case, sample = param.values
        for impl in case.implementations():
            yield pytest.param(case, impl, sample, id=case.test_id(impl, sample.desc))


def _gradcheck_inputs(case, sample, impl="refimpl"):
    """A function of the differentiable tensors only, and those tensors as float64 leaves."""

    def argument(w):
        return sample.args[w] if isinstance(w, int) else sample.kwargs[w]

    names = [w for w in sample.wrt if isinstance(argument(w), torch.Tensor) and argument(w).dtype == torch.float64]
    leaves = [argument(w).detach().clone().requires_grad_(True) for w in names]

    def fn(*tensors):
        if case.gradcheck_wrap is not None:
            tensors = [case.gradcheck_wrap(t) for t in tensors]
        args, kwargs = list(sample.args), dict(sample.kwargs)
        for w, t in zip(names, tensors, strict=True):
            if isinstance(w, int):
                args[w] = t
            else:
                kwargs[w] = t
        return case.implementation(impl)(*args, **kwargs)

    return fn, leaves


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, impl, sample", list(_smooth_samples_per_implementation()))
def test_gradcheck(case, impl, sample):
    fn, leaves = _gradcheck_inputs(case, sample, impl)
    assert torch.autograd.gradcheck(fn, leaves)
    if case.double_backward:
        assert torch.autograd.gradgradcheck(fn, leaves)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, sample", list(_smooth_samples()))
def test_hand_gradient_equals_torch_backward(case, sample):
    """The loss's ``<name>_grad``, called directly, gives torch's backward for every differentiable input."""
    with torch.no_grad():
        out = case.torch_fn(*sample.args, **sample.kwargs)
    grad_output = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    hand, expected = case.hand_gradient(sample, grad_output)
    assert len(hand) == len(expected)
    for i, (a, e) in enumerate(zip(hand, expected, strict=True)):
        assert_close(a, e, f"{case.name}_grad, gradient {i}")
