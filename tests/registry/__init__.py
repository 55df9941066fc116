"""The registry: one ``LossCase`` record per loss, in the order of the book.

Each part of the book has its module here (``registry/<part>.py``, the same parts as ``book/`` and
``refimpl/``), which defines one record per loss and lists them as ``CASES`` in the order of their chapters.
Every test, benchmark and page that needs the list of losses iterates ``CASES``; adding a loss means adding its
record to its part's module (see CONTRIBUTING.md), not a test. The record type and its parts are in ``core.py``.
"""

import dataclasses
import functools
from pathlib import Path

import refimpl

from . import classification, large_output, margin, metric, probabilistic, regression, sequence
from .core import FLOATING, IMPLEMENTATIONS, REDUCTIONS, ErrorInput, KnownValue, LossCase, ModuleInput, SampleInput
from .mixed_dtypes import with_mixed_samples

PARTS = (regression, probabilistic, classification, large_output, margin, metric, sequence)  # the book's order


def _built_once(case: LossCase) -> LossCase:
    """``case`` whose samples are built once per (device, dtype) and shared by every test that asks for them (the
    tests never modify a sample: they call the loss on copies). ``case.samples.__wrapped__`` builds afresh."""
    return dataclasses.replace(case, samples=functools.cache(case.samples))


CASES: list[LossCase] = [_built_once(with_mixed_samples(case)) for part in PARTS for case in part.CASES]
CASES_BY_NAME = {case.name: case for case in CASES}
ORDER = [case.name for case in CASES]
ROOT_PACKAGE = Path(refimpl.__file__).resolve().parent  # refimpl/

__all__ = [
    "CASES",
    "CASES_BY_NAME",
    "FLOATING",
    "IMPLEMENTATIONS",
    "ORDER",
    "PARTS",
    "ROOT_PACKAGE",
    "REDUCTIONS",
    "ErrorInput",
    "KnownValue",
    "LossCase",
    "ModuleInput",
    "SampleInput",
]
