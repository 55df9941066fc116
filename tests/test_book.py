"""The book: every loss in the registry has its chapter, listed in the table of contents, with the
template's sections in order, outputs stored, a figure, and refimpl's source read from the module."""

import functools
import importlib
import inspect
import json
import pkgutil
import re
import sys
from pathlib import Path

import pytest
import torch

import refimpl.fast
from registry import CASES

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [
    "When to use it",
    "Definition",
    "Derivation",
    "Gradient",
    "Plots",
    "Reference implementation",
    "Checked against torch.nn",
    "Pros and cons",
    "Pitfalls",
    "Exercises",
    "References",
]


def _notebook(case) -> dict:
    return json.loads((ROOT / "book" / case.part / f"{case.chapter}.ipynb").read_text())


def _headings(nb: dict) -> list[str]:
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            lines += [line for line in "".join(cell["source"]).splitlines() if line.startswith("## ")]
    return lines


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_chapter_is_in_the_toc(case):
    toc = (ROOT / "_toc.yml").read_text()
    assert re.search(rf"file:\s*book/{case.part}/{case.chapter}\s*$", toc, re.M)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_chapter_has_the_template_sections_in_order(case):
    headings = _headings(_notebook(case))
    positions = []
    for section in SECTIONS:
        found = [i for i, h in enumerate(headings) if section.lower() in h.lower()]
        assert found, f"{case.chapter}: no '## ...{section}...' heading"
        positions.append(found[0])
    assert positions == sorted(positions), f"{case.chapter}: sections out of order: {headings}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_chapter_is_stored_with_outputs_and_a_figure(case):
    nb = _notebook(case)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code
    unexecuted = [c for c in code if c.get("execution_count") is None and "".join(c["source"]).strip()]
    assert not unexecuted, f"{case.chapter}: {len(unexecuted)} code cells were never executed"
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{case.chapter}: no stored figure"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{case.chapter}: a stored output is an error"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_chapter_reads_refimpl_source_and_checks_against_torch(case):
    sources = "\n".join("".join(c["source"]) for c in _notebook(case)["cells"] if c["cell_type"] == "code")
    assert "inspect.getsource" in sources, "the reference implementation must be read from the module"
    assert f'assert_matches_torch("{case.name}"' in sources or f"assert_matches_torch('{case.name}'" in sources
    assert "available_devices()" in sources, "the check must run on every available device"


EXERCISE_KINDS = ("Implementation", "Derivation", "Experiment")


def _exercise_titles(nb: dict) -> list[str]:
    return [
        match.group(1).strip()
        for cell in nb["cells"]
        if cell["cell_type"] == "markdown"
        for match in re.finditer(r"^```\{exercise\}\s*(.*)$", "".join(cell["source"]), re.M)
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_chapter_has_exercises_of_every_kind(case):
    """At least three exercises, each titled with its kind ("Implementation: ...", "Derivation: ...",
    "Experiment: ..."), with at least one of each kind."""
    titles = _exercise_titles(_notebook(case))
    assert len(titles) >= 3, f"{case.chapter}: {len(titles)} exercises"
    kinds = [title.split(":", 1)[0] for title in titles]
    unknown = [title for title, kind in zip(titles, kinds, strict=True) if kind not in EXERCISE_KINDS]
    assert not unknown, f"{case.chapter}: titles must start with one of {EXERCISE_KINDS}: {unknown}"
    assert set(kinds) == set(EXERCISE_KINDS), f"{case.chapter}: kinds {kinds}"


def _printed(nb: dict) -> str:
    """Everything the chapter's code cells printed, as stored."""
    return "".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def _defined_in(module) -> list:
    """The functions and classes a module defines itself (not those it imports)."""
    return [
        obj
        for _, obj in inspect.getmembers(module, lambda o: inspect.isfunction(o) or inspect.isclass(o))
        if obj.__module__ == module.__name__
    ]


def _readable_listing(case) -> list:
    """What a loss chapter must print from its readable module: the loss (for adaptive_log_softmax, the module's
    forward: torch has no functional form), every autograd.Function and every ``*_grad`` the module defines."""
    module = sys.modules[case.ref_fn.__module__]
    loss = case.ref_module.forward if case.name == "adaptive_log_softmax" else getattr(module, case.name)
    wiring = [obj for obj in _defined_in(module) if inspect.isclass(obj) and issubclass(obj, torch.autograd.Function)]
    grads = [obj for obj in _defined_in(module) if inspect.isfunction(obj) and obj.__name__.endswith("_grad")]
    assert wiring and grads, f"{module.__name__} defines no autograd.Function or no *_grad"
    return [loss, *wiring, *grads]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.chapter)
def test_chapter_prints_the_readable_code_as_it_is_now(case):
    """The Reference implementation prints the readable loss, its Function and its gradient, exactly as the module
    holds them now (a listing left stale by a change to refimpl fails), and never a listing of refimpl.fast."""
    printed = _printed(_notebook(case))
    for obj in _readable_listing(case):
        assert inspect.getsource(obj) in printed, f"{case.chapter} does not print the current {obj.__qualname__}"
    for source, name in _fast_only_listings():
        assert source not in printed, f"{case.chapter} prints refimpl.fast's {name}"


@functools.cache
def _fast_only_listings() -> list[tuple[str, str]]:
    """(source, name) of every function and class of refimpl.fast of more than a few lines that no readable module
    holds word for word (a helper copied unchanged is readable code wherever it lives)."""
    package = Path(refimpl.fast.__file__).parent
    readable = "".join(p.read_text() for p in sorted(package.parent.rglob("*.py")) if package not in p.parents)
    listings = []
    for module_info in pkgutil.iter_modules(refimpl.fast.__path__, "refimpl.fast."):
        for obj in _defined_in(importlib.import_module(module_info.name)):
            try:
                source = inspect.getsource(obj)
            except OSError:  # made at run time (a namedtuple): no listing to print
                continue
            if source.count("\n") >= 3 and source not in readable:
                listings.append((source, obj.__qualname__))
    return listings
