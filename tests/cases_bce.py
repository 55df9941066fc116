"""Registry entries of BCELoss and BCEWithLogitsLoss (book/classification/bce.ipynb, bce_with_logits.ipynb).

BCE samples aim at the hidden constants: probabilities exactly 0 and 1 (the log clamp at -100 and the
backward's floor of x(1 - x) at float32(1e-12)), probabilities below e^-100, soft and hard targets, the
weight broadcast against the target, and the dtypes (no promotion between input and target; a weight of
another dtype multiplies in place). Hard 0/1 targets are not differentiated by gradcheck: a step of 1e-6 would
leave [0, 1], where torch raises. BCEWithLogits samples aim at extreme logits (+-1e4, +-inf), ``pos_weight``
over the last (class) dimension and over other dimensions, targets outside [0, 1] (accepted), and the
result's dtype, which is the target's.
"""

import math

import torch
import torch.nn.functional as F
from cases_core import (
    FLOATING,
    REDUCTIONS,
    ErrorInput,
    KnownValue,
    LossCase,
    ModuleInput,
    SampleInput,
    bound_arguments,
    make_generator,
    randn,
)
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl._reduction import legacy_get_string

LEGACY = [(s, r) for s in (None, True, False) for r in (None, True, False) if (s, r) != (None, None)]
DEVICES_ALL_FLOATS = {"cpu": FLOATING, "cuda": FLOATING}


def _t(values, dtype: torch.dtype, device: str) -> Tensor:
    return torch.tensor(values, dtype=torch.float64).to(dtype=dtype, device=device)


def _rand(desc: str, *shape: int, dtype: torch.dtype, device: str, low: float = 0.0, high: float = 1.0) -> Tensor:
    """Seeded uniform numbers in [low, high), drawn in float64 on the CPU and then converted."""
    values = low + (high - low) * torch.rand(shape, generator=make_generator(desc), dtype=torch.float64)
    return values.to(dtype=dtype, device=device)


def _probabilities(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded probabilities in [0.02, 0.98]: a gradcheck step of 1e-6 stays inside (0, 1)."""
    return _rand(desc, *shape, dtype=dtype, device=device, low=0.02, high=0.98)


def _soft_targets(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded soft targets in [0.05, 0.95]: differentiable, and a step of 1e-6 stays inside [0, 1]."""
    return _rand(desc, *shape, dtype=dtype, device=device, low=0.05, high=0.95)


def _hard_targets(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded 0/1 labels."""
    return (torch.rand(shape, generator=make_generator(desc), dtype=torch.float64) < 0.5).to(dtype=dtype, device=device)


def _shapes():
    """(desc, shape) of every input shape both losses are tried on."""
    return [("shape=(3,4)", (3, 4)), ("K-dim=(2,3,4,5)", (2, 3, 4, 5)), ("unbatched=(5,)", (5,)), ("0-dim", ()),
            ("empty=(0,)", (0,)), ("empty=(0,3)", (0, 3))]


# ----------------------------------------------------------------------------------------------------------
# BCELoss


def bce_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    for desc, shape in _shapes():
        x, y = _probabilities(f"x{desc}", *shape, **t), _soft_targets(f"y{desc}", *shape, **t)
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction)))
    x, y = _probabilities("xh", 3, 4, **t), _hard_targets("yh", 3, 4, **t)
    w = _rand("w", 3, 4, **t)
    for reduction in REDUCTIONS:
        out.append(SampleInput(f"hard-targets-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,)))
        # x in {0, 1}: the loss is 100 (the log clamp), the input gradient +-1/eps, the target gradient +-inf
        edges = _t([0.0, 1.0, 0.0, 1.0, 0.5, 1.0, 0.0], **t), _t([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.25], **t)
        out.append(SampleInput(f"edges-x-in-{{0,1}}-{reduction}", edges, dict(reduction=reduction), kink=True))
        # -log x crosses 100 between 1e-43 and 1e-44 (subnormal in float32; 0 in half precision)
        tiny = _t([1e-30, 1e-43, 1e-44, 1e-45, 3e-44, 1e-300], **t), _t([1.0, 1.0, 1.0, 1.0, 0.75, 1.0], **t)
        out.append(SampleInput(f"log-clamp-at-1e-44-{reduction}", tiny, dict(reduction=reduction), kink=True))
        # x (1 - x) near the backward's floor 1e-12: the gradient is g (x - y) / max(x (1 - x), eps)
        floor = (_t([1e-13, 1e-12, 2e-12, 1e-11, 1 - 1e-13, 0.5], **t), _t([1.0, 0.0, 1.0, 0.5, 0.0, 0.5], **t))
        out.append(SampleInput(f"backward-floor-{reduction}", floor, dict(reduction=reduction), kink=True))
        for wdesc, weight in (("weight-(3,4)", w), ("weight-row-(4,)", w[0]), ("weight-column-(3,1)", w[:, :1]),
                              ("weight-0-dim", w[0, 0]), ("weight-with-zeros", w * (w > 0.3))):
            out.append(SampleInput(f"{wdesc}-{reduction}", (x, _soft_targets("ys", 3, 4, **t)),
                                   dict(weight=weight, reduction=reduction)))
        out.append(SampleInput(f"weight-hard-targets-{reduction}", (x, y), dict(weight=w, reduction=reduction),
                               wrt=(0,)))
    xk, yk = _probabilities("xk", 2, 3, 4, **t), _soft_targets("yk", 2, 3, 4, **t)
    out.append(SampleInput("K-dim-weight-(3,1)", (xk, yk), dict(weight=_rand("wk", 3, 1, **t), reduction="none")))
    midpoint = _t([0.5, 0.5, 0.3], **t), _t([0.5, 0.25, 0.5], **t)
    out.append(SampleInput("midpoint-x=0.5", midpoint, dict(reduction="none")))
    xs, ys = _probabilities("xs", 3, 4, **t), _soft_targets("ys", 3, 4, **t)
    out.append(SampleInput("elementwise_mean", (xs, ys), dict(reduction="elementwise_mean")))
    out.append(SampleInput("positional-weight-reduction", (xs, ys, w, None, None, "sum")))
    for size_average, reduce in LEGACY:
        out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", (xs, ys),
                               dict(weight=w, size_average=size_average, reduce=reduce, reduction="none")))
    out.append(SampleInput("weight-int64", (xs, ys), dict(weight=torch.arange(12, device=device).reshape(3, 4))))
    out.append(SampleInput("weight-bool", (xs, ys), dict(weight=w > 0.5, reduction="sum")))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        out.append(SampleInput(f"weight-{str(other)[6:]}", (xs, ys), dict(weight=w.to(other), reduction="none")))
    out.append(SampleInput("large-(1000,)", (_probabilities("xl", 1000, **t), _soft_targets("yl", 1000, **t)), {}))
    return out


def bce_errors() -> list[ErrorInput]:
    x, y = torch.rand(3, 4), torch.rand(3, 4)
    grad_weight = torch.rand(4, requires_grad=True)
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction='batchmean'", (x, y), dict(reduction="batchmean"), ValueError,
                   "batchmean is not a valid value for reduction", "reduction"),
        ErrorInput("size-mismatch-(3,)-(3,1)", (torch.rand(3), torch.rand(3, 1)), {}, ValueError,
                   r"Using a target size \(torch.Size\(\[3, 1\]\)\) that is different to the input size "
                   r"\(torch.Size\(\[3\]\)\) is deprecated", "target"),
        ErrorInput("input-above-1", (torch.tensor([0.5, 1.5]), torch.tensor([1.0, 0.0])), {}, RuntimeError,
                   "all elements of input should be between 0 and 1", "input"),
        ErrorInput("input-negative", (torch.tensor([-0.1]), torch.tensor([1.0])), {}, RuntimeError,
                   "all elements of input should be between 0 and 1", "input"),
        ErrorInput("input-nan", (torch.tensor([math.nan]), torch.tensor([1.0])), {}, RuntimeError,
                   "all elements of input should be between 0 and 1", "input"),
        ErrorInput("input-logits", (torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])), {}, RuntimeError,
                   "all elements of input should be between 0 and 1", "input"),
        ErrorInput("target-above-1", (torch.tensor([0.5]), torch.tensor([2.0])), {}, RuntimeError,
                   "all elements of target should be between 0 and 1", "target"),
        ErrorInput("target-minus-1", (torch.tensor([0.3]), torch.tensor([-1.0])), {}, RuntimeError,
                   "all elements of target should be between 0 and 1", "target"),
        ErrorInput("target-first-bad-element", (torch.tensor([0.5, 2.0]), torch.tensor([3.0, 0.5])), {},
                   RuntimeError, "all elements of target should be between 0 and 1", "target"),
        ErrorInput("input-first-bad-element", (torch.tensor([2.0, 0.5]), torch.tensor([3.0, 0.5])), {},
                   RuntimeError, "all elements of input should be between 0 and 1", "input"),
        ErrorInput("target-float64", (x, y.double()), {}, RuntimeError, "Found dtype Double but expected Float",
                   "target"),
        ErrorInput("target-float32-input-half", (x.half(), y), {}, RuntimeError,
                   "Found dtype Float but expected Half", "target"),
        ErrorInput("target-int64", (x, torch.ones(3, 4, dtype=torch.long)), {}, RuntimeError,
                   "Found dtype Long but expected Float", "target"),
        ErrorInput("int64", (torch.tensor([0, 1]), torch.tensor([0, 1])), {}, NotImplementedError,
                   "\"binary_cross_entropy\" not implemented for 'Long'", "input"),
        ErrorInput("bool", (torch.tensor([True]), torch.tensor([False])), {}, NotImplementedError,
                   "\"binary_cross_entropy\" not implemented for 'Bool'", "input"),
        ErrorInput("complex64", (torch.tensor([0.5 + 0j]), torch.tensor([0.5 + 0j])), {}, NotImplementedError,
                   "\"binary_cross_entropy\" not implemented for 'ComplexFloat'", "input"),
        ErrorInput("weight-(3,)-over-(3,4)", (x, y), dict(weight=torch.rand(3)), RuntimeError,
                   "Attempting to broadcast a dimension of length 3 at -1", "weight"),
        ErrorInput("weight-enlarges-loss", (x, y), dict(weight=torch.rand(2, 3, 4)), RuntimeError,
                   r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]", "weight"),
        ErrorInput("weight-(3,)-on-0-dim", (torch.tensor(0.3), torch.tensor(1.0)), dict(weight=torch.ones(3)),
                   RuntimeError, r"output with shape \[\] doesn't match the broadcast shape \[3\]", "weight"),
        ErrorInput("weight-requires-grad", (x, y), dict(weight=grad_weight), RuntimeError,
                   "is not differentiable with respect to argument 'weight'", "weight"),
        ErrorInput("weight-complex", (x, y), dict(weight=torch.ones(3, 4, dtype=torch.complex64)), RuntimeError,
                   "result type ComplexFloat can't be cast to the desired output type Float", "weight"),
        ErrorInput("input-list", ([0.5], torch.rand(1)), {}, AttributeError, "'list' object has no attribute 'size'",
                   "input"),
        ErrorInput("target-list", (torch.rand(1), [0.5]), {}, AttributeError, "'list' object has no attribute 'size'",
                   "target"),
        ErrorInput("weight-list", (torch.rand(1), torch.rand(1)), dict(weight=[0.5]), AttributeError,
                   "'list' object has no attribute 'size'", "weight"),
    ]


def bce_modules() -> list[ModuleInput]:
    g = torch.Generator().manual_seed(0)
    x = 0.02 + 0.96 * torch.rand(3, 4, generator=g, dtype=torch.float64)
    y = torch.rand(3, 4, generator=g, dtype=torch.float64)
    w = torch.rand(4, generator=g, dtype=torch.float64)
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y)) for r in REDUCTIONS]
    out += [
        ModuleInput("default", {}, (x, y)),
        ModuleInput("weight-buffer-(4,)", dict(weight=w), (x, y)),
        ModuleInput("weight-buffer-(3,4)-sum", dict(weight=torch.rand(3, 4, generator=g, dtype=torch.float64),
                                                    reduction="sum"), (x, y)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y)),
        ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y)),
        ModuleInput("legacy-reduce=False", dict(reduce=False, weight=w), (x, y)),
    ]
    return out


# ----------------------------------------------------------------------------------------------------------
# BCEWithLogitsLoss


def bce_with_logits_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    for desc, shape in _shapes():
        x, y = randn(f"z{desc}", *shape, scale=3.0, **t), _soft_targets(f"y{desc}", *shape, **t)
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction)))
    x, y, ys = randn("z", 3, 4, scale=3.0, **t), _hard_targets("yh", 3, 4, **t), _soft_targets("ys", 3, 4, **t)
    w, pw = _rand("w", 3, 4, **t), _rand("pw", 3, 4, **t, low=0.0, high=4.0)
    # +-1e4 (max float16 is 65504): the loss is 0 or 1e4 and finite, the gradient exactly 0 or +-1
    extreme = (_t([-1e4, 1e4, -1e4, 1e4, -50.0, 50.0, 0.0, 20.0], **t),
               _t([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.25], **t))
    nonfinite = (_t([math.inf, -math.inf, math.inf, -math.inf, math.nan, 1.0], **t),
                 _t([1.0, 0.0, 0.0, 1.0, 0.5, math.nan], **t))
    for reduction in REDUCTIONS:
        r = dict(reduction=reduction)
        out.append(SampleInput(f"hard-targets-{reduction}", (x, y), r))
        out.append(SampleInput(f"extreme-logits-1e4-{reduction}", extreme, r))
        out.append(SampleInput(f"extreme-logits-1e4-pos_weight-{reduction}", extreme,
                               dict(pos_weight=_t([3.0], **t), **r)))
        # (+inf, 1) and (-inf, 0) are 0 * inf = NaN in torch; the gradients stay finite
        out.append(SampleInput(f"inf-nan-logits-{reduction}", nonfinite, r, kink=True))
        out.append(SampleInput(f"inf-nan-logits-pos_weight-{reduction}", nonfinite,
                               dict(pos_weight=_t([2.0], **t), **r), kink=True))
        out.append(SampleInput(f"targets-outside-[0,1]-{reduction}",
                               (x, _t([[-0.5, 1.5, 3.0, 0.2]] * 3, **t)), r))
        for pdesc, p in (("pos_weight-classes-(4,)", pw[0]), ("pos_weight-(3,1)", pw[:, :1]),
                         ("pos_weight-(3,4)", pw), ("pos_weight-0-dim", pw[0, 1]),
                         ("pos_weight-zero-and-large", _t([0.0, 1.0, 3.0, 100.0], **t))):
            out.append(SampleInput(f"{pdesc}-{reduction}", (x, ys), dict(pos_weight=p, **r)))
        for wdesc, weight in (("weight-(3,4)", w), ("weight-row-(4,)", w[0]), ("weight-column-(3,1)", w[:, :1]),
                              ("weight-0-dim", w[0, 0]), ("weight-with-zeros", w * (w > 0.3))):
            out.append(SampleInput(f"{wdesc}-{reduction}", (x, ys), dict(weight=weight, **r)))
        out.append(SampleInput(f"weight-and-pos_weight-{reduction}", (x, y),
                               dict(weight=w[:, :1], pos_weight=pw[0], **r)))
    xk, yk = randn("zk", 2, 3, 4, 5, scale=3.0, **t), _soft_targets("yk", 2, 3, 4, 5, **t)
    out.append(SampleInput("K-dim-pos_weight-last-dim-(5,)", (xk, yk), dict(pos_weight=_rand("pk", 5, **t, high=3.0),
                                                                            reduction="none")))
    out.append(SampleInput("K-dim-pos_weight-channels-(3,1,1)", (xk, yk),
                           dict(pos_weight=_rand("pc", 3, 1, 1, **t, high=3.0), reduction="sum")))
    out.append(SampleInput("empty-pos_weight-(3,)", (torch.zeros(0, 3, **t), torch.zeros(0, 3, **t)),
                           dict(pos_weight=_rand("pe", 3, **t), reduction="sum")))
    out.append(SampleInput("elementwise_mean", (x, ys), dict(reduction="elementwise_mean")))
    out.append(SampleInput("positional-all", (x, ys, w, None, None, "sum", pw[0])))
    for size_average, reduce in LEGACY:
        out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", (x, ys),
                               dict(weight=w, size_average=size_average, reduce=reduce, reduction="none")))
    out.append(SampleInput("weight-int64", (x, ys), dict(weight=torch.arange(12, device=device).reshape(3, 4))))
    out.append(SampleInput("pos_weight-int64", (x, ys), dict(pos_weight=torch.arange(4, device=device))))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        name = str(other)[6:]
        # the loss takes the target's dtype: float64 for a float32 input and a float64 target, float32 the other
        # way round (only in the float32 run: gradcheck cannot difference a float32 result)
        x32, y64 = x.float(), ys.double()
        out.append(SampleInput("input-float32-target-float64", (x32, y64), dict(reduction="none")))
        if dtype == torch.float32:  # pos_weight's factor is rounded into the float32 input's dtype: no gradcheck
            out.append(SampleInput("input-float32-target-float64-pos_weight-float64", (x32, y64),
                                   dict(pos_weight=pw[0].double(), weight=w.double())))
            out.append(SampleInput("input-float64-target-float32", (x.double(), ys), dict(reduction="none")))
        out.append(SampleInput(f"weight-{name}-pos_weight-{name}", (x, ys),
                               dict(pos_weight=pw[0].to(other), weight=w.to(other), reduction="sum")))
        complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        out.append(SampleInput("target-complex", (x, ys.to(complex_dtype)), dict(reduction="none"), wrt=(),
                               forward_only="torch's autograd refuses a complex loss; the forward is compared"))
    out.append(SampleInput("large-(1000,)", (randn("zl", 1000, scale=5.0, **t), _soft_targets("yl", 1000, **t)), {}))
    return out


def bce_with_logits_errors() -> list[ErrorInput]:
    x, y = torch.randn(4, 3), torch.rand(4, 3)
    grad_weight = torch.rand(3, requires_grad=True)
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("size-mismatch", (x, y[:, :2]), {}, ValueError,
                   r"Target size \(torch.Size\(\[4, 2\]\)\) must be the same as input size \(torch.Size\(\[4, 3\]\)\)",
                   "target"),
        ErrorInput("size-mismatch-(3,)-(3,1)", (torch.randn(3), torch.rand(3, 1)), {}, ValueError,
                   "must be the same as input size", "target"),
        ErrorInput("input-list", ([0.5], torch.rand(1)), {}, AttributeError, "'list' object has no attribute 'size'",
                   "input"),
        ErrorInput("target-list", (torch.rand(1), [0.5]), {}, AttributeError, "'list' object has no attribute 'size'",
                   "target"),
        ErrorInput("weight-list", (x, y), dict(weight=[0.5]), TypeError,
                   r"argument 'weight' \(position 3\) must be Tensor, not list", "weight"),
        ErrorInput("pos_weight-list", (x, y), dict(pos_weight=[0.5]), TypeError,
                   r"argument 'pos_weight' \(position 4\) must be Tensor, not list", "pos_weight"),
        ErrorInput("weight-requires-grad", (x, y), dict(weight=grad_weight), RuntimeError,
                   "is not differentiable with respect to argument 'weight'", "weight"),
        ErrorInput("pos_weight-requires-grad", (x, y), dict(pos_weight=grad_weight), RuntimeError,
                   "is not differentiable with respect to argument 'pos_weight'", "pos_weight"),
        ErrorInput("int64-input", (torch.tensor([0, 1]), torch.tensor([0.0, 1.0])), {}, NotImplementedError,
                   "\"log_sigmoid_cpu\" not implemented for 'Long'", "input"),
        ErrorInput("bool-input", (torch.tensor([True]), torch.tensor([1.0])), {}, NotImplementedError,
                   "\"log_sigmoid_cpu\" not implemented for 'Bool'", "input"),
        ErrorInput("complex-input", (torch.tensor([0.5 + 0j]), torch.tensor([1.0])), {}, NotImplementedError,
                   "\"log_sigmoid_cpu\" not implemented for 'ComplexFloat'", "input"),
        ErrorInput("target-int64", (x, torch.ones(4, 3, dtype=torch.long)), {}, RuntimeError,
                   "result type Float can't be cast to the desired output type Long", "target"),
        ErrorInput("target-bool", (x, torch.ones(4, 3, dtype=torch.bool)), {}, RuntimeError,
                   "Subtraction, the `-` operator, with two bool tensors is not supported", "target"),
        ErrorInput("target-complex-with-grad",
                   (torch.randn(3, requires_grad=True), torch.ones(3, dtype=torch.complex64)), {}, RuntimeError,
                   "does not support automatic differentiation for outputs with complex dtype", "target"),
        ErrorInput("pos_weight-bool", (x, y), dict(pos_weight=torch.tensor([True, False, True])), RuntimeError,
                   "Subtraction, the `-` operator, with a bool tensor is not supported", "pos_weight"),
        ErrorInput("pos_weight-(2,)-over-(4,3)", (x, y), dict(pos_weight=torch.ones(2)), RuntimeError,
                   r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 1",
                   "pos_weight"),
        ErrorInput("pos_weight-enlarges-loss", (x, y), dict(pos_weight=torch.ones(2, 4, 3)), RuntimeError,
                   r"output with shape \[4, 3\] doesn't match the broadcast shape \[2, 4, 3\]", "pos_weight"),
        ErrorInput("pos_weight-(3,)-on-0-dim", (torch.tensor(0.3), torch.tensor(1.0)), dict(pos_weight=torch.ones(3)),
                   RuntimeError, r"output with shape \[\] doesn't match the broadcast shape \[3\]", "pos_weight"),
        ErrorInput("pos_weight-complex", (x, y), dict(pos_weight=torch.ones(3, dtype=torch.complex64)), RuntimeError,
                   "result type ComplexFloat can't be cast to the desired output type Float", "pos_weight"),
        ErrorInput("weight-(2,)-over-(4,3)", (x, y), dict(weight=torch.ones(2)), RuntimeError,
                   r"The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1",
                   "weight"),
        ErrorInput("weight-enlarges-loss", (x, y), dict(weight=torch.ones(2, 4, 3)), RuntimeError,
                   r"output with shape \[4, 3\] doesn't match the broadcast shape \[2, 4, 3\]", "weight"),
        ErrorInput("weight-complex", (x, y), dict(weight=torch.ones(3, dtype=torch.complex64)), RuntimeError,
                   "result type ComplexFloat can't be cast to the desired output type Float", "weight"),
    ]


def bce_with_logits_modules() -> list[ModuleInput]:
    g = torch.Generator().manual_seed(1)
    x = 3 * torch.randn(3, 4, generator=g, dtype=torch.float64)
    y = torch.rand(3, 4, generator=g, dtype=torch.float64)
    w = torch.rand(3, 1, generator=g, dtype=torch.float64)
    pw = 3 * torch.rand(4, generator=g, dtype=torch.float64)
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y)) for r in REDUCTIONS]
    out += [
        ModuleInput("default", {}, (x, y)),
        ModuleInput("weight-buffer-(3,1)", dict(weight=w), (x, y)),
        ModuleInput("pos_weight-buffer-(4,)", dict(pos_weight=pw), (x, y)),
        ModuleInput("weight-and-pos_weight-none", dict(weight=w, pos_weight=pw, reduction="none"), (x, y)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo", pos_weight=pw), (x, y)),
        ModuleInput("legacy-size_average=False", dict(size_average=False, pos_weight=pw), (x, y)),
        ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y)),
    ]
    return out


# ----------------------------------------------------------------------------------------------------------
# Hand gradients: <fn>_grad called directly against torch's backward


def _hand_gradient(torch_fn, ref_fn, grad_fn, has_pos_weight: bool):
    def hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        arguments = bound_arguments(ref_fn, sample)
        reduction = "mean" if arguments["reduction"] == "elementwise_mean" else arguments["reduction"]
        if arguments["size_average"] is not None or arguments["reduce"] is not None:
            reduction = legacy_get_string(arguments["size_average"], arguments["reduce"], emit_warning=False)
        names = [("input", "target")[w] for w in sample.wrt]
        leaves = {name: arguments[name].detach().clone().requires_grad_(True) for name in names}
        expected = torch.autograd.grad(torch_fn(**{**arguments, **leaves}), list(leaves.values()), grad_output)
        options = dict(pos_weight=arguments["pos_weight"]) if has_pos_weight else {}
        hand = grad_fn(grad_output, arguments["input"], arguments["target"], arguments["weight"], reduction, **options)
        grads = dict(zip(("input", "target"), hand, strict=True))
        return [grads[name].to(arguments[name].dtype) for name in names], list(expected)

    return hand_gradient


def _pair(x: list[float], y: list[float]) -> tuple[Tensor, Tensor]:
    return torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)


LOG2 = math.log(2.0)
P, Y = [0.5, 0.25, 0.0, 1.0], [1.0, 0.0, 1.0, 0.5]  # probabilities for the hand-computed BCE values
Z = [0.0, 2.0, -1e4, 1e4]  # logits for the hand-computed BCEWithLogits values
W = torch.tensor([1.0, 0.0, 3.0, 1.0], dtype=torch.float64)

BCE_CASES = [
    LossCase(
        name="binary_cross_entropy", part="classification", chapter="bce",
        torch_fn=F.binary_cross_entropy, ref_fn=RF.binary_cross_entropy,
        torch_module=torch.nn.BCELoss, ref_module=RN.BCELoss,
        samples=bce_samples, errors=bce_errors, modules=bce_modules,
        known_values=[
            KnownValue("none: -[y log x + (1-y) log(1-x)], each log clamped at -100", _pair(P, Y),
                       dict(reduction="none"), [LOG2, -math.log(0.75), 100.0, 50.0]),
            KnownValue("sum", _pair(P, Y), dict(reduction="sum"), LOG2 - math.log(0.75) + 150.0),
            KnownValue("weighted mean: sum(w l)/n, not /sum(w)", _pair(P, Y), dict(weight=W),
                       (LOG2 + 0.0 + 300.0 + 50.0) / 4),
        ],
        hand_gradient=_hand_gradient(F.binary_cross_entropy, RF.binary_cross_entropy, RF.binary_cross_entropy_grad,
                                     has_pos_weight=False),
        dtypes=DEVICES_ALL_FLOATS,
    ),
    LossCase(
        name="binary_cross_entropy_with_logits", part="classification", chapter="bce_with_logits",
        torch_fn=F.binary_cross_entropy_with_logits, ref_fn=RF.binary_cross_entropy_with_logits,
        torch_module=torch.nn.BCEWithLogitsLoss, ref_module=RN.BCEWithLogitsLoss,
        samples=bce_with_logits_samples, errors=bce_with_logits_errors, modules=bce_with_logits_modules,
        known_values=[
            KnownValue("none: (1-y) x + softplus(-x), no overflow at -1e4", _pair(Z, Y), dict(reduction="none"),
                       [LOG2, math.log1p(math.exp(2.0)), 1e4, 5000.0]),
            KnownValue("pos_weight p=3: (1-y) x + (1 + 2y) softplus(-x)", _pair(Z, Y),
                       dict(reduction="none", pos_weight=torch.tensor([3.0], dtype=torch.float64)),
                       [3 * LOG2, math.log1p(math.exp(2.0)), 3e4, 5000.0]),
            KnownValue("weighted mean: sum(w l)/n, not /sum(w)", _pair(Z, Y), dict(weight=W),
                       (LOG2 + 0.0 + 3e4 + 5000.0) / 4),
        ],
        hand_gradient=_hand_gradient(F.binary_cross_entropy_with_logits, RF.binary_cross_entropy_with_logits,
                                     RF.binary_cross_entropy_with_logits_grad, has_pos_weight=True),
        dtypes=DEVICES_ALL_FLOATS,
    ),
]
