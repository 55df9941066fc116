"""Each exercise's self-check fails on the blank stub and passes on the solution.

Chapters tag the stub cell ``exercise-stub`` and its solution ``exercise-solution``; both are
self-contained and end with ``result = self_check(...)``. Each is executed here in a fresh namespace.
"""

import json
from pathlib import Path

import pytest

from registry import CASES

ROOT = Path(__file__).resolve().parent.parent


def _tagged(case, tag: str) -> list[str]:
    nb = json.loads((ROOT / "book" / case.part / f"{case.chapter}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]


def _result(source: str):
    namespace: dict = {}
    exec(compile(source, "<exercise cell>", "exec"), namespace)
    return namespace["result"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_stub_fails_and_solution_passes(case, capsys):
    stubs, solutions = _tagged(case, "exercise-stub"), _tagged(case, "exercise-solution")
    assert stubs, f"{case.chapter}: no cell tagged exercise-stub"
    assert len(stubs) == len(solutions), f"{case.chapter}: every stub needs its solution"
    for stub, solution in zip(stubs, solutions, strict=True):
        assert "self_check" in stub and "self_check" in solution
        assert not _result(stub), f"{case.chapter}: the self-check passes on the blank stub"
        assert _result(solution), f"{case.chapter}: the self-check fails on the solution"
