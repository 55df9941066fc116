"""The functional API: one function per ``torch.nn.functional`` loss, same name, same signature, each loss's
hand-derived gradient ``<name>_grad`` and, where it is derived, its forward-mode derivative ``<name>_jvp``.

Each function lives in its own module under its part of the book; this file only re-exports them.
"""

from refimpl.classification.bce import binary_cross_entropy, binary_cross_entropy_grad
from refimpl.classification.bce_with_logits import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
)
from refimpl.classification.cross_entropy import cross_entropy, cross_entropy_grad
from refimpl.classification.multilabel_soft_margin import multilabel_soft_margin_loss, multilabel_soft_margin_loss_grad
from refimpl.classification.nll import nll_loss, nll_loss_grad
from refimpl.classification.soft_margin import soft_margin_loss, soft_margin_loss_grad, soft_margin_loss_jvp
from refimpl.large_output.adaptive_log_softmax import adaptive_log_softmax, target_log_prob, target_log_prob_grad
from refimpl.large_output.linear_cross_entropy import linear_cross_entropy, linear_cross_entropy_grad
from refimpl.margin.cosine_embedding import cosine_embedding_loss, cosine_embedding_loss_grad
from refimpl.margin.hinge_embedding import hinge_embedding_loss, hinge_embedding_loss_grad, hinge_embedding_loss_jvp
from refimpl.margin.margin_ranking import margin_ranking_loss, margin_ranking_loss_grad
from refimpl.margin.multi_margin import multi_margin_loss, multi_margin_loss_grad
from refimpl.margin.multilabel_margin import multilabel_margin_loss, multilabel_margin_loss_grad
from refimpl.metric.triplet_margin import triplet_margin_loss, triplet_margin_loss_grad
from refimpl.metric.triplet_margin_with_distance import (
    triplet_margin_with_distance_loss,
    triplet_margin_with_distance_loss_grad,
)
from refimpl.probabilistic.gaussian_nll import gaussian_nll_loss, gaussian_nll_loss_grad
from refimpl.probabilistic.kl_div import kl_div, kl_div_grad
from refimpl.probabilistic.poisson_nll import poisson_nll_loss, poisson_nll_loss_grad
from refimpl.regression.huber import huber_loss, huber_loss_grad, huber_loss_jvp
from refimpl.regression.l1 import l1_loss, l1_loss_grad, l1_loss_jvp
from refimpl.regression.mse import mse_loss, mse_loss_grad, mse_loss_jvp
from refimpl.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_grad, smooth_l1_loss_jvp
from refimpl.sequence.ctc import ctc_loss, ctc_loss_grad

__all__ = sorted(name for name in dir() if not name.startswith("_"))
