"""Numerical stability where refimpl is more exact than torch, checked against exact values instead of torch.

soft_margin_loss: torch evaluates log1p(exp(z)), z = -y x, which is inf (with a NaN gradient) once exp(z)
overflows, beyond ``OVERFLOW_AT[dtype]`` (88.72 in float32, 709.78 in float64, 11.09 in float16). refimpl
evaluates the stable softplus max(z, 0) + log1p(exp(-|z|)). The samples of
``registry.classification.soft_margin_overflow_samples`` sit beyond that threshold, so they are not in the parity
test: here refimpl's value and gradient must equal the exact ones (computed with mpmath at 50 digits from the
same inputs, then rounded to the dtype), torch must still overflow there (else the samples belong in the
parity test), and on the elements where torch is finite the two must agree.

multilabel_soft_margin_loss with float32 logits and a float64 target: the float64 loss is built from float32
log-sigmoids whose last bits depend on the kernel, so torch and refimpl agree to float32 precision only, and
both equal the float64 computation to that precision.
"""

import mpmath
import pytest
import torch
import torch.nn.functional as F

import refimpl.functional as RF
from conftest import DEVICES
from refimpl.testing import assert_close, tolerances
from registry.classification import OVERFLOW_AT, soft_margin_overflow_samples
from registry.core import FLOATING


def _exact_soft_margin(x: torch.Tensor, y: torch.Tensor, reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss and its gradient with respect to ``x`` (for an upstream gradient of ones), from
    l = log(1 + e^z) and dl/dx = -y sigmoid(z), z = -y x, in 50-digit arithmetic; returned in float64."""
    with mpmath.workdps(50):
        xs = [mpmath.mpf(v) for v in x.double().flatten().tolist()]
        ys = [mpmath.mpf(v) for v in y.double().expand_as(x).flatten().tolist()]
        zs = [-yi * xi for xi, yi in zip(xs, ys, strict=True)]
        losses = [mpmath.log1p(mpmath.exp(z)) for z in zs]
        scale = mpmath.mpf(1) / len(xs) if reduction == "mean" else mpmath.mpf(1)
        grads = [-yi * scale / (1 + mpmath.exp(-z)) for yi, z in zip(ys, zs, strict=True)]
        if reduction == "none":
            value = torch.tensor([float(v) for v in losses], dtype=torch.float64).reshape(x.shape)
        else:
            total = mpmath.fsum(losses)
            value = torch.tensor(float(total * scale), dtype=torch.float64)
        grad = torch.tensor([float(g) for g in grads], dtype=torch.float64).reshape(x.shape)
    return value, grad


def _value_and_grad(fn, x: torch.Tensor, y: torch.Tensor, reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = x.detach().clone().requires_grad_(True)
    value = fn(leaf, y, reduction=reduction)
    (grad,) = torch.autograd.grad(value, leaf, torch.ones_like(value))
    return value.detach(), grad


def _overflow_params():
    for dtype in FLOATING:
        for sample in soft_margin_overflow_samples("cpu", dtype):
            yield pytest.param(dtype, sample.desc, id=f"soft_margin_loss-{sample.desc}-{str(dtype)[6:]}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype, desc", list(_overflow_params()))
def test_soft_margin_is_exact_where_torch_overflows(dtype, desc, device):
    sample = next(s for s in soft_margin_overflow_samples(device, dtype) if s.desc == desc)
    (x, y), reduction = sample.args, sample.kwargs["reduction"]
    exact_value, exact_grad = _exact_soft_margin(x.cpu(), y.cpu(), reduction)
    ours, our_grad = _value_and_grad(RF.soft_margin_loss, x, y, reduction)
    theirs, their_grad = _value_and_grad(F.soft_margin_loss, x, y, reduction)

    margins = (-y * x).double()
    assert (margins > OVERFLOW_AT[dtype]).any(), "the sample must reach beyond torch's overflow threshold"
    assert their_grad.isnan().any(), "torch no longer overflows here: move the sample to the parity test"
    if torch.isfinite(exact_value).all():
        assert not torch.isfinite(theirs).all(), "torch no longer overflows here: move the sample to the parity test"

    assert_close(ours.cpu(), exact_value.to(dtype), f"soft_margin_loss value, exact ({desc})")
    assert_close(our_grad.cpu(), exact_grad.to(dtype), f"soft_margin_loss gradient, exact ({desc})")
    assert not our_grad.isnan().any()
    if reduction == "none":
        finite = torch.isfinite(theirs)
        assert_close(ours[finite], theirs[finite], "soft_margin_loss value where torch is finite")
        assert_close(our_grad[finite], their_grad[finite], "soft_margin_loss gradient where torch is finite")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_soft_margin_float32_logits_float64_target(reduction, device):
    generator = torch.Generator().manual_seed(0)
    x = (3 * torch.randn(4, 6, generator=generator)).to(device)  # float32 logits
    y = torch.randint(0, 2, (4, 6), generator=generator).double().to(device)  # float64 targets
    w = torch.rand(6, generator=generator).to(device)  # float32 class weights
    rtol, atol = tolerances(torch.float32)
    values, grads = [], []
    for fn in (F.multilabel_soft_margin_loss, RF.multilabel_soft_margin_loss):
        leaves = [t.clone().requires_grad_(True) for t in (x, y, w)]
        value = fn(leaves[0], leaves[1], weight=leaves[2], reduction=reduction)
        assert value.dtype == torch.float64
        values.append(value.detach())
        grads.append(torch.autograd.grad(value, leaves, torch.ones_like(value)))
    reference = F.multilabel_soft_margin_loss(x.double(), y, weight=w.double(), reduction=reduction)
    for value in values:  # torch's and refimpl's: float64 results of float32 precision
        torch.testing.assert_close(value, reference, rtol=rtol, atol=atol)
    torch.testing.assert_close(values[1], values[0], rtol=rtol, atol=atol)
    for ours, theirs in zip(grads[1], grads[0], strict=True):
        assert ours.dtype == theirs.dtype
        torch.testing.assert_close(ours, theirs, rtol=rtol, atol=atol)
