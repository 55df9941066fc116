"""Loss cards: one machine-readable record per ``torch.nn`` loss, for choosing between them.

Each :class:`LossCard` states what a loss is for (task, target, link), where it comes from (the likelihood),
what its minimiser estimates (the statistic it elicits), its shape (convexity in the input, smoothness,
robustness to outliers), torch's defaults, and the nearest equivalent in Keras, optax and scikit-learn
(``None`` where there is none). ``tests/test_cards.py`` measures the claims that can be measured: convexity
by sampling, the statistic by fitting a constant, robustness by injecting outliers, the defaults against
``inspect.signature`` of torch.

The book's comparison table (``book/choosing/comparison_table.ipynb``) is generated from :data:`CARDS`.
"""

from dataclasses import dataclass, field

SMOOTHNESS = ("smooth", "C1", "kinked")
"""``smooth``: derivatives of every order; ``C1``: continuous gradient, curvature jumps at a threshold;
``kinked``: the gradient itself jumps (a subgradient is used at the kink)."""


@dataclass(frozen=True)
class LossCard:
    """What one loss is for, where it comes from and how it behaves.

    ``convex`` is convexity in the first argument (``input``) with every other argument fixed; ``robust`` is
    ``True`` when a few gross outliers in the target move the fitted constant by a bounded amount, ``False``
    when they drag it without limit, ``None`` where the question does not apply (classification, embeddings).
    """

    name: str  # the torch.nn.functional name
    module: str  # the torch.nn class
    chapter: str  # the chapter, as in _toc.yml
    task: str  # the task it is built for (see refimpl.guide.recommend.TASKS)
    target: str  # target type and domain
    link: str  # what the input is and how it maps to the target's scale
    likelihood: str | None  # the noise model whose negative log-likelihood it is; None for margin losses
    statistic: str  # what the minimiser over a constant estimates
    convex: bool  # convex in the input
    smoothness: str  # one of SMOOTHNESS
    robust: bool | None  # robust to outliers in the target (None: not applicable)
    robustness: str  # one sentence on outliers or label noise
    torch_defaults: dict = field(hash=False)  # keyword defaults of the functional, legacy size_average/reduce left out
    keras: str | None
    optax: str | None
    sklearn: str | None
    use_when: str
    avoid_when: str


_REDUCTION = {"reduction": "mean"}

CARDS: dict[str, LossCard] = {
    card.name: card
    for card in (
        LossCard(
            name="l1_loss", module="L1Loss", chapter="book/regression/l1", task="regression",
            target="real number", link="identity",
            likelihood="Laplace (fixed scale)", statistic="median",
            convex=True, smoothness="kinked", robust=True,
            robustness="Gross outliers pull with a bounded force: the median ignores how far they are.",
            torch_defaults={**_REDUCTION, "weight": None},
            keras="keras.losses.MeanAbsoluteError", optax=None,
            sklearn="sklearn.metrics.mean_absolute_error",
            use_when="Targets have outliers and the conditional median is the right answer.",
            avoid_when="You need the mean, or a smooth gradient near zero residual.",
        ),
        LossCard(
            name="mse_loss", module="MSELoss", chapter="book/regression/mse", task="regression",
            target="real number", link="identity",
            likelihood="Gaussian (fixed variance)", statistic="mean",
            convex=True, smoothness="smooth", robust=False,
            robustness="One target far away moves the mean without limit: the gradient grows with the residual.",
            torch_defaults={**_REDUCTION, "weight": None},
            keras="keras.losses.MeanSquaredError", optax="optax.losses.squared_error",
            sklearn="sklearn.metrics.mean_squared_error",
            use_when="Clean, roughly Gaussian noise and the conditional mean is wanted.",
            avoid_when="Heavy-tailed targets or outliers; noise level that varies with the input.",
        ),
        LossCard(
            name="huber_loss", module="HuberLoss", chapter="book/regression/huber", task="regression",
            target="real number", link="identity",
            likelihood="Huber's least favourable density (Gaussian centre, Laplace tails)",
            statistic="Huber M-estimate (between median and mean)",
            convex=True, smoothness="C1", robust=True,
            robustness="Residuals beyond delta pull with a constant force delta.",
            torch_defaults={**_REDUCTION, "delta": 1.0, "weight": None},
            keras="keras.losses.Huber", optax="optax.losses.huber_loss",
            sklearn="sklearn.linear_model.SGDRegressor(loss='huber')",
            use_when="Mostly Gaussian noise with some outliers; you want MSE near zero and L1 in the tails.",
            avoid_when="You cannot pick delta on the scale of the residuals.",
        ),
        LossCard(
            name="smooth_l1_loss", module="SmoothL1Loss", chapter="book/regression/smooth_l1", task="regression",
            target="real number", link="identity",
            likelihood="Huber's least favourable density (Gaussian centre, Laplace tails)",
            statistic="Huber M-estimate (between median and mean)",
            convex=True, smoothness="C1", robust=True,
            robustness="Residuals beyond beta pull with a constant force 1.",
            torch_defaults={**_REDUCTION, "beta": 1.0},
            keras=None, optax=None, sklearn=None,
            use_when="Bounding-box regression (Fast R-CNN); Huber divided by beta, slope 1 in the tails.",
            avoid_when="Small beta: the quadratic zone vanishes and it becomes L1.",
        ),
        LossCard(
            name="poisson_nll_loss", module="PoissonNLLLoss", chapter="book/probabilistic/poisson_nll",
            task="counts", target="count (0, 1, 2, ...)", link="log (log_input=True: input is the log rate)",
            likelihood="Poisson", statistic="log of the mean",
            convex=True, smoothness="smooth", robust=False,
            robustness="A huge count moves the fitted rate like the mean does: without limit.",
            torch_defaults={"log_input": True, "full": False, "eps": 1e-08, **_REDUCTION},
            keras="keras.losses.Poisson", optax=None,
            sklearn="sklearn.ensemble.HistGradientBoostingRegressor(loss='poisson')",
            use_when="Counts or rates: events per interval, clicks, photons.",
            avoid_when="Overdispersed counts (variance far above the mean) without a correction.",
        ),
        LossCard(
            name="gaussian_nll_loss", module="GaussianNLLLoss", chapter="book/probabilistic/gaussian_nll",
            task="regression", target="real number, with a predicted variance",
            link="identity for the mean; var is the variance itself (clamped at eps)",
            likelihood="Gaussian (mean and variance)", statistic="mean (input) and variance (var)",
            convex=True, smoothness="smooth", robust=False,
            robustness="With a fixed variance it is MSE: outliers drag the mean; a learned variance can inflate.",
            torch_defaults={"full": False, "eps": 1e-06, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="The noise level varies with the input (heteroscedastic) and you want it predicted.",
            avoid_when="You do not need the variance: MSE is simpler and better conditioned.",
        ),
        LossCard(
            name="kl_div", module="KLDivLoss", chapter="book/probabilistic/kl_div", task="distribution",
            target="probability distribution (or its log with log_target=True)",
            link="input is log-probabilities (pair with a log-softmax)",
            likelihood="categorical (cross-entropy minus the target's entropy)",
            statistic="mean target distribution",
            convex=True, smoothness="smooth", robust=None,
            robustness="Bounded targets; a confident zero where the target has mass costs without limit.",
            torch_defaults={**_REDUCTION, "log_target": False},
            keras="keras.losses.KLDivergence", optax="optax.losses.kl_divergence", sklearn=None,
            use_when="Matching soft targets: distillation, label distributions; use reduction='batchmean'.",
            avoid_when="Hard labels (use cross_entropy) or probabilities as input (it expects log-probabilities).",
        ),
        LossCard(
            name="binary_cross_entropy", module="BCELoss", chapter="book/classification/bce", task="binary",
            target="probability in [0, 1] (usually 0 or 1)", link="identity on probabilities (after a sigmoid)",
            likelihood="Bernoulli", statistic="mean of the targets (a probability)",
            convex=True, smoothness="smooth", robust=None,
            robustness="Not robust to label noise: a confident mistake costs up to 100 (the log clamp).",
            torch_defaults={"weight": None, **_REDUCTION},
            keras="keras.losses.BinaryCrossentropy", optax=None, sklearn="sklearn.metrics.log_loss",
            use_when="The model already outputs probabilities.",
            avoid_when="You have logits: binary_cross_entropy_with_logits is stabler and faster.",
        ),
        LossCard(
            name="binary_cross_entropy_with_logits", module="BCEWithLogitsLoss",
            chapter="book/classification/bce_with_logits", task="binary",
            target="probability in [0, 1] (usually 0 or 1)", link="logit (the sigmoid is inside)",
            likelihood="Bernoulli", statistic="logit of the mean target",
            convex=True, smoothness="smooth", robust=None,
            robustness="Not robust to label noise: the loss of a confident mistake grows linearly in the logit.",
            torch_defaults={"weight": None, **_REDUCTION, "pos_weight": None},
            keras="keras.losses.BinaryCrossentropy(from_logits=True)",
            optax="optax.losses.sigmoid_binary_cross_entropy",
            sklearn="sklearn.linear_model.SGDClassifier(loss='log_loss')",
            use_when="Binary or multi-label classification with calibrated probabilities; pos_weight for imbalance.",
            avoid_when="Only a decision matters and you prefer a margin (multi_margin_loss).",
        ),
        LossCard(
            name="nll_loss", module="NLLLoss", chapter="book/classification/nll", task="multiclass",
            target="class index in [0, C)", link="input is log-probabilities (pair with a log-softmax)",
            likelihood="categorical", statistic="log class frequencies",
            convex=True, smoothness="smooth", robust=None,
            robustness="Linear in the input; with a log-softmax it is cross_entropy and shares its label-noise issue.",
            torch_defaults={"weight": None, "ignore_index": -100, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="You already compute log-probabilities (a log-softmax, an adaptive softmax, a CRF).",
            avoid_when="You have logits: cross_entropy fuses the log-softmax.",
        ),
        LossCard(
            name="cross_entropy", module="CrossEntropyLoss", chapter="book/classification/cross_entropy",
            task="multiclass", target="class index in [0, C) or class probabilities",
            link="softmax (inside)", likelihood="categorical",
            statistic="class frequencies (through the softmax)",
            convex=True, smoothness="smooth", robust=None,
            robustness="Not robust to label noise: a mislabelled example costs without limit.",
            torch_defaults={"weight": None, "ignore_index": -100, **_REDUCTION, "label_smoothing": 0.0},
            keras="keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
            optax="optax.losses.softmax_cross_entropy_with_integer_labels",
            sklearn="sklearn.ensemble.HistGradientBoostingClassifier(loss='log_loss')",
            use_when="One label out of C with calibrated probabilities; weight for imbalance, label_smoothing.",
            avoid_when="Several labels can be true at once (multi-label), or C is huge.",
        ),
        LossCard(
            name="soft_margin_loss", module="SoftMarginLoss", chapter="book/classification/soft_margin",
            task="binary", target="label -1 or +1", link="logit (logistic of y times x)",
            likelihood="Bernoulli (labels -1/+1)", statistic="logit of P(y = +1)",
            convex=True, smoothness="smooth", robust=None,
            robustness="The logistic loss: a confident mistake costs linearly in the score.",
            torch_defaults=dict(_REDUCTION),
            keras=None, optax=None, sklearn="sklearn.linear_model.SGDClassifier(loss='log_loss')",
            use_when="Binary labels coded -1/+1 and a logistic loss on the margin y x.",
            avoid_when="Labels are 0/1: use binary_cross_entropy_with_logits.",
        ),
        LossCard(
            name="multilabel_soft_margin_loss", module="MultiLabelSoftMarginLoss",
            chapter="book/classification/multilabel_soft_margin", task="multilabel",
            target="0/1 vector over C labels", link="logit per label",
            likelihood="independent Bernoulli per label", statistic="logit of each label's frequency",
            convex=True, smoothness="smooth", robust=None,
            robustness="As binary_cross_entropy_with_logits, per label.",
            torch_defaults={"weight": None, **_REDUCTION},
            keras="keras.losses.BinaryCrossentropy(from_logits=True)",
            optax="optax.losses.sigmoid_binary_cross_entropy", sklearn=None,
            use_when="Several labels per example, probabilities per label, averaged over labels.",
            avoid_when="Strong label imbalance: use binary_cross_entropy_with_logits with pos_weight.",
        ),
        LossCard(
            name="adaptive_log_softmax", module="AdaptiveLogSoftmaxWithLoss",
            chapter="book/large_output/adaptive_log_softmax", task="multiclass",
            target="class index in [0, C), classes sorted by frequency",
            link="head softmax over frequent classes and clusters, a tail softmax per cluster",
            likelihood="categorical, factorised as head times cluster", statistic="class frequencies",
            convex=True, smoothness="smooth", robust=None,
            robustness="As cross_entropy.",
            torch_defaults={"div_value": 4.0, "head_bias": False},
            keras=None, optax=None, sklearn=None,
            use_when="Huge vocabularies with a long-tailed (Zipf) class distribution: language models on GPUs.",
            avoid_when="Classes of similar frequency, or an exact full softmax is needed.",
        ),
        LossCard(
            name="linear_cross_entropy", module="LinearCrossEntropyLoss",
            chapter="book/large_output/linear_cross_entropy", task="multiclass",
            target="class index in [0, C) or class probabilities", link="a linear layer, then a softmax",
            likelihood="categorical", statistic="class frequencies (through the softmax)",
            convex=True, smoothness="smooth", robust=None,
            robustness="As cross_entropy.",
            torch_defaults={"linear_bias": None, "weight": None, **_REDUCTION, "ignore_index": None,
                            "label_smoothing": 0.0, "options": None},
            keras=None, optax=None, sklearn=None,
            use_when="Huge vocabularies: the exact cross-entropy of a linear head without storing the logits.",
            avoid_when="Small C: plain cross_entropy on the logits is simpler.",
        ),
        LossCard(
            name="hinge_embedding_loss", module="HingeEmbeddingLoss", chapter="book/margin/hinge_embedding",
            task="embedding", target="label +1 (similar) or -1 (dissimilar)",
            link="none: the input is a distance", likelihood=None,
            statistic="none (pushes dissimilar distances beyond the margin)",
            convex=True, smoothness="kinked", robust=None,
            robustness="Dissimilar pairs beyond the margin cost nothing.",
            torch_defaults={"margin": 1.0, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="Pairs labelled similar/dissimilar and a distance you compute yourself.",
            avoid_when="You have triplets (triplet_margin_loss) or want cosine similarity (cosine_embedding_loss).",
        ),
        LossCard(
            name="margin_ranking_loss", module="MarginRankingLoss", chapter="book/margin/margin_ranking",
            task="ranking", target="label +1 (first ranks higher) or -1", link="none: two scores",
            likelihood=None, statistic="the order of the pair (the sign of x1 - x2)",
            convex=True, smoothness="kinked", robust=None,
            robustness="Pairs ordered by more than the margin cost nothing.",
            torch_defaults={"margin": 0, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="Learning to rank from pairwise preferences.",
            avoid_when="You need calibrated probabilities of the order (use a logistic loss on x1 - x2).",
        ),
        LossCard(
            name="multi_margin_loss", module="MultiMarginLoss", chapter="book/margin/multi_margin",
            task="multiclass", target="class index in [0, C)", link="none: class scores",
            likelihood=None, statistic="the mode (the argmax of the scores)",
            convex=True, smoothness="kinked", robust=None,
            robustness="Examples classified beyond the margin cost nothing; mistakes cost linearly.",
            torch_defaults={"p": 1, "margin": 1.0, "weight": None, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="A multiclass SVM (Weston-Watkins hinge): only the decision matters.",
            avoid_when="You need probabilities: use cross_entropy.",
        ),
        LossCard(
            name="multilabel_margin_loss", module="MultiLabelMarginLoss", chapter="book/margin/multilabel_margin",
            task="multilabel", target="indices of the true labels, padded with -1", link="none: label scores",
            likelihood=None, statistic="the set of true labels ranked above the others",
            convex=True, smoothness="kinked", robust=None,
            robustness="Label pairs ordered by more than 1 cost nothing.",
            torch_defaults=dict(_REDUCTION),
            keras=None, optax=None, sklearn=None,
            use_when="Multi-label ranking: every true label must score above every false one.",
            avoid_when="You need per-label probabilities: use multilabel_soft_margin_loss.",
        ),
        LossCard(
            name="cosine_embedding_loss", module="CosineEmbeddingLoss", chapter="book/margin/cosine_embedding",
            task="embedding", target="label +1 (similar) or -1 (dissimilar)",
            link="none: the cosine of two embeddings", likelihood=None,
            statistic="none (aligns similar pairs, separates dissimilar ones beyond the margin)",
            convex=False, smoothness="kinked", robust=None,
            robustness="The cosine ignores the norm; dissimilar pairs below the margin cost nothing.",
            torch_defaults={"margin": 0, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="Pairs labelled similar/dissimilar compared by angle (text or face embeddings).",
            avoid_when="The norm of the embedding carries meaning.",
        ),
        LossCard(
            name="triplet_margin_loss", module="TripletMarginLoss", chapter="book/metric/triplet_margin",
            task="embedding", target="none: (anchor, positive, negative) triplets",
            link="none: p-norm distances", likelihood=None,
            statistic="none (orders the anchor's distances by a margin)",
            convex=False, smoothness="kinked", robust=None,
            robustness="Easy triplets cost nothing; the choice (mining) of triplets matters most.",
            torch_defaults={"margin": 1.0, "p": 2, "eps": 1e-06, "swap": False, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="Metric learning from triplets with a Euclidean (p-norm) distance.",
            avoid_when="You only have labelled pairs, or need another distance (triplet_margin_with_distance_loss).",
        ),
        LossCard(
            name="triplet_margin_with_distance_loss", module="TripletMarginWithDistanceLoss",
            chapter="book/metric/triplet_margin_with_distance", task="embedding",
            target="none: (anchor, positive, negative) triplets", link="none: any distance function",
            likelihood=None, statistic="none (orders the anchor's distances by a margin)",
            convex=False, smoothness="kinked", robust=None,
            robustness="As triplet_margin_loss.",
            torch_defaults={"distance_function": None, "margin": 1.0, "swap": False, **_REDUCTION},
            keras=None, optax=None, sklearn=None,
            use_when="Metric learning from triplets with a custom distance (cosine, learned).",
            avoid_when="A p-norm is enough: triplet_margin_loss is faster.",
        ),
        LossCard(
            name="ctc_loss", module="CTCLoss", chapter="book/sequence/ctc", task="sequence",
            target="label sequence, shorter than the input, without alignment",
            link="input is log-probabilities per frame (pair with a log-softmax)",
            likelihood="categorical per frame, marginalised over every alignment",
            statistic="the probability of the labelling, summed over alignments",
            convex=False, smoothness="smooth", robust=None,
            robustness="Impossible alignments give an infinite loss unless zero_infinity=True.",
            torch_defaults={"blank": 0, **_REDUCTION, "zero_infinity": False},
            keras="keras.losses.CTC", optax="optax.losses.ctc_loss", sklearn=None,
            use_when="Sequence labelling without a frame-level alignment: speech, handwriting.",
            avoid_when="Frame labels are aligned (use cross_entropy per frame) or outputs are longer than inputs.",
        ),
    )
}
"""Every loss in refimpl, keyed by its ``torch.nn.functional`` name, in the book's order."""

__all__ = ["CARDS", "SMOOTHNESS", "LossCard"]
