"""multi_margin_loss and multilabel_margin_loss where they cannot be compared with torch sample by sample.

* Empty batch: torch's 'mean' and 'sum' return uninitialised memory (its kernels never write the scalar), so
  refimpl's defined values (NaN for 'mean' as 0/0, 0 for 'sum', an empty gradient) are checked here.
* Module constructor validation (p in {1, 2}, 1-D weight): the registry's module records construct successfully.
* No double backward, as in torch.
* The chunked pairwise computation of refimpl.fast's multilabel_margin_loss, with a chunk small enough to split
  the batch (the readable refimpl.margin.multilabel_margin is the formula, unchunked).
"""

import math

import pytest
import torch
import torch.nn.functional as F

import refimpl.fast.multilabel_margin as fast_mlm
import refimpl.functional as RF
import refimpl.nn as RN
from refimpl.testing import assert_close

EMPTY = {
    "multi_margin_loss": lambda dtype: (torch.zeros(0, 5, dtype=dtype), torch.zeros(0, dtype=torch.int64)),
    "multilabel_margin_loss": lambda dtype: (torch.zeros(0, 5, dtype=dtype), torch.zeros(0, 5, dtype=torch.int64)),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_batch_has_defined_values(name, dtype):
    x, y = EMPTY[name](dtype)
    for reduction, expected in (("mean", math.nan), ("sum", 0.0)):
        leaf = x.clone().requires_grad_(True)
        value = getattr(RF, name)(leaf, y, reduction=reduction)
        assert value.shape == () and value.dtype == dtype
        assert math.isnan(value.item()) if math.isnan(expected) else value.item() == expected
        (grad,) = torch.autograd.grad(value, leaf)
        assert grad.shape == (0, 5) and grad.dtype == dtype
    none = getattr(RF, name)(x, y, reduction="none")
    assert none.shape == (0,) and none.dtype == dtype
    # torch: 'none' is the same empty tensor; 'mean'/'sum' are not compared (uninitialised memory)
    assert getattr(F, name)(x, y, reduction="none").shape == (0,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(p=3), "only p == 1 and p == 2 supported"),
        (dict(p=0), "only p == 1 and p == 2 supported"),
        (dict(weight=torch.ones(2, 5)), "MultiMarginLoss: expected weight to be None or 1D tensor, got 2D instead"),
        (dict(weight=torch.tensor(1.0)), "MultiMarginLoss: expected weight to be None or 1D tensor, got 0D instead"),
    ],
)
def test_multi_margin_module_constructor_checks_like_torch(kwargs, match):
    with pytest.raises(ValueError, match=match):
        torch.nn.MultiMarginLoss(**kwargs)
    with pytest.raises(ValueError, match=match):
        RN.MultiMarginLoss(**kwargs)


def test_multi_margin_module_accepts_p_2_float():
    assert RN.MultiMarginLoss(p=2.0).p == torch.nn.MultiMarginLoss(p=2.0).p == 2.0


@pytest.mark.parametrize(
    "call",
    [
        lambda fn, x: fn.multi_margin_loss(x, torch.tensor([0, 2]), p=2),
        lambda fn, x: fn.multilabel_margin_loss(x, torch.tensor([[0, -1, 0], [2, 1, -1]])),
    ],
    ids=["multi_margin_loss", "multilabel_margin_loss"],
)
def test_no_double_backward(call):
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    for fn in (F, RF):
        (grad,) = torch.autograd.grad(call(fn, x), x, create_graph=True)
        with pytest.raises(RuntimeError):
            torch.autograd.grad(grad.sum(), x)


def test_multilabel_margin_chunks_agree_with_torch(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(7, 6, generator=generator, dtype=torch.float64)
    y = torch.randint(-1, 6, (7, 6), generator=generator)
    monkeypatch.setattr(fast_mlm, "_CHUNK_ELEMENTS", 2 * 36)  # 2 rows per chunk: 4 chunks
    for reduction in ("none", "mean", "sum"):
        leaf_ref, leaf_torch = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        actual = fast_mlm.multilabel_margin_loss(leaf_ref, y, reduction=reduction)
        expected = F.multilabel_margin_loss(leaf_torch, y, reduction=reduction)
        assert_close(actual, expected, "chunked value")
        v = torch.randn(expected.shape, generator=generator, dtype=torch.float64)
        assert_close(
            torch.autograd.grad(actual, leaf_ref, v)[0],
            torch.autograd.grad(expected, leaf_torch, v)[0],
            "chunked gradient",
        )
