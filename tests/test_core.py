"""The shared pieces: reduction strings and legacy arguments, and the exercise self-check's verdicts."""

import warnings

import pytest
import torch
import torch.nn._reduction as torch_reduction

import refimpl
from refimpl import _reduction
from refimpl.exercises import exercise_inputs, self_check


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
def test_legacy_mapping_is_torchs(size_average, reduce):
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = _reduction.legacy_get_string(size_average, reduce)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected = torch_reduction.legacy_get_string(size_average, reduce)
    assert got == expected
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]


def test_resolve_rejects_unknown_reduction_naming_the_argument():
    with pytest.raises(ValueError, match=r"mse_loss\(\): avg is not a valid value for reduction.*reduction='avg'"):
        _reduction.resolve("mse_loss", "avg")


def test_grad_scale_mean_divides_by_numel():
    assert torch.equal(_reduction.grad_scale(torch.tensor(6.0), "mean", 6), torch.tensor(1.0))
    assert torch.equal(_reduction.grad_scale(torch.tensor(6.0), "sum", 6), torch.tensor(6.0))


def _stub(input, target):
    raise NotImplementedError


def _mse_sum_instead_of_mean(input, target, reduction):
    return ((input - target) ** 2).sum()


def _mse_mean_instead_of_sum(input, target, reduction):
    return ((input - target) ** 2).mean()


def _mse_unreduced(input, target, reduction):
    return (input - target) ** 2


def _l1_wrong_sign(input, target):
    return (target - input).sign()


def _huber_wrong_branch(input, target, delta=1.0):
    r = (input - target).abs()
    return torch.where(r < delta, 0.5 * r * r, r - 0.5 * delta)  # smooth L1's linear part, off when delta != 1


def _no_return(input, target):
    (input - target).abs()


@pytest.mark.parametrize(
    "answer, name, options, phrase",
    [
        (_stub, "l1_loss", {}, "Not done yet"),
        (_no_return, "l1_loss", {}, "returned None"),
        (_mse_sum_instead_of_mean, "mse_loss", {"reduction": "mean"}, "20 times the expected value"),
        (_mse_mean_instead_of_sum, "mse_loss", {"reduction": "sum"}, "1/20 of the expected value"),
        (_mse_unreduced, "mse_loss", {"reduction": "mean"}, "one value per element"),
        (_l1_wrong_sign, "l1_loss", {"kind": "grad"}, "wrong sign"),
        (_huber_wrong_branch, "huber_loss", {"delta": 2.0}, "differs from torch at"),
    ],
)
def test_self_check_says_what_is_wrong(answer, name, options, phrase, capsys):
    result = self_check(answer, name, **options)
    assert not result
    assert phrase in result.message
    assert phrase in capsys.readouterr().out


def test_self_check_passes_a_right_answer():
    def mse(input, target, reduction="mean"):
        r = input - target
        return (r * r).mean() if reduction == "mean" else r * r

    assert self_check(mse, "mse_loss", reduction="mean")
    assert self_check(mse, "mse_loss")


def test_exercise_inputs_hit_the_kinks():
    x, y = exercise_inputs("huber_loss")
    residuals = set((x - y).flatten().tolist())
    assert {0.0, 0.5, -1.0, 2.0, -2.0} <= {round(r, 12) for r in residuals}


def test_warnings_point_at_the_callers_line():
    """A size-mismatch, legacy-argument or deprecated-reduction warning names the caller's file and line, however
    many validation helpers refimpl calls in between (as torch's warnings do)."""
    x, y = torch.zeros(3, 1), torch.zeros(3)
    calls = [
        lambda: refimpl.mse_loss(x, y),
        lambda: refimpl.l1_loss(x, x, size_average=False),
        lambda: refimpl.huber_loss(x, y, reduction="mean"),
        lambda: refimpl.smooth_l1_loss(x, x, reduction="elementwise_mean"),
        lambda: refimpl.nll_loss(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), reduce=False),
    ]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert caught, "the call was chosen to warn"
        assert {w.filename for w in caught} == {__file__}, [(w.filename, str(w.message)) for w in caught]
