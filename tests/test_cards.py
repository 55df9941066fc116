"""The loss cards and the decision guide: one card per loss, torch's defaults, the measurable claims measured
(convexity by sampling, the elicited statistic by fitting a constant, robustness by injecting outliers), every
chapter reachable from the guide, and ``recommend`` ranking the expected loss first."""

import inspect
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as TF
import yaml

import refimpl
from refimpl.guide import card_checks
from refimpl.guide.cards import CARDS, SMOOTHNESS
from refimpl.guide.recommend import DECISION_TREE, FACTS, TASKS, Leaf, Question, guide_markdown, leaves, recommend, walk
from registry import CASES, CASES_BY_NAME

ROOT = Path(__file__).resolve().parent.parent
LEGACY = {"size_average", "reduce"}


def test_one_card_per_loss_in_the_book_order():
    assert list(CARDS) == [case.name for case in CASES]


@pytest.mark.parametrize("name", list(CARDS))
def test_card_names_the_torch_class_and_the_chapter(name):
    card, case = CARDS[name], CASES_BY_NAME[name]
    assert card.module == case.torch_module.__name__
    assert card.chapter == f"book/{case.part}/{case.chapter}"
    assert card.smoothness in SMOOTHNESS
    assert card.task in TASKS and name in TASKS[card.task], f"{name} is not a candidate of its own task"
    assert card.use_when and card.avoid_when and card.statistic and card.link and card.target


@pytest.mark.parametrize("name", list(CARDS))
def test_equivalent_names_are_qualified(name):
    card = CARDS[name]
    for value, prefix in ((card.keras, "keras.losses."), (card.optax, "optax.losses."), (card.sklearn, "sklearn.")):
        assert value is None or value.startswith(prefix), f"{name}: {value!r} should start with {prefix!r}"


def _torch_defaults(name: str) -> dict:
    if name == "adaptive_log_softmax":  # module only: the constructor's options
        signature = inspect.signature(torch.nn.AdaptiveLogSoftmaxWithLoss.__init__)
        skip = {"device", "dtype"}
    else:
        signature, skip = inspect.signature(getattr(TF, name)), LEGACY
    return {
        key: p.default
        for key, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty and key not in skip
    }


@pytest.mark.parametrize("name", list(CARDS))
def test_card_defaults_equal_torch(name):
    expected = _torch_defaults(name)
    got = CARDS[name].torch_defaults
    assert got == expected
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}


@pytest.mark.parametrize("name", list(CARDS))
def test_convexity_claim_holds_when_sampled(name):
    check = card_checks.check_convexity(name)
    assert check.convex == CARDS[name].convex, (
        f"{name}: the card says convex={CARDS[name].convex}, the worst midpoint gap is {check.worst_gap:.3g}"
    )


def test_midpoint_gap_finds_a_non_convex_function_and_accepts_a_convex_one():
    g = torch.Generator().manual_seed(0)
    draw = lambda: torch.randn(3, generator=g, dtype=torch.float64)  # noqa: E731
    assert card_checks.midpoint_gap(lambda x: -(x**2).sum(), draw, 50)[0] > 1e-3
    assert card_checks.midpoint_gap(lambda x: (x**2).sum(), draw, 50)[0] <= 0


# what each measured card's statistic must say (a phrase of card.statistic), checked by fitting a constant
STATISTIC_PHRASES = {
    "l1_loss": "median",
    "mse_loss": "mean",
    "huber_loss": "between median and mean",
    "smooth_l1_loss": "between median and mean",
    "poisson_nll_loss": "log of the mean",
    "gaussian_nll_loss": "mean",
    "kl_div": "mean target distribution",
    "binary_cross_entropy": "mean of the targets",
    "binary_cross_entropy_with_logits": "logit of the mean",
    "nll_loss": "log class frequencies",
    "cross_entropy": "class frequencies",
    "soft_margin_loss": "logit of P(y = +1)",
    "multilabel_soft_margin_loss": "logit of each label's frequency",
    "multi_margin_loss": "mode",
}


def test_every_measured_statistic_has_a_phrase():
    assert set(STATISTIC_PHRASES) == set(card_checks.STATISTIC_MEASURED)


@pytest.mark.parametrize("name", card_checks.STATISTIC_MEASURED)
def test_statistic_claim_holds_when_fitting_a_constant(name):
    card = CARDS[name]
    assert STATISTIC_PHRASES[name] in card.statistic
    check = card_checks.check_statistic(name, card.statistic)
    assert check.agrees, f"{name}: fitted {check.fitted}, expected {check.expected} ({card.statistic})"


def test_fitting_a_constant_finds_the_mean_of_mse():
    y = torch.tensor([1.0, 2.0, 7.0], dtype=torch.float64)
    assert card_checks.fit_scalar("mse_loss", y) == pytest.approx(float(y.mean()), abs=1e-6)
    assert card_checks.fit_scalar("l1_loss", y) == pytest.approx(float(y.median()), abs=1e-6)


def test_robustness_is_claimed_exactly_where_it_is_measured():
    assert {name for name, card in CARDS.items() if card.robust is not None} == set(card_checks.ROBUSTNESS_MEASURED)


@pytest.mark.parametrize("name", card_checks.ROBUSTNESS_MEASURED)
def test_robustness_claim_holds_when_injecting_outliers(name):
    check = card_checks.check_robustness(name)
    assert check.robust == CARDS[name].robust, (
        f"{name}: the fit moved by {check.shift_near:.3g} and {check.shift_far:.3g} for outliers at "
        f"{check.distance:g} and {10 * check.distance:g}"
    )


# the decision guide


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def _loss_chapters() -> set[str]:
    """Every page of _toc.yml in a part that holds a loss chapter (book/regression/comparison included)."""
    parts = {case.part for case in CASES}
    return {file for file in _toc_files() if file.split("/")[1] in parts}


def test_every_loss_chapter_is_reachable_from_the_guide():
    reached = {leaf.chapter for leaf in leaves()}
    assert _loss_chapters() - reached == set()


def test_every_loss_is_named_by_a_leaf():
    assert set(CARDS) - {loss for leaf in leaves() for loss in leaf.losses} == set()


@pytest.mark.parametrize("leaf", leaves(), ids=lambda leaf: leaf.chapter)
def test_every_leaf_names_an_existing_chapter(leaf):
    assert leaf.losses and set(leaf.losses) <= set(CARDS)
    assert leaf.chapter in _toc_files()
    assert (ROOT / f"{leaf.chapter}.ipynb").exists() or (ROOT / f"{leaf.chapter}.md").exists()


def test_every_question_has_answers():
    questions = [DECISION_TREE] + [node for _, _, node in walk() if isinstance(node, Question)]
    assert all(len(q.answers) >= 2 for q in questions)
    assert all(isinstance(node, Question | Leaf) for _, _, node in walk())


def test_guide_page_lists_the_tree_and_choosing_pages_are_in_the_toc():
    nb = json.loads((ROOT / "book" / "choosing" / "guide.ipynb").read_text())
    markdown = ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "markdown"]
    assert guide_markdown().strip() in markdown, "the guide's nested list differs from guide_markdown()"
    parts = yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]
    captions = [part["caption"] for part in parts]
    choosing = parts[captions.index("Choosing a loss")]
    assert captions.index("Choosing a loss") == captions.index("Foundations") + 1
    assert [c["file"] for c in choosing["chapters"]] == ["book/choosing/guide", "book/choosing/comparison_table"]


# recommend()

SCENARIOS = [
    ("regression", {}, "mse_loss"),
    ("regression", {"outliers": True}, "huber_loss"),
    ("regression", {"outliers": True, "median": True}, "l1_loss"),
    ("regression", {"heteroscedastic": True}, "gaussian_nll_loss"),
    ("regression", {"outliers": True, "detection": True}, "smooth_l1_loss"),
    ("regression", {"outliers": False}, "mse_loss"),
    ("counts", {}, "poisson_nll_loss"),
    ("distribution", {}, "kl_div"),
    ("binary", {}, "binary_cross_entropy_with_logits"),
    ("binary", {"calibrated": True, "imbalanced": True}, "binary_cross_entropy_with_logits"),
    ("binary", {"probabilities": True}, "binary_cross_entropy"),
    ("binary", {"signed_labels": True}, "soft_margin_loss"),
    ("binary", {"margin": True}, "multi_margin_loss"),
    ("multiclass", {}, "cross_entropy"),
    ("multiclass", {"imbalanced": True, "soft_targets": True}, "cross_entropy"),
    ("multiclass", {"log_probabilities": True}, "nll_loss"),
    ("multiclass", {"margin": True}, "multi_margin_loss"),
    ("multiclass", {"huge_vocabulary": True}, "linear_cross_entropy"),
    ("multiclass", {"huge_vocabulary": True, "long_tail": True}, "adaptive_log_softmax"),
    ("multilabel", {}, "multilabel_soft_margin_loss"),
    ("multilabel", {"imbalanced": True}, "binary_cross_entropy_with_logits"),
    ("multilabel", {"margin": True}, "multilabel_margin_loss"),
    ("ranking", {}, "margin_ranking_loss"),
    ("ranking", {"calibrated": True}, "soft_margin_loss"),
    ("embedding", {}, "triplet_margin_loss"),
    ("embedding", {"custom_distance": True}, "triplet_margin_with_distance_loss"),
    ("embedding", {"pairs": True, "cosine": True}, "cosine_embedding_loss"),
    ("sequence", {}, "cross_entropy"),
    ("sequence", {"unaligned": True}, "ctc_loss"),
]


@pytest.mark.parametrize("task, facts, expected", SCENARIOS, ids=lambda v: str(v))
def test_recommend_ranks_the_expected_loss_first(task, facts, expected):
    ranked = recommend(task, **facts)
    assert ranked[0].loss == expected, [(r.loss, r.score) for r in ranked]
    assert ranked[0].score > ranked[1].score, "the first place is a tie"
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    for r in ranked:
        assert r.chapter == CARDS[r.loss].chapter and r.module == CARDS[r.loss].module and r.reasons
    for fact, value in facts.items():
        if value and expected in FACTS[task][fact]:
            assert any(reason.startswith(f"{fact}:") for reason in ranked[0].reasons)


def test_recommend_is_exported_at_the_top_level():
    assert refimpl.recommend("counts")[0].loss == "poisson_nll_loss"


def test_every_fact_scores_candidates_of_its_task():
    for task, facts in FACTS.items():
        for fact, scores in facts.items():
            assert set(scores) <= set(TASKS[task]), f"{task}/{fact} scores a loss that is not a candidate"
    assert all(loss in CARDS for candidates in TASKS.values() for loss in candidates)


def test_recommend_rejects_an_unknown_task_and_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown task='segmentation'.*regression.*sequence"):
        recommend("segmentation")


def test_recommend_rejects_an_unknown_fact_and_lists_the_valid_ones():
    with pytest.raises(ValueError, match=re.escape("unknown fact 'imbalanced' for task='regression'") + ".*outliers"):
        recommend("regression", imbalanced=True)


def test_recommend_rejects_a_fact_that_is_not_a_bool():
    with pytest.raises(ValueError, match="outliers='yes' must be True or False"):
        recommend("regression", outliers="yes")
