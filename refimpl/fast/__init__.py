"""refimpl.fast: the 23 losses of :mod:`refimpl.functional`, same names and signatures, tuned for speed.

``refimpl.functional`` is the reference a student reads: the formula, then a pure hand-derived gradient.
This package holds what it takes to make those formulas fast on a CPU (fewer full-size temporaries, the
forward's work and buffers reused in the backward, only the gradients autograd asks for, masks as arithmetic
instead of ``torch.where``, one buffer for the log-softmax, a recursion with fewer operations per step, chunks
for memory or for the cache, a float64 sum as a dot product). Where the readable function is already as fast
as torch's, the name here *is* the readable function, re-exported. The book's chapter "From formula to fast" sets each
fast listing beside its readable one, with the speed-up measured by ``benchmarks/bench.py``.

Both are tested by the same registry against torch, in value, gradient, dtype, shape, errors and warnings.
"""

from refimpl.fast.adaptive_log_softmax import adaptive_log_softmax
from refimpl.fast.bce_with_logits import binary_cross_entropy_with_logits
from refimpl.fast.cosine_embedding import cosine_embedding_loss
from refimpl.fast.cross_entropy import cross_entropy
from refimpl.fast.ctc import ctc_loss
from refimpl.fast.gaussian_nll import gaussian_nll_loss
from refimpl.fast.huber import huber_loss
from refimpl.fast.kl_div import kl_div
from refimpl.fast.linear_cross_entropy import linear_cross_entropy
from refimpl.fast.margin_ranking import margin_ranking_loss
from refimpl.fast.mse import mse_loss
from refimpl.fast.multilabel_margin import multilabel_margin_loss
from refimpl.fast.nll import nll_loss
from refimpl.fast.poisson_nll import poisson_nll_loss
from refimpl.fast.smooth_l1 import smooth_l1_loss
from refimpl.functional import (  # already as fast as the formula gets: the readable functions themselves
    binary_cross_entropy,
    hinge_embedding_loss,
    l1_loss,
    multi_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)

__all__ = [
    "adaptive_log_softmax",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "ctc_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "linear_cross_entropy",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
