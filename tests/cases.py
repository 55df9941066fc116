"""The registry: one ``LossCase`` per torch.nn loss, in the order of the architecture table.

The tests in this folder are a handful of parametrized functions over ``CASES``; adding a loss means
adding a case to its chapter's file (``cases_<chapter>.py``) and its name to ``ORDER``, not a test. The
records and helpers the cases are built from are in ``cases_core.py``.
"""

from pathlib import Path

from cases_adaptive_log_softmax import ADAPTIVE_LOG_SOFTMAX_CASES
from cases_bce import BCE_CASES
from cases_core import FLOATING, IMPLEMENTATIONS, REDUCTIONS, ErrorInput, KnownValue, LossCase, ModuleInput, SampleInput
from cases_cosine_embedding import COSINE_EMBEDDING_CASES
from cases_cross_entropy import CROSS_ENTROPY_CASES
from cases_ctc import CTC_CASES
from cases_gaussian_nll import GAUSSIAN_NLL_CASES
from cases_hinge_ranking import HINGE_RANKING_CASES
from cases_kl_poisson import KL_POISSON_CASES
from cases_linear_cross_entropy import LINEAR_CROSS_ENTROPY_CASES
from cases_mixed_dtypes import with_mixed_samples
from cases_multi_margin import MULTI_MARGIN_CASES
from cases_regression import REGRESSION
from cases_soft_margin import SOFT_MARGIN_CASES
from cases_triplet import TRIPLET_CASES

import refimpl

_BY_NAME = {
    case.name: case
    for part in (
        REGRESSION, KL_POISSON_CASES, GAUSSIAN_NLL_CASES, BCE_CASES, CROSS_ENTROPY_CASES, SOFT_MARGIN_CASES,
        ADAPTIVE_LOG_SOFTMAX_CASES, LINEAR_CROSS_ENTROPY_CASES, HINGE_RANKING_CASES, MULTI_MARGIN_CASES,
        COSINE_EMBEDDING_CASES, TRIPLET_CASES, CTC_CASES,
    )
    for case in part
}
ORDER = [  # the architecture table's order
    "l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss",
    "poisson_nll_loss", "gaussian_nll_loss", "kl_div",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "adaptive_log_softmax", "linear_cross_entropy",
    "hinge_embedding_loss", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_margin_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "ctc_loss",
]
CASES: list[LossCase] = [with_mixed_samples(_BY_NAME[name]) for name in ORDER]
CASES_BY_NAME = {case.name: case for case in CASES}
ROOT_PACKAGE = Path(refimpl.__file__).resolve().parent  # refimpl/

__all__ = [
    "CASES", "CASES_BY_NAME", "FLOATING", "IMPLEMENTATIONS", "ROOT_PACKAGE", "REDUCTIONS", "ErrorInput",
    "KnownValue", "LossCase", "ModuleInput",
    "SampleInput",
]
