"""Hand-derived gradients: gradcheck and gradgradcheck in float64, and each ``<fn>_grad`` called directly
against torch's backward."""

import pytest
import torch

from cases import CASES
from refimpl.regression import huber, l1, mse, smooth_l1
from refimpl.testing import assert_close


def _smooth_samples():
    """float64 samples away from kinks and non-finite values, whose gradient is defined everywhere."""
    for case in CASES:
        for sample in case.samples("cpu", torch.float64):
            if sample.kink or sample.forward_only or not sample.args[0].is_floating_point():
                continue
            if any(isinstance(a, torch.Tensor) and a.numel() == 0 for a in sample.args):
                continue
            yield pytest.param(case, sample, id=f"{case.name}-{sample.desc}")


def _gradcheck_inputs(case, sample):
    """A function of the differentiable tensors only, and those tensors as float64 leaves."""
    def argument(w):
        return sample.args[w] if isinstance(w, int) else sample.kwargs[w]

    names = [w for w in sample.wrt if isinstance(argument(w), torch.Tensor) and argument(w).dtype == torch.float64]
    leaves = [argument(w).detach().clone().requires_grad_(True) for w in names]

    def fn(*tensors):
        args, kwargs = list(sample.args), dict(sample.kwargs)
        for w, t in zip(names, tensors, strict=True):
            if isinstance(w, int):
                args[w] = t
            else:
                kwargs[w] = t
        return case.ref_fn(*args, **kwargs)

    return fn, leaves


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, sample", list(_smooth_samples()))
def test_gradcheck(case, sample):
    fn, leaves = _gradcheck_inputs(case, sample)
    assert torch.autograd.gradcheck(fn, leaves)
    if case.double_backward:
        assert torch.autograd.gradgradcheck(fn, leaves)


def _direct_cases():
    """``<fn>_grad`` calls on plain same-shape float64 inputs: (loss, grad function, options, weighted)."""
    losses = [
        ("l1_loss", l1.l1_loss_grad, {}, True),
        ("mse_loss", mse.mse_loss_grad, {}, True),
        ("huber_loss", huber.huber_loss_grad, {"delta": 0.7}, True),
        ("smooth_l1_loss", smooth_l1.smooth_l1_loss_grad, {"beta": 0.7}, False),  # torch has no weight= here
    ]
    for name, grad_fn, options, has_weight in losses:
        for reduction in ("none", "mean", "sum"):
            for weighted in (False, True) if has_weight else (False,):
                desc = f"{name}-{reduction}-{'weighted' if weighted else 'unweighted'}"
                yield pytest.param(name, grad_fn, options, reduction, weighted, id=desc)


@pytest.mark.parametrize("name, grad_fn, options, reduction, weighted", list(_direct_cases()))
def test_hand_gradient_equals_torch_backward(name, grad_fn, options, reduction, weighted):
    """``<fn>_grad(grad_output, residual, ...)`` gives torch's input gradient; minus it, the target's."""
    generator = torch.Generator().manual_seed(0)
    x, y, w = (torch.randn(4, 6, generator=generator, dtype=torch.float64) for _ in range(3))
    w = w.abs()
    x[0, :3] = y[0, :3] + torch.tensor([0.0, 0.7, -0.7], dtype=torch.float64)  # the kinks and thresholds
    leaves = [t.clone().requires_grad_(True) for t in (x, y, w)]
    weight_kwargs = {"weight": leaves[2]} if weighted else {}
    out = getattr(torch.nn.functional, name)(leaves[0], leaves[1], reduction=reduction, **options, **weight_kwargs)
    grad_output = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    expected = torch.autograd.grad(out, leaves if weighted else leaves[:2], grad_output)
    actual = grad_fn(grad_output, x - y, reduction, **options, **({"weight": w} if weighted else {}))
    grad_residual, *grad_weight = actual if isinstance(actual, tuple) else (actual,)
    assert_close(grad_residual, expected[0], f"{name}_grad for the input")
    assert_close(-grad_residual, expected[1], f"{name}_grad for the target")
    if weighted:
        assert_close(grad_weight[0], expected[2], f"{name}_grad for the weight")
