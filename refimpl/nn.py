"""The module API: drop-in replacements for the ``torch.nn`` loss classes (same constructors, buffers,
``state_dict`` keys and forward). Each class lives beside its functional; this file only re-exports."""

from refimpl.classification.bce import BCELoss
from refimpl.classification.bce_with_logits import BCEWithLogitsLoss
from refimpl.classification.cross_entropy import CrossEntropyLoss
from refimpl.classification.multilabel_soft_margin import MultiLabelSoftMarginLoss
from refimpl.classification.nll import NLLLoss
from refimpl.classification.soft_margin import SoftMarginLoss
from refimpl.large_output.adaptive_log_softmax import AdaptiveLogSoftmaxWithLoss
from refimpl.large_output.linear_cross_entropy import LinearCrossEntropyLoss
from refimpl.margin.cosine_embedding import CosineEmbeddingLoss
from refimpl.margin.hinge_embedding import HingeEmbeddingLoss
from refimpl.margin.margin_ranking import MarginRankingLoss
from refimpl.margin.multi_margin import MultiMarginLoss
from refimpl.margin.multilabel_margin import MultiLabelMarginLoss
from refimpl.metric.triplet_margin import TripletMarginLoss
from refimpl.metric.triplet_margin_with_distance import TripletMarginWithDistanceLoss
from refimpl.probabilistic.gaussian_nll import GaussianNLLLoss
from refimpl.probabilistic.kl_div import KLDivLoss
from refimpl.probabilistic.poisson_nll import PoissonNLLLoss
from refimpl.regression.huber import HuberLoss
from refimpl.regression.l1 import L1Loss
from refimpl.regression.mse import MSELoss
from refimpl.regression.smooth_l1 import SmoothL1Loss
from refimpl.sequence.ctc import CTCLoss

__all__ = sorted(name for name in dir() if name.endswith("Loss"))
