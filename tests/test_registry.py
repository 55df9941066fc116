"""The registry is reviewed code: its generators cover every reduction and an edge sample with
non-degenerate values, and each docstring formula has a hand-computed value that torch and refimpl give."""

from pathlib import Path

import pytest
import torch

from refimpl.testing import assert_close
from registry import CASES, ROOT_PACKAGE


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_samples_cover_the_math(case):
    samples = case.samples("cpu", torch.float64)
    descs = [s.desc for s in samples]
    assert len(descs) == len(set(descs)), "sample descriptions are pytest ids: they must be unique"
    reductions = {s.kwargs.get("reduction", "mean") for s in samples}
    assert {"none", "mean", "sum"} <= reductions
    assert any(s.kink for s in samples), "no sample sits on a kink or threshold"
    assert any(a.numel() == 0 for s in samples for a in s.args if isinstance(a, torch.Tensor)), "no empty batch"
    for s in samples:
        tensors = [a for a in s.args if isinstance(a, torch.Tensor) and a.numel() > 1]
        for t in tensors:
            assert (t != t.flatten()[0]).any() or "empty" in s.desc, f"{s.desc}: degenerate constant input"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_samples_are_reproducible_and_device_independent(case):
    build = case.samples.__wrapped__  # the generator itself: the registry caches what it builds
    first, second = build("cpu", torch.float64), build("cpu", torch.float64)
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a.args, b.args, strict=True):
            if isinstance(x, torch.Tensor):
                assert torch.equal(x.nan_to_num(), y.nan_to_num())
    for dtype in case.dtypes["cpu"]:
        assert [s.desc for s in case.samples("cpu", dtype)], dtype


def _known():
    for case in CASES:
        for impl in case.implementations():
            for known in case.known_values:
                yield pytest.param(case, impl, known, id=case.test_id(impl, known.desc))


@pytest.mark.parametrize("case, impl, known", list(_known()))
def test_docstring_formula_by_hand(case, impl, known):
    expected = torch.tensor(known.expected, dtype=torch.float64)
    assert_close(case.torch_fn(*known.args, **known.kwargs), expected, f"torch {case.name} ({known.desc})")
    assert_close(case.implementation(impl)(*known.args, **known.kwargs), expected, f"{impl} {case.name} ({known.desc})")


def test_every_loss_has_one_record_in_the_order_of_the_book():
    import re

    from registry import ORDER, PARTS

    assert len(ORDER) == len(set(ORDER)), "a loss has two records"
    toc = (Path(__file__).resolve().parents[1] / "_toc.yml").read_text()
    chapters = [(part, chapter) for part, chapter in re.findall(r"file: book/(\w+)/(\w+)", toc)]
    recorded = [(case.part, case.chapter) for part in PARTS for case in part.CASES]
    assert recorded == [c for c in chapters if c in recorded], "the registry's order is not the book's (_toc.yml)"
    for part in PARTS:
        assert all(case.part == part.__name__.split(".")[-1] for case in part.CASES), (
            f"a record in the wrong part: {part}"
        )


def _places(case) -> dict[str, bool]:
    """Where a loss must appear besides its record, each named as a contributor would look for it. Optional, so
    not listed: a recommend leaf, a diagnose detector, exercise inputs in refimpl/exercises.py (a chapter may pass
    its own), a tuned refimpl.fast module."""
    import refimpl.fast
    import refimpl.functional
    import refimpl.nn
    from refimpl.guide.inputs import MAKERS

    module = case.torch_module.__name__
    root = ROOT_PACKAGE.parent
    toc = (root / "_toc.yml").read_text()
    return {
        f"refimpl/{case.part}/: the module defining {case.name}": case.ref_fn.__module__.startswith(
            f"refimpl.{case.part}."
        ),
        f"refimpl/functional.py: export {case.name}": case.name in refimpl.functional.__all__,
        f"refimpl/functional.py: export {case.name}_grad (the hand-derived gradient)": (
            f"{case.name}_grad" in refimpl.functional.__all__ or case.name == "adaptive_log_softmax"
        ),
        f"refimpl/nn.py: export {module}": module in refimpl.nn.__all__,
        f"refimpl/fast/__init__.py: export {case.name} (the readable one where nothing is tuned)": (
            case.name in refimpl.fast.__all__
        ),
        f"book/{case.part}/{case.chapter}.ipynb: the chapter": (
            root / "book" / case.part / f"{case.chapter}.ipynb"
        ).is_file(),
        f"_toc.yml: book/{case.part}/{case.chapter}": f"file: book/{case.part}/{case.chapter}\n" in toc,
        f"refimpl/guide/cards.py: CARDS[{case.name!r}]": case.card is not None,
        f"refimpl/guide/inputs.py: MAKERS[{case.name!r}] (typical inputs)": case.name in MAKERS,
        f"tests/registry/{case.part}.py: the record's fuzz strategy": case.fuzz is not None,
        f"tests/registry/{case.part}.py: the record's forbidden ops include {case.name!r}": case.name in case.forbidden,
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_loss_is_wired_everywhere_it_must_be(case):
    """Adding a loss (CONTRIBUTING.md, "Adding a loss"): each place it must appear, named when it is missing."""
    missing = [place for place, present in _places(case).items() if not present]
    assert not missing, f"{case.name} is missing from: " + "; ".join(missing)


def test_every_refimpl_loss_has_a_record():
    """The reverse direction: a loss exported by refimpl.functional or a module exported by refimpl.nn without a
    record would escape every registry-driven test."""
    import refimpl.functional
    import refimpl.nn

    names = {f"{case.name}{suffix}" for case in CASES for suffix in ("", "_grad", "_jvp")}
    helpers = {"target_log_prob", "target_log_prob_grad"}  # cross_entropy's and nll_loss's shared step, not a loss
    unrecorded = sorted(set(refimpl.functional.__all__) - names - helpers)
    assert not unrecorded, f"refimpl.functional exports losses without a record in tests/registry/: {unrecorded}"
    modules = {case.torch_module.__name__ for case in CASES}
    assert not sorted(set(refimpl.nn.__all__) - modules), "refimpl.nn exports modules without a record"
