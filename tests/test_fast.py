"""refimpl.fast is a second implementation of the same API: the 23 functional names with the readable
functions' signatures, tuned where it pays and the readable function itself elsewhere. (Its values, gradients,
errors, dtypes, layouts, fuzzing and purity are tested by the registry tests, over both implementations.)"""

import ast
import inspect

import pytest
import torch

import refimpl.fast
import refimpl.functional
from registry import CASES, CASES_BY_NAME, ORDER, ROOT_PACKAGE


def test_fast_has_every_loss_of_the_registry():
    assert sorted(refimpl.fast.__all__) == sorted(ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_fast_has_the_readable_signature(name):
    fast, readable = getattr(refimpl.fast, name), getattr(refimpl.functional, name)
    assert inspect.signature(fast) == inspect.signature(readable)


def test_fast_replaces_only_what_it_tunes():
    """Each fast function is the readable one or lives in refimpl/fast/; at least one of each kind exists, so the
    registry tests really run a second implementation."""
    tuned = [name for name in ORDER if getattr(refimpl.fast, name) is not getattr(refimpl.functional, name)]
    for name in tuned:
        assert getattr(refimpl.fast, name).__module__.startswith("refimpl.fast."), name
    assert tuned and len(tuned) < len(ORDER)
    assert {case.name for case in CASES if case.implementations() == ("refimpl", "fast")} == set(tuned)


def test_readable_modules_never_import_fast():
    """The readable reference stands alone: no module outside refimpl/fast/ imports from it (refimpl/__init__.py
    only exposes the subpackage)."""
    for path in sorted(ROOT_PACKAGE.rglob("*.py")):
        if "fast" in path.relative_to(ROOT_PACKAGE).parts or path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(m.startswith("refimpl.fast") for m in modules), f"{path} imports {modules}"


def _large_inputs(name: str) -> tuple[tuple[torch.Tensor, ...], dict]:
    """The benchmark's large inputs, 4096 x 1024 float32 (the loss's typical inputs, ``LossCase.inputs``, at the
    size ``benchmarks/bench.py`` calls large), for the tuned losses whose sums run over every element: the
    registry's samples are small, and a sum's rounding error grows with its length."""
    return CASES_BY_NAME[name].inputs(4096, 1024)


LARGE_SUMS = [case.name for case in CASES if case.large_sum_check]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", LARGE_SUMS)
def test_large_float32_sums_match_torch(name, reduction):
    """At 2^22 float32 elements both implementations agree with torch in value and in the first input's gradient:
    a float32 dot product, for one, drifts by about 2e-5 relative at this length, far beyond float32's tolerance."""
    args, kwargs = _large_inputs(name)
    kwargs["reduction"] = "batchmean" if name == "kl_div" and reduction == "mean" else reduction  # kl_div's mean
    values = {}
    for label, fn in (
        ("torch", getattr(torch.nn.functional, name)),
        ("refimpl", getattr(refimpl.functional, name)),
        ("fast", getattr(refimpl.fast, name)),
    ):
        leaf = args[0].clone().requires_grad_(True)
        loss = fn(leaf, *args[1:], **kwargs)
        loss.backward()
        values[label] = (loss.detach(), leaf.grad)
    for label in ("refimpl", "fast"):
        for part, what in enumerate(("value", "gradient")):
            torch.testing.assert_close(
                values[label][part], values["torch"][part], msg=lambda m, label=label, what=what: f"{label} {what}: {m}"
            )
