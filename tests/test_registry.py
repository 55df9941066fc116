"""The registry is reviewed code: its generators cover every reduction and an edge sample with
non-degenerate values, and each docstring formula has a hand-computed value that torch and refimpl give."""

from pathlib import Path

import pytest
import torch

from refimpl.testing import assert_close
from registry import CASES


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
    first, second = case.samples("cpu", torch.float64), case.samples("cpu", torch.float64)
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
