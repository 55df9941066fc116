"""AdaptiveLogSoftmaxWithLoss beyond the generic tests: log_prob, predict, the named tuple, the state_dict
round trip both ways, and unused clusters getting no gradient (``.grad`` None, as in torch)."""

import pytest
import torch

from refimpl.nn import AdaptiveLogSoftmaxWithLoss
from refimpl.testing import assert_close

CONFIGS = [
    {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]},
    {"in_features": 8, "n_classes": 12, "cutoffs": [2, 5, 9], "div_value": 2.0, "head_bias": True},
]


def _pair(config, dtype=torch.float64):
    torch.manual_seed(0)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(**config, dtype=dtype)
    ours = AdaptiveLogSoftmaxWithLoss(**config, dtype=dtype)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


@pytest.mark.parametrize("config", CONFIGS, ids=["cutoffs=[3,6]", "three-tails-head-bias"])
def test_log_prob_and_predict_match_torch(config):
    theirs, ours = _pair(config)
    x = torch.randn(64, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    assert_close(ours.log_prob(x), theirs.log_prob(x), "log_prob")
    assert torch.equal(ours.predict(x), theirs.predict(x))
    assert torch.equal(ours.predict(x), ours.log_prob(x).argmax(1))
    assert (ours.predict(x) >= ours.shortlist_size).any() and (ours.predict(x) < ours.shortlist_size).any()


def test_named_tuple_and_state_dict_round_trip():
    theirs, ours = _pair(CONFIGS[1])
    x, t = torch.randn(5, 8, dtype=torch.float64), torch.tensor([0, 3, 6, 11, 1])
    out = ours(x, t)
    assert type(out).__name__ == type(theirs(x, t)).__name__ == "_ASMoutput" and out._fields == ("output", "loss")
    back = torch.nn.AdaptiveLogSoftmaxWithLoss(**CONFIGS[1], dtype=torch.float64)
    back.load_state_dict(ours.state_dict())
    assert_close(back(x, t).output, out.output, "round trip")


def test_unused_cluster_gets_no_gradient_like_torch():
    theirs, ours = _pair(CONFIGS[0])
    x, t = torch.randn(4, 8, dtype=torch.float64), torch.tensor([0, 1, 2, 4])
    for module in (theirs, ours):
        module(x, t).loss.backward()
    assert [p.grad is None for p in ours.parameters()] == [p.grad is None for p in theirs.parameters()]
    assert ours.tail[1][0].weight.grad is None and ours.tail[0][0].weight.grad is not None
