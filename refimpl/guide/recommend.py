"""Choosing a loss: a decision tree for the book's guide and ``recommend(task, **facts)``, a ranked list.

:data:`DECISION_TREE` is the flowchart of ``book/choosing/guide.ipynb``: each :class:`Question` has answers
leading to another question or to a :class:`Leaf` that names losses and the chapter to read.
:func:`recommend` scores the candidate losses of a task: each starts from a base score with the reason it
is a candidate, and each fact the caller states (``outliers=True``, ``imbalanced=True``...) adds or removes
points with the reason why. The result is sorted by score, best first.

    >>> from refimpl import recommend
    >>> recommend("regression", outliers=True)[0].loss
    'huber_loss'
"""

from dataclasses import dataclass
from posixpath import relpath

from refimpl.guide.cards import CARDS


@dataclass(frozen=True)
class Leaf:
    """An end of the guide: the losses to use and the chapter that teaches them."""

    losses: tuple[str, ...]
    chapter: str  # as in _toc.yml, e.g. "book/regression/huber"


@dataclass(frozen=True)
class Question:
    """A question of the guide and its answers, each leading to a question or a leaf."""

    text: str
    answers: tuple[tuple[str, "Question | Leaf"], ...]


def _leaf(*losses: str) -> Leaf:
    """A leaf for ``losses``, pointing at the first one's chapter."""
    return Leaf(losses, CARDS[losses[0]].chapter)


DECISION_TREE = Question(
    "What does the model predict?",
    (
        (
            "a real number (regression)",
            Question(
                "Are there outliers in the targets?",
                (
                    ("yes, and I want the median", _leaf("l1_loss")),
                    ("yes, mostly Gaussian with some outliers", _leaf("huber_loss", "smooth_l1_loss")),
                    ("yes, bounding boxes (detection)", _leaf("smooth_l1_loss")),
                    ("no, and the noise level varies", _leaf("gaussian_nll_loss")),
                    ("no", _leaf("mse_loss")),
                    (
                        "not sure: compare them",
                        Leaf(("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"), "book/regression/comparison"),
                    ),
                ),
            ),
        ),
        ("a count", _leaf("poisson_nll_loss")),
        ("a probability distribution (soft targets)", _leaf("kl_div")),
        (
            "one of two classes",
            Question(
                "Do you need calibrated probabilities?",
                (
                    ("yes, the model outputs logits", _leaf("binary_cross_entropy_with_logits")),
                    ("yes, the model outputs probabilities", _leaf("binary_cross_entropy")),
                    ("yes, with labels -1/+1", _leaf("soft_margin_loss")),
                    ("no, only a margin", _leaf("multi_margin_loss")),
                ),
            ),
        ),
        (
            "one of C classes",
            Question(
                "Is the vocabulary huge?",
                (
                    ("yes, and the softmax must stay exact", _leaf("linear_cross_entropy")),
                    ("yes, with a long-tailed class distribution", _leaf("adaptive_log_softmax")),
                    (
                        "no",
                        Question(
                            "Do you need calibrated probabilities?",
                            (
                                ("yes, the model outputs logits", _leaf("cross_entropy")),
                                ("yes, the model outputs log-probabilities", _leaf("nll_loss")),
                                ("no, only a margin", _leaf("multi_margin_loss")),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        (
            "several labels at once (multi-label)",
            Question(
                "Probabilities per label or a ranking of labels?",
                (
                    ("probabilities", _leaf("multilabel_soft_margin_loss", "binary_cross_entropy_with_logits")),
                    ("probabilities, labels imbalanced", _leaf("binary_cross_entropy_with_logits")),
                    ("a ranking: true labels above the others", _leaf("multilabel_margin_loss")),
                ),
            ),
        ),
        ("an order between pairs (ranking)", _leaf("margin_ranking_loss")),
        (
            "an embedding (similarity)",
            Question(
                "What supervision do you have?",
                (
                    ("pairs, with a distance", _leaf("hinge_embedding_loss")),
                    ("pairs, compared by angle", _leaf("cosine_embedding_loss")),
                    ("triplets, p-norm distance", _leaf("triplet_margin_loss")),
                    ("triplets, another distance", _leaf("triplet_margin_with_distance_loss")),
                ),
            ),
        ),
        ("a sequence without alignment", _leaf("ctc_loss")),
    ),
)
"""The decision guide as a tree; the book draws it and lists it with a link per leaf."""


def walk(node: "Question | Leaf" = DECISION_TREE, depth: int = 0):
    """Yield ``(depth, answer, node)`` for every node below ``node``, depth first, in order."""
    if isinstance(node, Question):
        for answer, child in node.answers:
            yield depth, answer, child
            yield from walk(child, depth + 1)


def leaves(node: "Question | Leaf" = DECISION_TREE) -> list[Leaf]:
    """Every leaf of the tree, in order."""
    return [child for _, _, child in walk(node) if isinstance(child, Leaf)]


def guide_markdown(node: Question = DECISION_TREE, page_dir: str = "book/choosing") -> str:
    """The tree as nested Markdown lists, each leaf linking to its chapter relative to ``page_dir``."""
    lines = [f"**{node.text}**", ""]
    for depth, answer, child in walk(node):
        indent = "  " * depth
        if isinstance(child, Question):
            lines.append(f"{indent}- {answer}: *{child.text}*")
        else:
            names = ", ".join(f"`{loss}`" for loss in child.losses)
            link = f"[{child.chapter.split('/')[-1]}]({relpath(child.chapter, page_dir)}.ipynb)"
            lines.append(f"{indent}- {answer}: {names}, see {link}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Recommendation:
    """One ranked loss: its score, the reasons for it, its ``torch.nn`` class and the chapter to read."""

    loss: str
    score: float
    reasons: tuple[str, ...]
    module: str
    chapter: str


TASKS: dict[str, dict[str, tuple[float, str]]] = {
    "regression": {
        "mse_loss": (3.0, "the default: maximum likelihood under Gaussian noise, it estimates the mean"),
        "huber_loss": (2.0, "MSE near zero, L1 in the tails"),
        "l1_loss": (1.5, "estimates the median"),
        "smooth_l1_loss": (1.0, "Huber divided by beta"),
        "gaussian_nll_loss": (0.5, "predicts a variance as well as the mean"),
    },
    "counts": {
        "poisson_nll_loss": (3.0, "maximum likelihood for counts under a Poisson law, log link"),
        "mse_loss": (1.0, "ignores that the variance of a count grows with its mean"),
    },
    "distribution": {
        "kl_div": (3.0, "matches a target distribution; its minimiser is the mean target distribution"),
        "cross_entropy": (2.0, "accepts class probabilities as targets: the same gradient as kl_div"),
    },
    "binary": {
        "binary_cross_entropy_with_logits": (3.0, "Bernoulli likelihood on logits, numerically stable"),
        "binary_cross_entropy": (2.0, "Bernoulli likelihood on probabilities"),
        "soft_margin_loss": (1.5, "the same logistic loss for labels -1/+1"),
        "multi_margin_loss": (1.0, "with two classes, the SVM hinge on the score difference"),
    },
    "multiclass": {
        "cross_entropy": (3.0, "categorical likelihood on logits, the softmax inside"),
        "nll_loss": (2.0, "categorical likelihood on log-probabilities"),
        "multi_margin_loss": (1.5, "the multiclass SVM hinge"),
        "linear_cross_entropy": (1.0, "cross-entropy of a linear head without storing the logits"),
        "adaptive_log_softmax": (0.5, "a softmax factorised by class frequency"),
    },
    "multilabel": {
        "multilabel_soft_margin_loss": (3.0, "an independent logistic loss per label, averaged over labels"),
        "binary_cross_entropy_with_logits": (2.5, "the same per-label loss, with pos_weight per label"),
        "multilabel_margin_loss": (1.5, "ranks every true label above every false one"),
    },
    "ranking": {
        "margin_ranking_loss": (3.0, "a hinge on the score difference of a pair"),
        "soft_margin_loss": (1.0, "a logistic loss on the score difference x1 - x2 (labels -1/+1)"),
    },
    "embedding": {
        "triplet_margin_loss": (3.0, "orders the distances of anchor-positive and anchor-negative"),
        "triplet_margin_with_distance_loss": (2.0, "the same with any distance function"),
        "cosine_embedding_loss": (1.5, "pairs compared by angle"),
        "hinge_embedding_loss": (1.0, "pairs compared by a distance you compute"),
    },
    "sequence": {
        "cross_entropy": (3.0, "per-frame labels that are aligned with the inputs"),
        "ctc_loss": (2.0, "labels without alignment, summed over every alignment"),
    },
}
"""Per task: the candidate losses, each with its base score and the reason it is a candidate."""

FACTS: dict[str, dict[str, dict[str, tuple[float, str]]]] = {
    "regression": {
        "outliers": {
            "huber_loss": (2.0, "outliers pull with a bounded force delta"),
            "l1_loss": (1.8, "outliers pull with a bounded force; the median ignores how far they are"),
            "smooth_l1_loss": (1.5, "outliers pull with a bounded force"),
            "mse_loss": (-2.0, "squared residuals let a few outliers dominate the mean"),
            "gaussian_nll_loss": (-1.0, "outliers drag the mean or inflate the variance"),
        },
        "median": {"l1_loss": (3.0, "its minimiser is the median")},
        "heteroscedastic": {"gaussian_nll_loss": (4.0, "it learns the noise level of each example")},
        "detection": {"smooth_l1_loss": (4.0, "the box-regression loss of Fast R-CNN, slope 1 in the tails")},
    },
    "counts": {"overdispersed": {"poisson_nll_loss": (-0.5, "the Poisson law fixes the variance to the mean")}},
    "distribution": {"log_target": {"kl_div": (0.5, "log_target=True takes log-probabilities as targets")}},
    "binary": {
        "calibrated": {
            "binary_cross_entropy_with_logits": (1.0, "a proper scoring rule: probabilities come out calibrated"),
            "binary_cross_entropy": (1.0, "a proper scoring rule: probabilities come out calibrated"),
            "soft_margin_loss": (1.0, "the logistic loss is a proper scoring rule"),
            "multi_margin_loss": (-2.0, "a hinge elicits only the decision, not a probability"),
        },
        "imbalanced": {"binary_cross_entropy_with_logits": (1.0, "pos_weight re-weights the positive class")},
        "probabilities": {
            "binary_cross_entropy": (2.0, "the model already outputs probabilities"),
            "binary_cross_entropy_with_logits": (-1.5, "it expects logits, not probabilities"),
        },
        "signed_labels": {"soft_margin_loss": (2.0, "it takes labels -1/+1 as they are")},
        "margin": {"multi_margin_loss": (3.0, "a hinge: only examples inside the margin cost anything")},
    },
    "multiclass": {
        "calibrated": {
            "cross_entropy": (1.0, "a proper scoring rule: softmax probabilities come out calibrated"),
            "nll_loss": (1.0, "a proper scoring rule"),
            "multi_margin_loss": (-2.0, "a hinge elicits only the decision"),
        },
        "imbalanced": {"cross_entropy": (1.0, "weight re-weights each class")},
        "log_probabilities": {
            "nll_loss": (2.0, "the model already outputs log-probabilities"),
            "cross_entropy": (-1.5, "it would apply a second log-softmax"),
        },
        "margin": {"multi_margin_loss": (3.0, "a hinge: only examples inside the margin cost anything")},
        "huge_vocabulary": {
            "linear_cross_entropy": (3.0, "exact cross-entropy without materialising the N x C logits"),
            "adaptive_log_softmax": (2.5, "the head softmax and small tails cost far less than a full softmax"),
        },
        "long_tail": {"adaptive_log_softmax": (2.0, "it gives rare classes smaller projections (Zipf)")},
        "soft_targets": {"cross_entropy": (0.5, "it accepts class probabilities and label_smoothing")},
    },
    "multilabel": {
        "imbalanced": {"binary_cross_entropy_with_logits": (1.0, "pos_weight re-weights positives per label")},
        "margin": {"multilabel_margin_loss": (3.0, "a ranking hinge between true and false labels")},
        "calibrated": {"multilabel_margin_loss": (-2.0, "a hinge elicits only the ranking")},
    },
    "ranking": {"calibrated": {"soft_margin_loss": (2.5, "a logistic loss gives the probability of the order")}},
    "embedding": {
        "pairs": {
            "cosine_embedding_loss": (2.0, "it takes labelled pairs"),
            "hinge_embedding_loss": (2.0, "it takes labelled pairs"),
            "triplet_margin_loss": (-2.0, "it needs triplets"),
            "triplet_margin_with_distance_loss": (-2.0, "it needs triplets"),
        },
        "cosine": {
            "cosine_embedding_loss": (1.5, "it compares by angle"),
            "triplet_margin_with_distance_loss": (1.5, "distance_function can be 1 - cosine"),
        },
        "custom_distance": {"triplet_margin_with_distance_loss": (2.0, "any distance_function")},
    },
    "sequence": {"unaligned": {"ctc_loss": (2.0, "it sums over every alignment of labels to frames")}},
}
"""Per task and fact: the points each loss gains (or loses) when the fact is true, and why."""


def recommend(task: str, **facts: bool) -> list[Recommendation]:
    """Rank the losses for ``task`` given boolean ``facts``, best first (ties in the book's order).

    Each candidate of :data:`TASKS` starts at its base score; each true fact of :data:`FACTS` adds its
    points. A false fact changes nothing.

    Raises:
        ValueError: ``task`` is not in :data:`TASKS`, a fact does not apply to the task, or a fact is not a bool.
    """
    if task not in TASKS:
        raise ValueError(f"recommend(): unknown task={task!r} (expected one of {', '.join(TASKS)})")
    valid = FACTS.get(task, {})
    for fact, value in facts.items():
        if fact not in valid:
            raise ValueError(
                f"recommend(): unknown fact {fact!r} for task={task!r} (expected one of {', '.join(valid)})"
            )
        if not isinstance(value, bool):
            raise ValueError(f"recommend(): fact {fact}={value!r} must be True or False")
    ranked = []
    for loss, (score, reason) in TASKS[task].items():
        reasons = [reason]
        for fact, value in facts.items():
            if value and loss in valid[fact]:
                points, why = valid[fact][loss]
                score += points
                reasons.append(f"{fact}: {why}")
        card = CARDS[loss]
        ranked.append(Recommendation(loss, score, tuple(reasons), card.module, card.chapter))
    order = list(CARDS)
    return sorted(ranked, key=lambda r: (-r.score, order.index(r.loss)))


__all__ = [
    "DECISION_TREE",
    "FACTS",
    "TASKS",
    "Leaf",
    "Question",
    "Recommendation",
    "guide_markdown",
    "leaves",
    "recommend",
    "walk",
]
