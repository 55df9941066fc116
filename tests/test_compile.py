"""torch.compile: every loss, readable and fast, compiled with the backends the tests use ('eager', 'aot_eager';
inductor is timed in benchmarks/bench.py), gives torch's value and gradient

- on a shape that changes between calls: the loss's typical inputs (``LossCase.inputs``) at three batch sizes, so
  dynamo recompiles with symbolic sizes after the first;
- on a registry-defined subset of samples that between them use every option value (``LossCase.option_samples``).

CI's profile runs the first with 'aot_eager' (dynamo and AOTAutograd's tracing of the backward) and the second
with 'eager' (dynamo alone, cheaper, over the many option values); the 'long' profile (``TEST_PROFILE=long``) runs
both with both backends.

Each test starts from a reset dynamo cache, so that a cache full of earlier tests' graphs cannot make dynamo fall
back to running the function uncompiled, and checks that dynamo captured at least one graph.
"""

import pytest
import torch
from torch._dynamo.utils import counters

from conftest import LONG
from refimpl.testing import assert_close
from registry import CASES

BACKENDS = ("eager", "aot_eager")
BATCHES = (3, 5, 8)


def _value_and_grad(fn, args: tuple, kwargs: dict) -> tuple:
    """The loss and the gradient of its sum with respect to the first argument (a fresh leaf)."""
    leaf = args[0].detach().clone().requires_grad_(True)
    value = fn(leaf, *args[1:], **kwargs)
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    return value.detach(), grad


def _compiled(fn, backend: str):
    torch._dynamo.reset()
    counters.clear()
    return torch.compile(fn, backend=backend)


def _assert_compiled() -> None:
    assert counters["stats"]["unique_graphs"] >= 1, "dynamo captured no graph: the call ran uncompiled"


def _shape_params():
    for case in CASES:
        for impl in case.implementations():
            for backend in BACKENDS if LONG else ("aot_eager",):
                yield pytest.param(case, impl, backend, id=case.test_id(impl, backend))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, impl, backend", list(_shape_params()))
def test_compiled_loss_follows_changing_shapes(case, impl, backend):
    compiled = _compiled(case.implementation(impl), backend)
    for batch in BATCHES:
        args, kwargs = case.inputs(batch, 6, dtype=torch.float64)
        expected = _value_and_grad(case.torch_fn, args, kwargs)
        actual = _value_and_grad(compiled, args, kwargs)
        assert_close(actual[0], expected[0], f"compiled {case.name} value, batch {batch}")
        assert_close(actual[1], expected[1], f"compiled {case.name} gradient, batch {batch}")
    _assert_compiled()


def _option_params():
    for case in CASES:
        for impl in case.implementations():
            for backend in BACKENDS if LONG else ("eager",):
                for sample in case.option_samples("cpu", torch.float64):
                    yield pytest.param(case, impl, backend, sample, id=case.test_id(impl, backend, sample.desc))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, impl, backend, sample", list(_option_params()))
def test_compiled_loss_matches_torch_on_every_option(case, impl, backend, sample):
    compiled = _compiled(case.implementation(impl), backend)
    expected = _value_and_grad(case.torch_fn, sample.args, sample.kwargs)
    actual = _value_and_grad(compiled, sample.args, sample.kwargs)
    assert_close(actual[0], expected[0], f"compiled {case.name} value")
    assert_close(actual[1], expected[1], f"compiled {case.name} gradient")
    _assert_compiled()
