"""Property-based parity: hypothesis draws calls of every loss (tests/registry/fuzz.py) and refimpl must give
what torch gives: the same exception type where torch raises, else the same value (NaN and inf included) and
the same gradient of every differentiable argument, within the per-dtype tolerances of refimpl.testing.

Profiles (tests/conftest.py, chosen by the TEST_PROFILE environment variable): 'ci' (the default: few
examples, derandomized, so CI is reproducible and quick) and 'long' (many random examples).
"""

import pytest
import torch
from fuzz_compare import assert_same_outcome, largest_finite, outcome
from hypothesis import assume, given
from hypothesis import strategies as st

import refimpl.nn as RN
from registry import CASES, CASES_BY_NAME, ORDER
from registry.fuzz import typical, values


def test_every_loss_has_a_strategy():
    assert [case.name for case in CASES if case.fuzz is None] == [], "records without a fuzz strategy"


@pytest.mark.parametrize(
    "name, impl",
    [(name, impl) for name in ORDER for impl in CASES_BY_NAME[name].implementations()],
    ids=lambda value: value,
)
@given(data=st.data())
def test_fuzzed_parity(name, impl, data):
    case = CASES_BY_NAME[name]
    call = data.draw(st.one_of(case.fuzz, typical(name)), label="call")
    if case.fuzz_excluded is not None:  # a deliberate difference: the record's known_differences says which
        assume(not case.fuzz_excluded(call.args, call.kwargs))
    expected = outcome(case.torch_fn, call.args, call.kwargs, call.wrt)
    actual = outcome(case.implementation(impl), call.args, call.kwargs, call.wrt)
    assert_same_outcome(actual, expected, name, input_scale=largest_finite(*call.args, *call.kwargs.values()))


@st.composite
def _adaptive_modules(draw):
    """Seeded torch and refimpl AdaptiveLogSoftmaxWithLoss with the same weights, and an input and target."""
    dtype = draw(st.sampled_from([torch.float64, torch.float32]))
    n_in, n_classes = draw(st.integers(1, 6)), draw(st.integers(2, 12))
    cut = sorted(draw(st.sets(st.integers(1, n_classes - 1), min_size=1, max_size=3)))
    kwargs = dict(div_value=draw(st.sampled_from([1.0, 2.0, 4.0])), head_bias=draw(st.booleans()))
    torch.manual_seed(draw(st.integers(0, 2**31 - 1)))
    reference = torch.nn.AdaptiveLogSoftmaxWithLoss(n_in, n_classes, cut, **kwargs).to(dtype)
    ours = RN.AdaptiveLogSoftmaxWithLoss(n_in, n_classes, cut, **kwargs).to(dtype)
    ours.load_state_dict(reference.state_dict())
    batch = () if draw(st.integers(0, 4)) == 0 else (draw(st.integers(0, 5)),)
    x = draw(values((*batch, n_in), dtype, modes=("normal", "grid", "large", "special")))
    target = torch.randint(0, n_classes, batch, generator=torch.Generator().manual_seed(draw(st.integers(0, 99))))
    return reference, ours, x, target


def _module_outcome(module, method, x, target):
    """Like ``fuzz_compare.outcome`` for a module method: the gradients are the input's and the parameters'."""
    module.zero_grad(set_to_none=True)
    leaf = x.detach().clone().requires_grad_(True)
    try:
        value = method(module, leaf, target)
    except Exception as error:  # noqa: BLE001 - the type is what is compared
        return ("raises", "forward", type(error))
    grads = {}
    if value.requires_grad:
        v = torch.randn(value.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        value.backward(v.to(value.dtype))
        grads = {"input": leaf.grad, **{name: p.grad for name, p in module.named_parameters()}}
    return ("ok", value.detach(), grads)


METHODS = {
    "forward": lambda m, x, t: torch.cat([r.reshape(-1) for r in m(x, t)]),  # (output, loss) as one tensor
    "log_prob": lambda m, x, t: m.log_prob(x),
    "predict": lambda m, x, t: m.predict(x),
}


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")  # a hidden size of 0
@pytest.mark.parametrize("method", sorted(METHODS))
@given(modules=_adaptive_modules())
def test_fuzzed_adaptive_log_softmax_modules(method, modules):
    """The module-only loss as modules: forward's (output, loss), log_prob and predict, with the gradients of
    the input and of every parameter."""
    reference, ours, x, target = modules
    expected = _module_outcome(reference, METHODS[method], x, target)
    actual = _module_outcome(ours, METHODS[method], x, target)
    assert_same_outcome(actual, expected, f"AdaptiveLogSoftmaxWithLoss.{method}")
