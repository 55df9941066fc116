"""The findings stated in book/experiments/, re-measured with the same functions, data and seeds.

Each test compares quantities measured in the same run (never a number copied from a notebook), so each
can fail if a loss, the training loop or the data changes the outcome.
"""

import pytest
import torch

import refimpl
from refimpl import experiments as ex

# the module fixtures train models: under pytest-xdist (--dist loadgroup) one worker trains each once
pytestmark = pytest.mark.xdist_group("experiments")

# the settings of book/experiments/regression_outliers.ipynb
REGRESSION_LOSSES = {
    "MSE": refimpl.nn.MSELoss(),
    "L1": refimpl.nn.L1Loss(),
    "Huber": refimpl.nn.HuberLoss(delta=1.0),
    "SmoothL1": refimpl.nn.SmoothL1Loss(beta=0.25),
}
OUTLIER_RATES = (0.0, 0.1, 0.2, 0.4)


def fit_line(loss, rate):
    data = ex.regression_data(outlier_rate=rate, seed=0)
    model = ex.linear_regressor()
    ex.train(model, loss, data, steps=300, lr=0.05, seed=0)
    return ex.mae(model, data)


@pytest.fixture(scope="module")
def regression_mae():
    return {(name, rate): fit_line(loss, rate) for name, loss in REGRESSION_LOSSES.items() for rate in OUTLIER_RATES}


def test_without_outliers_the_four_losses_fit_equally_well(regression_mae):
    errors = [regression_mae[name, 0.0] for name in REGRESSION_LOSSES]
    assert max(errors) - min(errors) < 0.01


@pytest.mark.parametrize("rate", [r for r in OUTLIER_RATES if r > 0])
@pytest.mark.parametrize("robust", ["L1", "Huber", "SmoothL1"])
def test_with_outliers_robust_losses_beat_mse_on_clean_test_mae(regression_mae, robust, rate):
    assert regression_mae[robust, rate] < regression_mae["MSE", rate] / 2


def test_mse_test_error_grows_with_the_outlier_rate(regression_mae):
    errors = [regression_mae["MSE", rate] for rate in OUTLIER_RATES]
    assert errors == sorted(errors) and errors[-1] > 5 * errors[0]


def test_at_40_percent_outliers_l1_beats_huber(regression_mae):
    assert regression_mae["L1", 0.4] < regression_mae["Huber", 0.4]


# the settings of book/experiments/classification_noise_imbalance.ipynb
def fit_classifier(loss, data, outputs=2):
    model = ex.mlp(2, 32, outputs)
    ex.train(model, loss, data, steps=300, lr=0.02, seed=0)
    return model


@pytest.fixture(scope="module")
def noise_runs():
    runs = {}
    for noise in (0.0, 0.2):
        data = ex.classification_data(label_noise=noise, seed=0)
        for name, smoothing in (("CE", 0.0), ("CE+LS", 0.2)):
            model = fit_classifier(refimpl.nn.CrossEntropyLoss(label_smoothing=smoothing), data)
            runs[name, noise] = {
                "accuracy": ex.accuracy(model, data),
                "ece": ex.expected_calibration_error(model, data),
                "confidence": ex.mean_confidence(model, data),
            }
    return runs


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_label_smoothing_lowers_confidence_and_ece(noise_runs, noise):
    assert noise_runs["CE+LS", noise]["confidence"] < noise_runs["CE", noise]["confidence"]
    assert noise_runs["CE+LS", noise]["ece"] < noise_runs["CE", noise]["ece"]


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_plain_ce_is_overconfident(noise_runs, noise):
    assert noise_runs["CE", noise]["confidence"] > noise_runs["CE", noise]["accuracy"]


def test_label_noise_costs_accuracy_that_smoothing_does_not_recover(noise_runs):
    assert noise_runs["CE", 0.2]["accuracy"] < noise_runs["CE", 0.0]["accuracy"]
    assert noise_runs["CE+LS", 0.2]["accuracy"] < noise_runs["CE", 0.0]["accuracy"]


@pytest.fixture(scope="module")
def imbalance_runs():
    data = ex.classification_data(n_train=(200, 20), n_test=(2000, 200), seed=0)
    weight = torch.tensor([220 / (2 * 200), 220 / (2 * 20)], dtype=ex.DTYPE)
    losses = {
        "CE": (refimpl.nn.CrossEntropyLoss(), 2),
        "weighted CE": (refimpl.nn.CrossEntropyLoss(weight=weight), 2),
        "BCE": (ex.LabelBCE(), 1),
        "BCE pos_weight": (ex.LabelBCE(pos_weight=torch.tensor(10.0, dtype=ex.DTYPE)), 1),
    }
    runs = {}
    for name, (loss, outputs) in losses.items():
        model = fit_classifier(loss, data, outputs)
        runs[name] = {
            "accuracy": ex.accuracy(model, data),
            "balanced": ex.balanced_accuracy(model, data),
            "minority recall": ex.class_recall(model, data, 1),
        }
    return runs


@pytest.mark.parametrize("weighted, plain", [("weighted CE", "CE"), ("BCE pos_weight", "BCE")])
def test_weighting_trades_accuracy_for_minority_recall(imbalance_runs, weighted, plain):
    assert imbalance_runs[weighted]["minority recall"] > imbalance_runs[plain]["minority recall"] + 0.1
    assert imbalance_runs[weighted]["balanced"] > imbalance_runs[plain]["balanced"]
    assert imbalance_runs[weighted]["accuracy"] < imbalance_runs[plain]["accuracy"]


def test_unweighted_losses_miss_much_of_the_minority(imbalance_runs):
    for name in ("CE", "BCE"):
        assert imbalance_runs[name]["minority recall"] < imbalance_runs[name]["accuracy"] - 0.2


# the settings of book/experiments/embeddings.ipynb
@pytest.fixture(scope="module")
def embedding_recalls():
    data = ex.embedding_data(seed=0)
    recalls = {}
    for name, loss in (("contrastive", ex.PairContrastive(margin=2.0)), ("triplet", ex.RandomTriplets(margin=1.0))):
        run = ex.train(
            ex.mlp(16, 32, 2), loss, data, steps=150, lr=0.01, seed=0, metric=ex.embedding_recall, eval_every=150
        )
        recalls[name] = (run.metric_values[0], run.metric_values[-1])
    return recalls


@pytest.mark.parametrize("name", ["contrastive", "triplet"])
def test_training_beats_the_untrained_embedding(embedding_recalls, name):
    untrained, trained = embedding_recalls[name]
    assert trained > untrained + 0.2


def test_experiments_are_deterministic():
    data = ex.classification_data(seed=3)
    first, second = (
        ex.train(ex.mlp(2, 8, 2), refimpl.nn.CrossEntropyLoss(), data, steps=5, lr=0.02, seed=1).losses
        for _ in range(2)
    )
    assert first == second
