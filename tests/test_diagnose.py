"""``refimpl.diagnose``: each detector fires on its mistake built from realistic data, and stays silent on
every sample of the parity registry (except the samples that are themselves the mistake) and on correct use.
"""

import pytest
import torch

import refimpl
from refimpl.guide.diagnose import DETECTORS, Finding, diagnose
from registry import CASES

# Registry samples that deliberately make a mistake (to pin torch's behaviour on it): the finding each must
# give. Matched by the start of the sample's desc; every other registry sample must give no finding at all.
MISUSE_SAMPLES = {
    # probabilities passed as kl_div's input (the registry's comment: "the misuse")
    ("kl_div", "probabilities-as-input-"): ["probabilities-as-log-probabilities"],
    # 0/1 labels where the loss expects -1/+1
    ("hinge_embedding_loss", "labels-0/1-instead-of-±1"): ["zero-one-labels"],
    ("soft_margin_loss", "labels-0/1-instead-of-±1"): ["zero-one-labels"],
    # y > 0 turns -1/+1 labels into False/True, which these losses read as 0/1: the same mistake
    ("hinge_embedding_loss", "target-bool"): ["zero-one-labels"],
    ("soft_margin_loss", "target-bool"): ["zero-one-labels"],
    ("cosine_embedding_loss", "target-bool"): ["zero-one-labels"],
}


def _expected_codes(name: str, desc: str) -> list[str]:
    return next(
        (codes for (loss, prefix), codes in MISUSE_SAMPLES.items() if loss == name and desc.startswith(prefix)), []
    )


@pytest.mark.parametrize(
    "case, dtype",
    [pytest.param(case, dtype, id=f"{case.name}-{str(dtype)[6:]}") for case in CASES for dtype in case.dtypes["cpu"]],
)
def test_registry_samples_give_only_their_known_misuse(case, dtype):
    found, expected = {}, {}
    for sample in case.samples("cpu", dtype):
        codes = [finding.code for finding in diagnose(case.name, *sample.args, **sample.kwargs)]
        if codes:
            found[sample.desc] = codes
        if _expected_codes(case.name, sample.desc):
            expected[sample.desc] = _expected_codes(case.name, sample.desc)
    assert found == expected


def test_every_misuse_entry_names_registry_samples():
    descs = {(case.name, s.desc) for case in CASES for s in case.samples("cpu", torch.float64)}
    unmatched = [key for key in MISUSE_SAMPLES if not any(n == key[0] and d.startswith(key[1]) for n, d in descs)]
    assert unmatched == []


# ----------------------------------------------------------------------------------------------------------
# Realistic data: a seeded "model" output for a batch of 64 examples and 5 classes.

N, C = 64, 5


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _logits(*shape: int, seed: int = 0, scale: float = 2.0) -> torch.Tensor:
    return scale * torch.randn(shape, generator=_gen(seed))


def _classes(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, C, shape, generator=_gen(seed))


def _labels01(*shape: int, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=_gen(seed)).float()


def _codes(*args, **kwargs) -> list[str]:
    return [finding.code for finding in diagnose(*args, **kwargs)]


MISTAKES = {
    "softmax-into-cross_entropy": (
        lambda: ("cross_entropy", _logits(N, C).softmax(1), _classes(N)),
        {},
        ["probabilities-as-logits"],
    ),
    "softmax-into-cross_entropy-K-dim": (
        lambda: ("cross_entropy", _logits(4, C, 8, 8).softmax(1), _classes(4, 8, 8)),
        {},
        ["probabilities-as-logits"],
    ),
    "softmax-into-cross_entropy-unbatched": (
        lambda: ("cross_entropy", _logits(C).softmax(0), torch.tensor(3)),
        {},
        ["probabilities-as-logits"],
    ),
    "softmax-into-cross_entropy-bfloat16": (
        lambda: ("cross_entropy", _logits(N, C).bfloat16().softmax(1), _classes(N)),
        {},
        ["probabilities-as-logits"],
    ),
    "softmax-into-cross_entropy-1000-classes": (
        lambda: ("cross_entropy", _logits(N, 1000).softmax(1), torch.randint(0, 1000, (N,), generator=_gen(1))),
        {},
        ["probabilities-as-logits"],
    ),
    "sigmoid-into-bce_with_logits": (
        lambda: ("binary_cross_entropy_with_logits", _logits(N, 1).sigmoid(), _labels01(N, 1)),
        {},
        ["probabilities-as-logits"],
    ),
    "sigmoid-into-multilabel_soft_margin": (
        lambda: ("multilabel_soft_margin_loss", _logits(N, C).sigmoid(), _labels01(N, C)),
        {},
        ["probabilities-as-logits"],
    ),
    "softmax-into-nll": (
        lambda: ("nll_loss", _logits(N, C).softmax(1), _classes(N)),
        {},
        ["probabilities-as-log-probabilities"],
    ),
    "softmax-into-ctc": (
        lambda: ("ctc_loss", _logits(12, 2, C).softmax(2), torch.tensor([[1, 2, 3], [4, 1, 1]]), [12, 12], [3, 3]),
        {},
        ["probabilities-as-log-probabilities"],
    ),
    "probabilities-into-kl_div": (
        lambda: ("kl_div", _logits(N, C).softmax(1), _logits(N, C, seed=3).softmax(1)),
        {"reduction": "batchmean"},
        ["probabilities-as-log-probabilities"],
    ),
    "kl_div-arguments-swapped": (
        lambda: ("kl_div", _logits(N, C, seed=3).softmax(1), _logits(N, C).log_softmax(1)),
        {"reduction": "batchmean"},
        ["kl-div-arguments-swapped"],
    ),
    "kl_div-log-target-without-flag": (
        lambda: ("kl_div", _logits(N, C).log_softmax(1), _logits(N, C, seed=3).log_softmax(1)),
        {"reduction": "batchmean"},
        ["log-probabilities-as-probabilities"],
    ),
    "float-indices-into-cross_entropy": (
        lambda: ("cross_entropy", _logits(N, C), _classes(N).float()),
        {},
        ["class-indices-as-float"],
    ),
    "float-indices-into-cross_entropy-K-dim": (
        lambda: ("cross_entropy", _logits(4, C, 8), _classes(4, 8).float()),
        {},
        ["class-indices-as-float"],
    ),
    "float-indices-into-nll": (
        lambda: ("nll_loss", _logits(N, C).log_softmax(1), _classes(N).double()),
        {},
        ["class-indices-as-float"],
    ),
    "float-indices-into-multi_margin": (
        lambda: ("multi_margin_loss", _logits(N, C), _classes(N).float()),
        {},
        ["class-indices-as-float"],
    ),
    "(N,1)-vs-(N,)-mse": (lambda: ("mse_loss", _logits(N, 1), _logits(N, seed=4)), {}, ["silent-broadcast"]),
    "(N,)-vs-(N,1)-l1": (lambda: ("l1_loss", _logits(N), _logits(N, 1, seed=4)), {}, ["silent-broadcast"]),
    "(N,1)-vs-(N,)-huber": (lambda: ("huber_loss", _logits(N, 1), _logits(N, seed=4)), {}, ["silent-broadcast"]),
    "(N,1)-vs-(N,)-bce": (
        lambda: ("binary_cross_entropy", _logits(N, 1).sigmoid(), _labels01(N)),
        {},
        ["silent-broadcast"],
    ),
    "(N,1)-vs-(N,)-poisson_nll": (
        lambda: ("poisson_nll_loss", _logits(N, 1), torch.poisson(torch.full((N,), 3.0), generator=_gen(6))),
        {},
        ["silent-broadcast"],
    ),
    "(N,1)-vs-(N,)-gaussian_nll": (
        lambda: ("gaussian_nll_loss", _logits(N, 1), _logits(N, seed=4), torch.ones(N, 1)),
        {},
        ["silent-broadcast"],
    ),
    "(N,1)-vs-(N,)-hinge_embedding": (
        lambda: ("hinge_embedding_loss", _logits(N, 1).abs(), 2 * _labels01(N) - 1),
        {},
        ["silent-broadcast"],
    ),
    "0/1-labels-hinge_embedding": (
        lambda: ("hinge_embedding_loss", _logits(N).abs(), _labels01(N)),
        {},
        ["zero-one-labels"],
    ),
    "0/1-labels-soft_margin": (lambda: ("soft_margin_loss", _logits(N), _labels01(N)), {}, ["zero-one-labels"]),
    "0/1-labels-margin_ranking": (
        lambda: ("margin_ranking_loss", _logits(N), _logits(N, seed=4), _labels01(N)),
        {},
        ["zero-one-labels"],
    ),
    "0/1-labels-cosine_embedding": (
        lambda: ("cosine_embedding_loss", _logits(N, 8), _logits(N, 8, seed=4), _labels01(N)),
        {},
        ["zero-one-labels"],
    ),
    "logits-into-bce": (lambda: ("binary_cross_entropy", _logits(N), _labels01(N)), {}, ["logits-as-probabilities"]),
    "sigmoid-twice-into-bce": (
        lambda: ("binary_cross_entropy", _logits(N).sigmoid().sigmoid(), _labels01(N)),
        {},
        ["sigmoid-applied-twice"],
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_detector_fires_on_the_mistake(name):
    make_args, kwargs, expected = MISTAKES[name]
    assert _codes(*make_args(), **kwargs) == expected


def test_every_detector_has_a_mistake_that_fires_it():
    fired = {code for _, _, codes in MISTAKES.values() for code in codes}
    detectors = {detector for detectors in DETECTORS.values() for detector in detectors}
    assert len(fired) == len(detectors)  # one distinct code per detector, each shown firing above


def test_message_names_the_argument_the_evidence_and_the_fix():
    (finding,) = diagnose("cross_entropy", _logits(N, C).softmax(1), _classes(N))
    assert isinstance(finding, Finding)
    assert "input" in finding.message and "sums to 1" in finding.message and "logits" in finding.fix
    assert str(finding).startswith("[probabilities-as-logits] ")


def test_softmax_applied_twice_is_named():
    twice = _logits(N, C).softmax(1).softmax(1)
    once = _logits(N, C).softmax(1)
    assert "softmax was applied twice" in diagnose("cross_entropy", twice, _classes(N))[0].message
    assert "softmax was applied twice" not in diagnose("cross_entropy", once, _classes(N))[0].message


def test_log_softmax_twice_is_harmless_so_nothing_fires():
    # log_softmax is idempotent (logsumexp of log-probabilities is 0): applying it twice changes nothing
    log_p = _logits(N, C).log_softmax(1)
    y = _classes(N)
    torch.testing.assert_close(
        torch.nn.functional.nll_loss(log_p.log_softmax(1), y), torch.nn.functional.nll_loss(log_p, y)
    )
    assert _codes("nll_loss", log_p.log_softmax(1), y) == []
    assert _codes("cross_entropy", log_p, y) == []


CORRECT = {
    "cross_entropy-logits": lambda: ("cross_entropy", _logits(N, C), _classes(N)),
    "cross_entropy-near-uniform-at-init": lambda: ("cross_entropy", _logits(N, C, scale=0.01), _classes(N)),
    "cross_entropy-probability-targets": lambda: ("cross_entropy", _logits(N, C), _logits(N, C, seed=3).softmax(1)),
    "cross_entropy-one-hot-float-targets": lambda: (
        "cross_entropy",
        _logits(N, C),
        torch.nn.functional.one_hot(_classes(N), C).float(),
    ),
    "cross_entropy-K-dim": lambda: ("cross_entropy", _logits(4, C, 8, 8), _classes(4, 8, 8)),
    "nll-log_softmax": lambda: ("nll_loss", _logits(N, C).log_softmax(1), _classes(N)),
    "nll-near-uniform-at-init": lambda: ("nll_loss", _logits(N, C, scale=0.01).log_softmax(1), _classes(N)),
    "bce_with_logits": lambda: ("binary_cross_entropy_with_logits", _logits(N, 1), _labels01(N, 1)),
    "bce_with_logits-small-logits-at-init": lambda: (
        "binary_cross_entropy_with_logits",
        _logits(N, 1, scale=0.1),
        _labels01(N, 1),
    ),
    "bce_with_logits-bias-at-class-prior": lambda: (
        "binary_cross_entropy_with_logits",
        0.4 + _logits(N, 1, scale=0.05),
        _labels01(N, 1),
    ),
    "bce-probabilities": lambda: ("binary_cross_entropy", _logits(N).sigmoid(), _labels01(N)),
    "bce-base-rate-model": lambda: ("binary_cross_entropy", (0.85 + _logits(N, scale=0.1)).sigmoid(), _labels01(N)),
    "bce-soft-labels": lambda: ("binary_cross_entropy", _logits(N).sigmoid(), _logits(N, seed=5).sigmoid()),
    "multilabel_soft_margin": lambda: ("multilabel_soft_margin_loss", _logits(N, C), _labels01(N, C)),
    "kl_div-log-probs-and-probs": lambda: (
        "kl_div",
        _logits(N, C).log_softmax(1),
        _logits(N, C, seed=3).softmax(1),
        None,
        None,
        "batchmean",
    ),
    "kl_div-log_target": lambda: (
        "kl_div",
        _logits(N, C).log_softmax(1),
        _logits(N, C, seed=3).log_softmax(1),
        None,
        None,
        "batchmean",
        True,
    ),
    "ctc-log_softmax": lambda: (
        "ctc_loss",
        _logits(12, 2, C).log_softmax(2),
        torch.tensor([[1, 2, 3], [4, 1, 1]]),
        [12, 12],
        [3, 3],
    ),
    "mse-same-shape": lambda: ("mse_loss", _logits(N, 1), _logits(N, 1, seed=4)),
    "mse-row-target-broadcast": lambda: ("mse_loss", _logits(N, C), _logits(C, seed=4)),
    "l1-scalar-target": lambda: ("l1_loss", _logits(N), torch.tensor(0.5)),
    "gaussian_nll-per-row-var": lambda: (
        "gaussian_nll_loss",
        _logits(N, C),
        _logits(N, C, seed=4),
        _logits(N, 1, seed=5).exp(),
    ),
    "poisson_nll-counts": lambda: (
        "poisson_nll_loss",
        _logits(N),
        torch.poisson(torch.full((N,), 3.0), generator=_gen(6)),
    ),
    "hinge_embedding-±1": lambda: ("hinge_embedding_loss", _logits(N).abs(), 2 * _labels01(N) - 1),
    "soft_margin-±1": lambda: ("soft_margin_loss", _logits(N), 2 * _labels01(N) - 1),
    "margin_ranking-±1": lambda: ("margin_ranking_loss", _logits(N), _logits(N, seed=4), 2 * _labels01(N) - 1),
    "margin_ranking-all-+1": lambda: ("margin_ranking_loss", _logits(N), _logits(N, seed=4), torch.ones(N)),
    "cosine_embedding-±1": lambda: (
        "cosine_embedding_loss",
        _logits(N, 8),
        _logits(N, 8, seed=4),
        2 * _labels01(N) - 1,
    ),
    "multi_margin-indices": lambda: ("multi_margin_loss", _logits(N, C), _classes(N)),
    "triplet_margin": lambda: ("triplet_margin_loss", _logits(N, 8), _logits(N, 8, seed=4), _logits(N, 8, seed=5)),
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_silent_on_correct_use(name):
    assert _codes(*CORRECT[name]()) == []


def test_loss_name_must_be_a_loss():
    with pytest.raises(ValueError, match="loss_name='mse_loss_grad'"):
        diagnose("mse_loss_grad", torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="loss_name='softmax'"):
        diagnose("softmax", torch.zeros(2), torch.zeros(2))


def test_exported_at_the_top_level_and_documented():
    assert refimpl.diagnose is diagnose
    detectors = {detector for detectors in DETECTORS.values() for detector in detectors}
    assert all(detector.__doc__.startswith("Rule:") for detector in detectors)
