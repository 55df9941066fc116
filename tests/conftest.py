"""Shared by the tests: the devices every parity test runs on, and the book's notebooks."""

from pathlib import Path

import pytest
import torch
from _run_record import pytest_addoption, pytest_configure  # noqa: F401  (--write-run-record: the test-run record)
from hypothesis import HealthCheck, settings

# The test profile, TEST_PROFILE (registry/core.py): 'ci' (the default: what CI runs within its budget) or 'long'
# (the exhaustive runs: hypothesis's many random examples, both torch.compile backends on both checks, refimpl.fast
# on every sample, every transform on every sample, the chapters under every vector kernel). The older
# HYPOTHESIS_PROFILE=long still selects it.
from registry.core import LONG, PROFILE  # noqa: F401, E402

_FUZZ_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.differing_executors]
settings.register_profile(
    "ci", max_examples=50, deadline=None, derandomize=True, database=None, suppress_health_check=_FUZZ_SUPPRESS
)
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=_FUZZ_SUPPRESS)
settings.load_profile(PROFILE)

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine"),
    ),
]

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
# every notebook of the book, outside build output and editor checkpoints
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb") if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts)


def nbval_options(cell) -> dict:
    """nbval's options for a cell from its comment markers and tags (skip, check, check_exception)."""
    from nbval.plugin import find_comment_markers, find_metadata_tags  # only the notebook tests need nbval

    return dict(find_comment_markers(cell.source)) | dict(find_metadata_tags(cell.metadata))
