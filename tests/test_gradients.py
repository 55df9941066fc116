"""Hand-derived gradients: gradcheck and gradgradcheck in float64, and each ``<fn>_grad`` called directly
against torch's backward."""

import functools

import pytest
import torch

from refimpl.testing import assert_close
from registry import CASES, CASES_BY_NAME


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
    """The smooth samples, once per implementation (refimpl, and refimpl.fast where it is another function; in CI's
    profile refimpl.fast takes those of ``LossCase.samples_under_test``, the subset that uses every option)."""
    for param in _smooth_samples():
        case, sample = param.values
        for impl in case.implementations():
            if impl == "refimpl" or sample.desc in _descs_under_test(case.name, impl):
                yield pytest.param(case, impl, sample, id=case.test_id(impl, sample.desc))


@functools.cache
def _descs_under_test(name: str, impl: str) -> frozenset[str]:
    """The descriptions of the float64 samples the registry tests run for ``impl``, found once per loss."""
    return frozenset(s.desc for s in CASES_BY_NAME[name].samples_under_test(impl, "cpu", torch.float64))


def _gradcheck_inputs(case, sample, impl="refimpl"):
    """A function of the differentiable tensors only, and those tensors as float64 leaves (``impl`` 'torch' wires
    torch's loss the same way)."""

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
        loss = case.torch_fn if impl == "torch" else case.implementation(impl)
        return loss(*args, **kwargs)

    return fn, leaves


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, impl, sample", list(_smooth_samples_per_implementation()))
def test_gradcheck(case, impl, sample):
    fn, leaves = _gradcheck_inputs(case, sample, impl)
    assert torch.autograd.gradcheck(fn, leaves)
    if _second_order(*_gradcheck_inputs(case, sample, "torch"))[0] != "raises":  # torch differentiates twice here
        assert torch.autograd.gradgradcheck(fn, leaves)


def _second_order(fn, leaves) -> tuple:
    """Differentiate the loss's gradient again, as a gradient penalty does: ``("raises", exception type)``, or
    ``("ok", the gradients of <grad, u> with respect to the leaves)``, a term with no graph counted as zero, or
    ``("no graph", zeros)`` when no gradient has a graph at all."""
    leaves = [leaf.detach().clone().requires_grad_(True) for leaf in leaves]
    try:
        out = fn(*leaves)
        v = torch.randn(out.shape, generator=torch.Generator().manual_seed(0), dtype=out.dtype)
        grads = torch.autograd.grad(out, leaves, v, create_graph=True, allow_unused=True)
        generator = torch.Generator().manual_seed(1)
        penalty = sum(
            (g * torch.randn(g.shape, generator=generator, dtype=g.dtype)).sum()
            for g in grads
            if g is not None and g.requires_grad
        )
        if not isinstance(penalty, torch.Tensor):  # no gradient has a graph: every second derivative is zero
            return "no graph", [torch.zeros_like(leaf) for leaf in leaves]
        second = torch.autograd.grad(penalty, leaves, allow_unused=True)
    except Exception as exc:  # the exception type is the result under test
        return "raises", type(exc)
    return "ok", [torch.zeros_like(leaf) if g is None else g for g, leaf in zip(second, leaves, strict=True)]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, impl, sample", list(_smooth_samples_per_implementation()))
def test_double_backward_matches_torch(case, impl, sample):
    """The gradient differentiated again (``create_graph=True``): where torch raises, refimpl raises the same type;
    elsewhere the second-order gradients equal torch's. Decided per sample by calling torch, not from a list. Where
    torch's gradient silently carries no graph (a record's ``known_differences['double-backward:no-graph']``)
    refimpl's still does, and ``test_gradcheck``'s gradgradcheck checks it."""
    expected = _second_order(*_gradcheck_inputs(case, sample, "torch"))
    actual = _second_order(*_gradcheck_inputs(case, sample, impl))
    if expected[0] == "raises":
        assert actual[0] == "raises", f"torch raised {expected[1].__name__}, refimpl differentiated twice"
        assert issubclass(actual[1], expected[1]), f"refimpl raised {actual[1]}, torch {expected[1]}"
        return
    assert actual[0] != "raises", f"refimpl raised {actual[1].__name__} where torch differentiates twice"
    if expected[0] == "no graph" and actual[0] == "ok" and "double-backward:no-graph" in case.known_differences:
        return  # torch drops the second-order term (the record says where); gradgradcheck checks refimpl's
    # Second derivatives pass through two rounded backward formulas, which torch and refimpl write differently
    # (BCE's 1 / (p (1 - p))^2 near p = 0 or 1 amplifies the rounding): compared to 1e-6 relative here, while
    # test_gradcheck's gradgradcheck checks refimpl's against finite differences.
    for i, (a, e) in enumerate(zip(actual[1], expected[1], strict=True)):
        if "double-backward:torch-overflows" in case.known_differences:  # refimpl finite where torch overflows
            assert bool(a.isfinite().all()), f"{case.name} second order {i}: refimpl is not finite"
            a, e = a[e.isfinite()], e[e.isfinite()]
        torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-9, msg=lambda m, i=i: f"{case.name} second order {i}: {m}")


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
