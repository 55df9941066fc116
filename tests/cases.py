"""The registry: one ``LossCase`` per torch.nn loss, in the order of the architecture table.

The tests in this folder are a handful of parametrized functions over ``CASES``; adding a loss means
adding a case to its part's file (``cases_<part>.py``), not a test. The records and helpers the cases
are built from are in ``cases_core.py``.
"""

from cases_core import FLOATING, REDUCTIONS, ErrorInput, KnownValue, LossCase, ModuleInput, SampleInput
from cases_regression import REGRESSION

CASES: list[LossCase] = [*REGRESSION]
CASES_BY_NAME = {case.name: case for case in CASES}

__all__ = [
    "CASES", "CASES_BY_NAME", "FLOATING", "REDUCTIONS", "ErrorInput", "KnownValue", "LossCase", "ModuleInput",
    "SampleInput",
]
