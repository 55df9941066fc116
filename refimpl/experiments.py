r"""Controlled experiments: one small model, one data set and one seed held fixed while only the loss changes.

The building blocks shared by the notebooks of ``book/experiments/`` and by ``tests/test_experiments.py``:

- synthetic data sets drawn from a seeded ``torch.Generator`` (:func:`regression_data`,
  :func:`classification_data`, :func:`embedding_data`);
- one tiny model per task (:func:`linear_regressor`, :func:`mlp`), initialised by :func:`train` from its seed;
- the training loop :func:`train`, which returns the loss curve and the curve of a test metric;
- metrics (:func:`mae`, :func:`rmse`, :func:`accuracy`, :func:`balanced_accuracy`, :func:`class_recall`,
  :func:`expected_calibration_error`, :func:`recall_at_1`);
- adapters that let a refimpl loss train the tiny models: :class:`LabelBCE` (BCE-with-logits on integer
  labels), :class:`PairContrastive` (HingeEmbeddingLoss on pairwise distances) and :class:`RandomTriplets`
  (TripletMarginLoss on sampled triplets).

Everything runs on the CPU in float64 with full-batch Adam, so a run is a deterministic function of its
seed: the same call gives the same numbers on the same machine.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

import refimpl

DTYPE = torch.float64
"""Every tensor of the experiments: float64 keeps the runs reproducible and far from rounding effects."""


# ---------------------------------------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    """Inputs and targets of a training set and a test set (targets: floats or integer labels)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    is_outlier: Tensor | None = None
    """Boolean mask over the training examples whose target was corrupted (None when nothing was)."""


def regression_data(
    outlier_rate: float = 0.0,
    n_train: int = 100,
    n_test: int = 200,
    slope: float = 1.5,
    intercept: float = 0.5,
    noise: float = 0.5,
    outlier_shift: float = 15.0,
    seed: int = 0,
) -> Dataset:
    r"""A line with Gaussian noise, and a fraction of gross outliers among the training targets.

    .. math::

        x \sim \mathcal U(-3, 3), \qquad y = a x + b + \sigma \varepsilon, \quad \varepsilon \sim \mathcal N(0, 1),

    then ``round(outlier_rate * n_train)`` training targets, chosen at random, get ``+ outlier_shift``
    (all on the same side, so they bias a fit instead of only adding variance). The test set is clean.
    Inputs have shape (N, 1), targets (N, 1). The clean data and the choice of outliers depend only on
    ``seed``, so runs at different outlier rates share the same inliers.
    """
    gen = torch.Generator().manual_seed(seed)
    x = 6 * torch.rand(n_train + n_test, 1, generator=gen, dtype=DTYPE) - 3
    y = slope * x + intercept + noise * torch.randn(n_train + n_test, 1, generator=gen, dtype=DTYPE)
    order = torch.randperm(n_train, generator=gen)
    is_outlier = torch.zeros(n_train, dtype=torch.bool)
    is_outlier[order[: round(outlier_rate * n_train)]] = True
    y_train = y[:n_train] + outlier_shift * is_outlier[:, None]
    return Dataset(x[:n_train], y_train, x[n_train:], y[n_train:], is_outlier)


def classification_data(
    n_train: tuple[int, int] = (100, 100),
    n_test: tuple[int, int] = (1000, 1000),
    label_noise: float = 0.0,
    dim: int = 2,
    separation: float = 2.0,
    seed: int = 0,
) -> Dataset:
    r"""Two Gaussian classes in ``dim`` dimensions, with class sizes and symmetric label noise to choose.

    Class :math:`k \in \{0, 1\}` is :math:`\mathcal N(\mu_k, I)` with :math:`\mu_0 = -\mu_1` and
    :math:`\lVert \mu_1 - \mu_0 \rVert =` ``separation`` along the first axis. ``n_train = (n_0, n_1)`` sets
    the class sizes (``n_1 < n_0``: class 1 is the minority). Then ``round(label_noise * N)`` training
    labels, chosen at random, are flipped; the test labels are never flipped. Labels are int64, shape (N,).
    """
    gen = torch.Generator().manual_seed(seed)
    mean = torch.zeros(dim, dtype=DTYPE)
    mean[0] = separation / 2

    def draw(sizes: tuple[int, int]) -> tuple[Tensor, Tensor]:
        labels = torch.cat([torch.full((n,), k, dtype=torch.int64) for k, n in enumerate(sizes)])
        signs = (2 * labels - 1).to(DTYPE)[:, None]
        return signs * mean + torch.randn(len(labels), dim, generator=gen, dtype=DTYPE), labels

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    flipped = torch.zeros(len(y_train), dtype=torch.bool)
    flipped[torch.randperm(len(y_train), generator=gen)[: round(label_noise * len(y_train))]] = True
    y_train = torch.where(flipped, 1 - y_train, y_train)
    return Dataset(x_train, y_train, x_test, y_test, flipped)


def embedding_data(
    classes: int = 5,
    per_class: int = 20,
    dim: int = 16,
    signal_dims: int = 2,
    spread: float = 0.5,
    nuisance: float = 3.0,
    seed: int = 0,
) -> Dataset:
    r"""Clusters whose identity lives in a few input dimensions, hidden among larger nuisance dimensions.

    Class centres are spread on a circle of radius 2 in the first ``signal_dims`` = 2 dimensions; around
    them the points have standard deviation ``spread`` there, and standard deviation ``nuisance`` in the
    other ``dim - 2`` dimensions, which carry no class information. A random projection to 2-D mostly sees
    the nuisance; a trained one can find the signal. Train and test sets have ``per_class`` points per
    class each; labels are int64, shape (N,).
    """
    if signal_dims != 2:
        raise ValueError(f"embedding_data(): signal_dims must be 2 (centres on a circle), got {signal_dims}")
    gen = torch.Generator().manual_seed(seed)
    angles = 2 * math.pi * torch.arange(classes, dtype=DTYPE) / classes
    centres = torch.zeros(classes, dim, dtype=DTYPE)
    centres[:, 0], centres[:, 1] = 2 * angles.cos(), 2 * angles.sin()
    scale = torch.full((dim,), nuisance, dtype=DTYPE)
    scale[:signal_dims] = spread

    def draw() -> tuple[Tensor, Tensor]:
        labels = torch.arange(classes).repeat_interleave(per_class)
        return centres[labels] + scale * torch.randn(len(labels), dim, generator=gen, dtype=DTYPE), labels

    x_train, y_train = draw()
    x_test, y_test = draw()
    return Dataset(x_train, y_train, x_test, y_test)


# ---------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------


def linear_regressor() -> nn.Module:
    """:math:`\\hat y = w x + b`: one ``nn.Linear(1, 1)`` in float64 (weights are set by :func:`train`)."""
    return nn.Linear(1, 1, dtype=DTYPE)


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Module:
    """One hidden layer: ``Linear(inputs, hidden) -> tanh -> Linear(hidden, outputs)``, float64."""
    return nn.Sequential(nn.Linear(inputs, hidden, dtype=DTYPE), nn.Tanh(), nn.Linear(hidden, outputs, dtype=DTYPE))


def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    r"""Draw every ``nn.Linear``'s weight and bias from :math:`\mathcal U(-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}})`.

    The same distribution as ``nn.Linear``'s default initialisation, but from ``generator`` instead of the
    global random state, so that a seed fixes the starting point.
    """
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                bound = 1 / math.sqrt(layer.in_features)
                for param in (layer.weight, layer.bias):
                    param.copy_((2 * torch.rand(param.shape, generator=generator, dtype=param.dtype) - 1) * bound)


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What :func:`train` returns: the loss per step, and a test metric every ``eval_every`` steps."""

    losses: list[float]
    metric_steps: list[int] = field(default_factory=list)
    metric_values: list[float] = field(default_factory=list)


def train(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    data: Dataset,
    steps: int,
    lr: float,
    seed: int = 0,
    metric: Callable[[nn.Module, Dataset], float] | None = None,
    eval_every: int = 10,
) -> Run:
    r"""Minimise ``loss_fn(model(x_train), y_train)`` with full-batch Adam from a seeded initialisation.

    ``seed`` fixes the initial weights (:func:`init_weights`): two calls that differ only in ``loss_fn``
    start from the same point, see the same data and take the same number of steps of the same
    optimiser, so any difference in the result is the loss's doing. Adam is used because it is
    insensitive to the scale of the loss, so one learning rate suits losses whose gradients differ in
    size by orders of magnitude. ``metric(model, data)`` (if given) is recorded at step 0 and every
    ``eval_every`` steps, and after the last step.
    """
    init_weights(model, torch.Generator().manual_seed(seed))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    run = Run(losses=[])
    for step in range(steps + 1):
        if metric is not None and (step % eval_every == 0 or step == steps):
            with torch.no_grad():
                run.metric_steps.append(step)
                run.metric_values.append(metric(model, data))
        if step == steps:
            break
        optimiser.zero_grad()
        loss = loss_fn(model(data.x_train), data.y_train)
        loss.backward()
        optimiser.step()
        run.losses.append(loss.item())
    return run


# ---------------------------------------------------------------------------------------------------------
# Losses adapted to the tasks
# ---------------------------------------------------------------------------------------------------------


class LabelBCE(nn.Module):
    """BCE-with-logits for a one-logit binary classifier trained on integer labels 0/1.

    ``forward(logits (N, 1), labels (N,))`` returns ``refimpl.nn.BCEWithLogitsLoss(pos_weight)(z, y)`` with
    :math:`z` = ``logits[:, 0]`` and :math:`y` the labels as floats.
    """

    def __init__(self, pos_weight: Tensor | None = None) -> None:
        super().__init__()
        self.loss = refimpl.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.loss(logits[:, 0], labels.to(logits.dtype))


def distances(embeddings: Tensor) -> Tensor:
    r"""All pairwise Euclidean distances :math:`d_{ij} = \sqrt{\lVert e_i - e_j \rVert^2 + 10^{-12}}`.

    The :math:`10^{-12}` keeps the square root differentiable at :math:`i = j`.
    """
    diff = embeddings[:, None, :] - embeddings[None, :, :]
    return (diff.square().sum(-1) + 1e-12).sqrt()


class PairContrastive(nn.Module):
    r"""The contrastive pair loss: ``HingeEmbeddingLoss`` on the distances of all pairs of a batch.

    For every pair :math:`i < j` the input is :math:`d_{ij}` and the target is :math:`+1` if the labels agree
    (the loss :math:`d_{ij}` pulls them together) and :math:`-1` if not (:math:`\max(0, m - d_{ij})` pushes
    them at least :math:`m` apart). Positive and negative pairs are averaged separately and added, so the
    many negative pairs do not drown the few positive ones.
    """

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.loss = refimpl.nn.HingeEmbeddingLoss(margin=margin)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        i, j = torch.triu_indices(len(labels), len(labels), offset=1)
        d = distances(embeddings)[i, j]
        same = labels[i] == labels[j]
        target = torch.where(same, 1.0, -1.0).to(d.dtype)
        return self.loss(d[same], target[same]) + self.loss(d[~same], target[~same])


class RandomTriplets(nn.Module):
    r"""``TripletMarginLoss`` on one random triplet per anchor: every example is an anchor once.

    For anchor :math:`i` the positive is drawn among the other examples of its class and the negative among
    the examples of the other classes, from a generator seeded at construction, so a run is reproducible.
    """

    def __init__(self, margin: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        self.loss = refimpl.nn.TripletMarginLoss(margin=margin)
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        same = labels[:, None] == labels[None, :]
        positives = same & ~torch.eye(len(labels), dtype=torch.bool)
        # one uniform draw per row among the allowed columns: argmax of random scores on the allowed set
        pos = torch.where(positives, torch.rand(same.shape, generator=self.generator), -1.0).argmax(1)
        neg = torch.where(~same, torch.rand(same.shape, generator=self.generator), -1.0).argmax(1)
        return self.loss(embeddings, embeddings[pos], embeddings[neg])


# ---------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------


def mae(model: nn.Module, data: Dataset) -> float:
    r"""Mean absolute error on the clean test set, :math:`\frac1N \sum_i \lvert \hat y_i - y_i \rvert`."""
    with torch.no_grad():
        return (model(data.x_test) - data.y_test).abs().mean().item()


def rmse(model: nn.Module, data: Dataset) -> float:
    r"""Root mean squared error on the clean test set, :math:`\sqrt{\frac1N \sum_i (\hat y_i - y_i)^2}`."""
    with torch.no_grad():
        return (model(data.x_test) - data.y_test).square().mean().sqrt().item()


def class_probabilities(model: nn.Module, x: Tensor) -> Tensor:
    r"""Predicted class probabilities, shape (N, C), from a C-logit or a one-logit (binary) model.

    C logits: :math:`p_k = \exp(z_k - \log\sum_j e^{z_j})`. One logit :math:`z`: :math:`(1 - \sigma(z), \sigma(z))`.
    """
    with torch.no_grad():
        logits = model(x)
    if logits.shape[1] == 1:
        p1 = torch.sigmoid(logits)
        return torch.cat([1 - p1, p1], dim=1)
    return (logits - logits.logsumexp(1, keepdim=True)).exp()


def accuracy(model: nn.Module, data: Dataset) -> float:
    """Fraction of test examples whose most probable class is the label."""
    return (class_probabilities(model, data.x_test).argmax(1) == data.y_test).double().mean().item()


def class_recall(model: nn.Module, data: Dataset, label: int = 1) -> float:
    """Recall of one class on the test set: the fraction of its examples predicted as it (class 1: minority)."""
    predicted = class_probabilities(model, data.x_test).argmax(1)
    return (predicted[data.y_test == label] == label).double().mean().item()


def balanced_accuracy(model: nn.Module, data: Dataset) -> float:
    """The mean over classes of each class's recall: accuracy as if the classes were equally frequent."""
    labels = data.y_test.unique().tolist()
    return sum(class_recall(model, data, k) for k in labels) / len(labels)


def expected_calibration_error(model: nn.Module, data: Dataset, bins: int = 10) -> float:
    r"""ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins.

    With :math:`c_i = \max_k p_{ik}` and bins :math:`B_b` of :math:`c`:

    .. math::

        \mathrm{ECE} = \sum_b \frac{|B_b|}{N}\,\bigl\lvert \mathrm{acc}(B_b) - \mathrm{conf}(B_b) \bigr\rvert.
    """
    probs = class_probabilities(model, data.x_test)
    confidence, predicted = probs.max(1)
    correct = (predicted == data.y_test).double()
    which = (confidence * bins).long().clamp(max=bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            gap = (correct[members].mean() - confidence[members].mean()).abs()
            ece += members.double().mean().item() * gap.item()
    return ece


def mean_confidence(model: nn.Module, data: Dataset) -> float:
    r"""The average of :math:`\max_k p_{ik}` over the test set: how sure the model says it is."""
    return class_probabilities(model, data.x_test).max(1).values.mean().item()


def recall_at_1(embed: Callable[[Tensor], Tensor], data: Dataset) -> float:
    """Recall@1 on the test set: the fraction of test points whose nearest other test point has their label."""
    with torch.no_grad():
        d = distances(embed(data.x_test))
    d.fill_diagonal_(math.inf)
    return (data.y_test[d.argmin(1)] == data.y_test).double().mean().item()


def embedding_recall(model: nn.Module, data: Dataset) -> float:
    """:func:`recall_at_1` of a model's embedding, in the ``metric(model, data)`` form :func:`train` takes."""
    return recall_at_1(model, data)
