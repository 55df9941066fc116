"""Registry entries of the classification losses (book/classification/, refimpl/classification/).

Registry entries of BCELoss and BCEWithLogitsLoss (book/classification/bce.ipynb, bce_with_logits.ipynb).

BCE samples aim at the hidden constants: probabilities exactly 0 and 1 (the log clamp at -100 and the
backward's floor of x(1 - x) at float32(1e-12)), probabilities below e^-100, soft and hard targets, the
weight broadcast against the target, and the dtypes (no promotion between input and target; a weight of
another dtype multiplies in place). Hard 0/1 targets are not differentiated by gradcheck: a step of 1e-6 would
leave [0, 1], where torch raises. BCEWithLogits samples aim at extreme logits (+-1e4, +-inf), ``pos_weight``
over the last (class) dimension and over other dimensions, targets outside [0, 1] (accepted), and the
result's dtype, which is the target's.

Registry entries of nll_loss and cross_entropy (book/classification/nll.ipynb, cross_entropy.ipynb).

The samples aim at what torch does with class targets: every input rank (unbatched (C), (N, C), and
K-dimensional (N, C, d1, ..., dK) for K = 1, 2, 3, which take three different kernels in torch), class
weights (the weighted mean divides by the kept targets' weight), ignore_index (some, a valid class, all),
uint8 targets, zero, negative and cancelling weights, empty batches and empty spatial sizes, uniform and
extreme logits (±1e4, ±inf, NaN), the float16/bfloat16 total weight kept in the input's dtype, legacy
arguments; and for cross_entropy label smoothing (with weight and ignore_index, negative = off) and class-
probability targets (weighted, smoothed, unnormalised, one-hot, mixed dtypes), where the target and the
weight are differentiable.

Registry entries of the two soft margin losses: soft_margin_loss and multilabel_soft_margin_loss
(book/classification/soft_margin.ipynb, book/classification/multilabel_soft_margin.ipynb).

soft_margin_loss is the one loss where refimpl deliberately differs from torch. torch evaluates
``log1p(exp(z))`` with z = -y x, which is infinite (and its gradient NaN) once exp(z) overflows, beyond
``OVERFLOW_AT[dtype]``; refimpl evaluates the stable softplus and stays finite and exact there. So the parity
samples (``SOFT_MARGIN_LOSS``'s generator) keep every margin where torch is finite, up to just below that
threshold, and the margins beyond it live in ``soft_margin_overflow_samples``: tests/test_stability.py checks
refimpl against an exact (high precision) value on those, and checks that torch overflows there.
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl._reduction import legacy_get_string

from . import fuzz
from . import mixed_dtypes as mixed
from .core import (
    FLOATING,
    NO_JVP_YET,
    REDUCTIONS,
    ErrorInput,
    KnownValue,
    LossCase,
    ModuleInput,
    SampleInput,
    bound_arguments,
    effective_reduction,
    make_generator,
    randn,
)

# --------------------------------------------------------------------------------------------------------------
# bce


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
    return [
        ("shape=(3,4)", (3, 4)),
        ("K-dim=(2,3,4,5)", (2, 3, 4, 5)),
        ("unbatched=(5,)", (5,)),
        ("0-dim", ()),
        ("empty=(0,)", (0,)),
        ("empty=(0,3)", (0, 3)),
    ]


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
        for wdesc, weight in (
            ("weight-(3,4)", w),
            ("weight-row-(4,)", w[0]),
            ("weight-column-(3,1)", w[:, :1]),
            ("weight-0-dim", w[0, 0]),
            ("weight-with-zeros", w * (w > 0.3)),
        ):
            out.append(
                SampleInput(
                    f"{wdesc}-{reduction}",
                    (x, _soft_targets("ys", 3, 4, **t)),
                    dict(weight=weight, reduction=reduction),
                )
            )
        out.append(
            SampleInput(f"weight-hard-targets-{reduction}", (x, y), dict(weight=w, reduction=reduction), wrt=(0,))
        )
    xk, yk = _probabilities("xk", 2, 3, 4, **t), _soft_targets("yk", 2, 3, 4, **t)
    out.append(SampleInput("K-dim-weight-(3,1)", (xk, yk), dict(weight=_rand("wk", 3, 1, **t), reduction="none")))
    midpoint = _t([0.5, 0.5, 0.3], **t), _t([0.5, 0.25, 0.5], **t)
    out.append(SampleInput("midpoint-x=0.5", midpoint, dict(reduction="none")))
    xs, ys = _probabilities("xs", 3, 4, **t), _soft_targets("ys", 3, 4, **t)
    out.append(SampleInput("elementwise_mean", (xs, ys), dict(reduction="elementwise_mean")))
    out.append(SampleInput("positional-weight-reduction", (xs, ys, w, None, None, "sum")))
    for size_average, reduce in LEGACY:
        out.append(
            SampleInput(
                f"legacy-size_average={size_average}-reduce={reduce}",
                (xs, ys),
                dict(weight=w, size_average=size_average, reduce=reduce, reduction="none"),
            )
        )
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
        ErrorInput(
            "reduction='foo'",
            (x, y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='batchmean'",
            (x, y),
            dict(reduction="batchmean"),
            ValueError,
            "batchmean is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "size-mismatch-(3,)-(3,1)",
            (torch.rand(3), torch.rand(3, 1)),
            {},
            ValueError,
            r"Using a target size \(torch.Size\(\[3, 1\]\)\) that is different to the input size "
            r"\(torch.Size\(\[3\]\)\) is deprecated",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input-above-1",
            (torch.tensor([0.5, 1.5]), torch.tensor([1.0, 0.0])),
            {},
            RuntimeError,
            "all elements of input should be between 0 and 1",
            "input",
            category="value",
        ),
        ErrorInput(
            "input-negative",
            (torch.tensor([-0.1]), torch.tensor([1.0])),
            {},
            RuntimeError,
            "all elements of input should be between 0 and 1",
            "input",
            category="value",
        ),
        ErrorInput(
            "input-nan",
            (torch.tensor([math.nan]), torch.tensor([1.0])),
            {},
            RuntimeError,
            "all elements of input should be between 0 and 1",
            "input",
            category="value",
        ),
        ErrorInput(
            "input-logits",
            (torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.0])),
            {},
            RuntimeError,
            "all elements of input should be between 0 and 1",
            "input",
            category="value",
        ),
        ErrorInput(
            "target-above-1",
            (torch.tensor([0.5]), torch.tensor([2.0])),
            {},
            RuntimeError,
            "all elements of target should be between 0 and 1",
            "target",
            category="value",
        ),
        ErrorInput(
            "target-minus-1",
            (torch.tensor([0.3]), torch.tensor([-1.0])),
            {},
            RuntimeError,
            "all elements of target should be between 0 and 1",
            "target",
            category="value",
        ),
        ErrorInput(
            "target-first-bad-element",
            (torch.tensor([0.5, 2.0]), torch.tensor([3.0, 0.5])),
            {},
            RuntimeError,
            "all elements of target should be between 0 and 1",
            "target",
            category="value",
        ),
        ErrorInput(
            "input-first-bad-element",
            (torch.tensor([2.0, 0.5]), torch.tensor([3.0, 0.5])),
            {},
            RuntimeError,
            "all elements of input should be between 0 and 1",
            "input",
            category="value",
        ),
        ErrorInput(
            "target-float64",
            (x, y.double()),
            {},
            RuntimeError,
            "Found dtype Double but expected Float",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-float32-input-half",
            (x.half(), y),
            {},
            RuntimeError,
            "Found dtype Float but expected Half",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-int64",
            (x, torch.ones(3, 4, dtype=torch.long)),
            {},
            RuntimeError,
            "Found dtype Long but expected Float",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "int64",
            (torch.tensor([0, 1]), torch.tensor([0, 1])),
            {},
            NotImplementedError,
            "\"binary_cross_entropy\" not implemented for 'Long'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "bool",
            (torch.tensor([True]), torch.tensor([False])),
            {},
            NotImplementedError,
            "\"binary_cross_entropy\" not implemented for 'Bool'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "complex64",
            (torch.tensor([0.5 + 0j]), torch.tensor([0.5 + 0j])),
            {},
            NotImplementedError,
            "\"binary_cross_entropy\" not implemented for 'ComplexFloat'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "weight-(3,)-over-(3,4)",
            (x, y),
            dict(weight=torch.rand(3)),
            RuntimeError,
            "Attempting to broadcast a dimension of length 3 at -1",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-enlarges-loss",
            (x, y),
            dict(weight=torch.rand(2, 3, 4)),
            RuntimeError,
            r"output with shape \[3, 4\] doesn't match the broadcast shape \[2, 3, 4\]",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-(3,)-on-0-dim",
            (torch.tensor(0.3), torch.tensor(1.0)),
            dict(weight=torch.ones(3)),
            RuntimeError,
            r"output with shape \[\] doesn't match the broadcast shape \[3\]",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-requires-grad",
            (x, y),
            dict(weight=grad_weight),
            RuntimeError,
            "is not differentiable with respect to argument 'weight'",
            "weight",
            category="requires_grad",
        ),
        ErrorInput(
            "weight-complex",
            (x, y),
            dict(weight=torch.ones(3, 4, dtype=torch.complex64)),
            RuntimeError,
            "result type ComplexFloat can't be cast to the desired output type Float",
            "weight",
            category="dtype",
        ),
        ErrorInput(
            "input-list",
            ([0.5], torch.rand(1)),
            {},
            AttributeError,
            "'list' object has no attribute 'size'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (torch.rand(1), [0.5]),
            {},
            AttributeError,
            "'list' object has no attribute 'size'",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "weight-list",
            (torch.rand(1), torch.rand(1)),
            dict(weight=[0.5]),
            AttributeError,
            "'list' object has no attribute 'size'",
            "weight",
            category="dtype",
        ),
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
        ModuleInput(
            "weight-buffer-(3,4)-sum",
            dict(weight=torch.rand(3, 4, generator=g, dtype=torch.float64), reduction="sum"),
            (x, y),
        ),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y)),
        ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y)),
        ModuleInput("legacy-reduce=False", dict(reduce=False, weight=w), (x, y)),
    ]
    return out


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
    extreme = (
        _t([-1e4, 1e4, -1e4, 1e4, -50.0, 50.0, 0.0, 20.0], **t),
        _t([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.5, 0.25], **t),
    )
    nonfinite = (
        _t([math.inf, -math.inf, math.inf, -math.inf, math.nan, 1.0], **t),
        _t([1.0, 0.0, 0.0, 1.0, 0.5, math.nan], **t),
    )
    for reduction in REDUCTIONS:
        r = dict(reduction=reduction)
        out.append(SampleInput(f"hard-targets-{reduction}", (x, y), r))
        out.append(SampleInput(f"extreme-logits-1e4-{reduction}", extreme, r))
        out.append(
            SampleInput(f"extreme-logits-1e4-pos_weight-{reduction}", extreme, dict(pos_weight=_t([3.0], **t), **r))
        )
        # (+inf, 1) and (-inf, 0) are 0 * inf = NaN in torch; the gradients stay finite
        out.append(SampleInput(f"inf-nan-logits-{reduction}", nonfinite, r, kink=True))
        out.append(
            SampleInput(
                f"inf-nan-logits-pos_weight-{reduction}", nonfinite, dict(pos_weight=_t([2.0], **t), **r), kink=True
            )
        )
        out.append(SampleInput(f"targets-outside-[0,1]-{reduction}", (x, _t([[-0.5, 1.5, 3.0, 0.2]] * 3, **t)), r))
        for pdesc, p in (
            ("pos_weight-classes-(4,)", pw[0]),
            ("pos_weight-(3,1)", pw[:, :1]),
            ("pos_weight-(3,4)", pw),
            ("pos_weight-0-dim", pw[0, 1]),
            ("pos_weight-zero-and-large", _t([0.0, 1.0, 3.0, 100.0], **t)),
        ):
            out.append(SampleInput(f"{pdesc}-{reduction}", (x, ys), dict(pos_weight=p, **r)))
        for wdesc, weight in (
            ("weight-(3,4)", w),
            ("weight-row-(4,)", w[0]),
            ("weight-column-(3,1)", w[:, :1]),
            ("weight-0-dim", w[0, 0]),
            ("weight-with-zeros", w * (w > 0.3)),
        ):
            out.append(SampleInput(f"{wdesc}-{reduction}", (x, ys), dict(weight=weight, **r)))
        out.append(
            SampleInput(f"weight-and-pos_weight-{reduction}", (x, y), dict(weight=w[:, :1], pos_weight=pw[0], **r))
        )
    xk, yk = randn("zk", 2, 3, 4, 5, scale=3.0, **t), _soft_targets("yk", 2, 3, 4, 5, **t)
    out.append(
        SampleInput(
            "K-dim-pos_weight-last-dim-(5,)", (xk, yk), dict(pos_weight=_rand("pk", 5, **t, high=3.0), reduction="none")
        )
    )
    out.append(
        SampleInput(
            "K-dim-pos_weight-channels-(3,1,1)",
            (xk, yk),
            dict(pos_weight=_rand("pc", 3, 1, 1, **t, high=3.0), reduction="sum"),
        )
    )
    out.append(
        SampleInput(
            "empty-pos_weight-(3,)",
            (torch.zeros(0, 3, **t), torch.zeros(0, 3, **t)),
            dict(pos_weight=_rand("pe", 3, **t), reduction="sum"),
        )
    )
    out.append(SampleInput("elementwise_mean", (x, ys), dict(reduction="elementwise_mean")))
    out.append(SampleInput("positional-all", (x, ys, w, None, None, "sum", pw[0])))
    for size_average, reduce in LEGACY:
        out.append(
            SampleInput(
                f"legacy-size_average={size_average}-reduce={reduce}",
                (x, ys),
                dict(weight=w, size_average=size_average, reduce=reduce, reduction="none"),
            )
        )
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
            out.append(
                SampleInput(
                    "input-float32-target-float64-pos_weight-float64",
                    (x32, y64),
                    dict(pos_weight=pw[0].double(), weight=w.double()),
                )
            )
            out.append(SampleInput("input-float64-target-float32", (x.double(), ys), dict(reduction="none")))
        out.append(
            SampleInput(
                f"weight-{name}-pos_weight-{name}",
                (x, ys),
                dict(pos_weight=pw[0].to(other), weight=w.to(other), reduction="sum"),
            )
        )
        complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        out.append(
            SampleInput(
                "target-complex",
                (x, ys.to(complex_dtype)),
                dict(reduction="none"),
                wrt=(),
                forward_only="torch's autograd refuses a complex loss; the forward is compared",
            )
        )
    out.append(SampleInput("large-(1000,)", (randn("zl", 1000, scale=5.0, **t), _soft_targets("yl", 1000, **t)), {}))
    return out


def bce_with_logits_errors() -> list[ErrorInput]:
    x, y = torch.randn(4, 3), torch.rand(4, 3)
    grad_weight = torch.rand(3, requires_grad=True)
    return [
        ErrorInput(
            "reduction='foo'",
            (x, y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "size-mismatch",
            (x, y[:, :2]),
            {},
            ValueError,
            r"Target size \(torch.Size\(\[4, 2\]\)\) must be the same as input size \(torch.Size\(\[4, 3\]\)\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "size-mismatch-(3,)-(3,1)",
            (torch.randn(3), torch.rand(3, 1)),
            {},
            ValueError,
            "must be the same as input size",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input-list",
            ([0.5], torch.rand(1)),
            {},
            AttributeError,
            "'list' object has no attribute 'size'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (torch.rand(1), [0.5]),
            {},
            AttributeError,
            "'list' object has no attribute 'size'",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "weight-list",
            (x, y),
            dict(weight=[0.5]),
            TypeError,
            r"argument 'weight' \(position 3\) must be Tensor, not list",
            "weight",
            category="dtype",
        ),
        ErrorInput(
            "pos_weight-list",
            (x, y),
            dict(pos_weight=[0.5]),
            TypeError,
            r"argument 'pos_weight' \(position 4\) must be Tensor, not list",
            "pos_weight",
            category="dtype",
        ),
        ErrorInput(
            "weight-requires-grad",
            (x, y),
            dict(weight=grad_weight),
            RuntimeError,
            "is not differentiable with respect to argument 'weight'",
            "weight",
            category="requires_grad",
        ),
        ErrorInput(
            "pos_weight-requires-grad",
            (x, y),
            dict(pos_weight=grad_weight),
            RuntimeError,
            "is not differentiable with respect to argument 'pos_weight'",
            "pos_weight",
            category="requires_grad",
        ),
        ErrorInput(
            "int64-input",
            (torch.tensor([0, 1]), torch.tensor([0.0, 1.0])),
            {},
            NotImplementedError,
            "\"log_sigmoid_cpu\" not implemented for 'Long'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "bool-input",
            (torch.tensor([True]), torch.tensor([1.0])),
            {},
            NotImplementedError,
            "\"log_sigmoid_cpu\" not implemented for 'Bool'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "complex-input",
            (torch.tensor([0.5 + 0j]), torch.tensor([1.0])),
            {},
            NotImplementedError,
            "\"log_sigmoid_cpu\" not implemented for 'ComplexFloat'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-int64",
            (x, torch.ones(4, 3, dtype=torch.long)),
            {},
            RuntimeError,
            "result type Float can't be cast to the desired output type Long",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-bool",
            (x, torch.ones(4, 3, dtype=torch.bool)),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with two bool tensors is not supported",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-complex-with-grad",
            (torch.randn(3, requires_grad=True), torch.ones(3, dtype=torch.complex64)),
            {},
            RuntimeError,
            "does not support automatic differentiation for outputs with complex dtype",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "pos_weight-bool",
            (x, y),
            dict(pos_weight=torch.tensor([True, False, True])),
            RuntimeError,
            "Subtraction, the `-` operator, with a bool tensor is not supported",
            "pos_weight",
            category="dtype",
        ),
        ErrorInput(
            "pos_weight-(2,)-over-(4,3)",
            (x, y),
            dict(pos_weight=torch.ones(2)),
            RuntimeError,
            r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 1",
            "pos_weight",
            category="shape",
        ),
        ErrorInput(
            "pos_weight-enlarges-loss",
            (x, y),
            dict(pos_weight=torch.ones(2, 4, 3)),
            RuntimeError,
            r"output with shape \[4, 3\] doesn't match the broadcast shape \[2, 4, 3\]",
            "pos_weight",
            category="shape",
        ),
        ErrorInput(
            "pos_weight-(3,)-on-0-dim",
            (torch.tensor(0.3), torch.tensor(1.0)),
            dict(pos_weight=torch.ones(3)),
            RuntimeError,
            r"output with shape \[\] doesn't match the broadcast shape \[3\]",
            "pos_weight",
            category="shape",
        ),
        ErrorInput(
            "pos_weight-complex",
            (x, y),
            dict(pos_weight=torch.ones(3, dtype=torch.complex64)),
            RuntimeError,
            "result type ComplexFloat can't be cast to the desired output type Float",
            "pos_weight",
            category="dtype",
        ),
        ErrorInput(
            "weight-(2,)-over-(4,3)",
            (x, y),
            dict(weight=torch.ones(2)),
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-enlarges-loss",
            (x, y),
            dict(weight=torch.ones(2, 4, 3)),
            RuntimeError,
            r"output with shape \[4, 3\] doesn't match the broadcast shape \[2, 4, 3\]",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-complex",
            (x, y),
            dict(weight=torch.ones(3, dtype=torch.complex64)),
            RuntimeError,
            "result type ComplexFloat can't be cast to the desired output type Float",
            "weight",
            category="dtype",
        ),
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


BINARY_CROSS_ENTROPY = LossCase(
    name="binary_cross_entropy",
    part="classification",
    chapter="bce",
    torch_fn=F.binary_cross_entropy,
    ref_fn=RF.binary_cross_entropy,
    torch_module=torch.nn.BCELoss,
    ref_module=RN.BCELoss,
    samples=bce_samples,
    errors=bce_errors,
    modules=bce_modules,
    known_values=[
        KnownValue(
            "none: -[y log x + (1-y) log(1-x)], each log clamped at -100",
            _pair(P, Y),
            dict(reduction="none"),
            [LOG2, -math.log(0.75), 100.0, 50.0],
        ),
        KnownValue("sum", _pair(P, Y), dict(reduction="sum"), LOG2 - math.log(0.75) + 150.0),
        KnownValue(
            "weighted mean: sum(w l)/n, not /sum(w)", _pair(P, Y), dict(weight=W), (LOG2 + 0.0 + 300.0 + 50.0) / 4
        ),
    ],
    hand_gradient=_hand_gradient(
        F.binary_cross_entropy, RF.binary_cross_entropy, RF.binary_cross_entropy_grad, has_pos_weight=False
    ),
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.binary_cross_entropy(),
    mixed_precision=lambda r: (
        (mixed.uniform("b-x", mixed.LARGE, low=0.05, high=0.95), mixed.uniform("b-y", mixed.LARGE)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


BINARY_CROSS_ENTROPY_WITH_LOGITS = LossCase(
    name="binary_cross_entropy_with_logits",
    part="classification",
    chapter="bce_with_logits",
    torch_fn=F.binary_cross_entropy_with_logits,
    ref_fn=RF.binary_cross_entropy_with_logits,
    torch_module=torch.nn.BCEWithLogitsLoss,
    ref_module=RN.BCEWithLogitsLoss,
    samples=bce_with_logits_samples,
    errors=bce_with_logits_errors,
    modules=bce_with_logits_modules,
    known_values=[
        KnownValue(
            "none: (1-y) x + softplus(-x), no overflow at -1e4",
            _pair(Z, Y),
            dict(reduction="none"),
            [LOG2, math.log1p(math.exp(2.0)), 1e4, 5000.0],
        ),
        KnownValue(
            "pos_weight p=3: (1-y) x + (1 + 2y) softplus(-x)",
            _pair(Z, Y),
            dict(reduction="none", pos_weight=torch.tensor([3.0], dtype=torch.float64)),
            [3 * LOG2, math.log1p(math.exp(2.0)), 3e4, 5000.0],
        ),
        KnownValue(
            "weighted mean: sum(w l)/n, not /sum(w)", _pair(Z, Y), dict(weight=W), (LOG2 + 0.0 + 3e4 + 5000.0) / 4
        ),
    ],
    hand_gradient=_hand_gradient(
        F.binary_cross_entropy_with_logits,
        RF.binary_cross_entropy_with_logits,
        RF.binary_cross_entropy_with_logits_grad,
        has_pos_weight=True,
    ),
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.binary_cross_entropy_with_logits(),
    large_sum_check=True,
    mixed_precision=lambda r: (
        (mixed.normal("bl-x", mixed.LARGE, scale=2.0), mixed.uniform("bl-y", mixed.LARGE)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


# --------------------------------------------------------------------------------------------------------------
# cross entropy


C = 4  # classes in most samples


def _targets(desc: str, classes: int, *shape: int, device: str) -> Tensor:
    """Seeded class indices of ``shape``: every class appears when there are enough positions."""
    n = math.prod(shape)
    order = torch.randperm(max(n, classes), generator=make_generator(desc))
    return (order[:n] % classes).reshape(shape).to(device)


def _weight(desc: str, dtype: torch.dtype, device: str, classes: int = C) -> Tensor:
    """Seeded positive class weights in [0.25, 2.25)."""
    values = 0.25 + 2 * torch.rand(classes, generator=make_generator(desc), dtype=torch.float64)
    return values.to(dtype=dtype, device=device)


def _logits(desc: str, *shape: int, dtype: torch.dtype, device: str, log_probs: bool) -> Tensor:
    """Seeded logits (scale 2); for nll_loss their log-softmax, so that the input is what NLL expects."""
    x = randn(desc, *shape, dtype=torch.float64, device="cpu", scale=2.0)
    if log_probs:
        x = x - torch.logsumexp(x, dim=1 if x.dim() > 1 else 0, keepdim=True)
    return x.to(dtype=dtype, device=device)


def _index_pairs(device: str, dtype: torch.dtype, log_probs: bool):
    """(desc, input, target) for the input ranks torch accepts with class-index targets."""

    def x(desc, *shape):
        return _logits(desc, *shape, dtype=dtype, device=device, log_probs=log_probs)

    yield "(N,C)", x("x54", 5, C), _targets("t5", C, 5, device=device)
    yield "unbatched-(C)-target-()", x("x4", C), _targets("t0", C, device=device).reshape(())
    yield "unbatched-(C)-target-(1,)", x("x4b", C), _targets("t1", C, 1, device=device)
    yield "K=1-(N,C,d)", x("x243", 2, C, 3), _targets("t23", C, 2, 3, device=device)
    yield "K=2-(N,C,d1,d2)", x("x2432", 2, C, 3, 2), _targets("t232", C, 2, 3, 2, device=device)
    yield "K=3-(N,C,d1,d2,d3)", x("x24212", 2, C, 2, 1, 2), _targets("t2212", C, 2, 2, 1, 2, device=device)


def _with_ignored(target: Tensor, ignore_index: int = -100) -> Tensor:
    """A copy of ``target`` with its second and last positions replaced by ``ignore_index``."""
    ignored = target.clone()
    ignored.view(-1)[1] = ignore_index
    ignored.view(-1)[-1] = ignore_index
    return ignored


def index_samples(name: str) -> Callable[[str, torch.dtype], list[SampleInput]]:
    """Samples shared by nll_loss and cross_entropy with class-index targets (plus each loss's own)."""
    is_ce = name == "cross_entropy"

    def samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
        t = dict(dtype=dtype, device=device)
        out = []
        w = _weight("w", **t)
        for desc, x, y in _index_pairs(device, dtype, log_probs=not is_ce):
            # torch's forward takes a (1,) target with a (C) input; its backward raises "size mismatch"
            forward_only = "torch's backward raises for a (C) input with a (1,) target" if x.dim() == y.dim() else ""
            for reduction in REDUCTIONS:
                out.append(
                    SampleInput(
                        f"{desc}-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,), forward_only=forward_only
                    )
                )
                out.append(
                    SampleInput(
                        f"{desc}-weight-{reduction}",
                        (x, y),
                        dict(reduction=reduction, weight=w),
                        wrt=(0,),
                        forward_only=forward_only,
                    )
                )
                if y.numel() > 2:
                    out.append(
                        SampleInput(
                            f"{desc}-ignored-{reduction}", (x, _with_ignored(y)), dict(reduction=reduction), wrt=(0,)
                        )
                    )
                    out.append(
                        SampleInput(
                            f"{desc}-ignored-weight-{reduction}",
                            (x, _with_ignored(y)),
                            dict(reduction=reduction, weight=w),
                            wrt=(0,),
                        )
                    )
        x = _logits("xm", 6, C, **t, log_probs=not is_ce)
        y = torch.tensor([0, 1, 2, 3, 1, 1], device=device)
        for reduction in REDUCTIONS:
            kw = dict(reduction=reduction)
            out += [
                SampleInput(f"ignore_index=1-a-valid-class-{reduction}", (x, y), dict(kw, ignore_index=1), wrt=(0,)),
                SampleInput(f"ignore_index=1-weight-{reduction}", (x, y), dict(kw, ignore_index=1, weight=w), wrt=(0,)),
                SampleInput(
                    f"ignore_index=7-never-a-class-{reduction}",
                    (x, torch.where(y == 3, 7, y)),
                    dict(kw, ignore_index=7),
                    wrt=(0,),
                ),
                SampleInput(f"target-uint8-{reduction}", (x, y.to(torch.uint8)), kw, wrt=(0,)),
                SampleInput(
                    f"target-uint8-ignore_index=3-{reduction}",
                    (x, y.to(torch.uint8)),
                    dict(kw, ignore_index=3, weight=w),
                    wrt=(0,),
                ),
                SampleInput(
                    f"weight-zero-for-class-1-{reduction}",
                    (x, y),
                    dict(kw, weight=w * torch.tensor([1.0, 0.0, 1.0, 1.0], **t)),
                    wrt=(0,),
                ),
                SampleInput(f"weight-negative-{reduction}", (x, y), dict(kw, weight=-w), wrt=(0,)),
                # all kept weights 0: 'mean' is 0/0 = NaN with a NaN gradient (no finite differences)
                SampleInput(
                    f"weight-all-zero-{reduction}", (x, y), dict(kw, weight=w * 0), wrt=(0,), kink=reduction == "mean"
                ),
                # kept weights summing to 0: 'mean' is +-inf, its gradient inf and NaN
                SampleInput(
                    f"weight-cancelling-{reduction}",
                    (x, torch.tensor([0, 1, 0, 1, 2, 3], device=device)),
                    dict(kw, weight=torch.tensor([1.0, -1.0, 0.0, 0.0], **t)),
                    wrt=(0,),
                    kink=reduction == "mean",
                ),
                # every target ignored: 'mean' is 0/0 = NaN, the gradient exactly 0 (one position: a batch of one)
                SampleInput(
                    f"all-ignored-{reduction}",
                    (x[:1], torch.tensor([-100], device=device)),
                    kw,
                    wrt=(0,),
                    kink=reduction == "mean",
                ),
                SampleInput(
                    f"all-ignored-weight-{reduction}",
                    (x[:1], torch.tensor([-100], device=device)),
                    dict(kw, weight=w),
                    wrt=(0,),
                    kink=reduction == "mean",
                ),
                SampleInput(
                    f"all-ignored-unbatched-{reduction}",
                    (x[0], torch.tensor(-100, device=device)),
                    kw,
                    wrt=(0,),
                    kink=reduction == "mean",
                ),
                SampleInput(
                    f"all-ignored-K=2-{reduction}",
                    (x[:1, :, None, None], torch.full((1, 1, 1), 2, device=device)),
                    dict(kw, ignore_index=2),
                    wrt=(0,),
                    kink=reduction == "mean",
                ),
                SampleInput(f"empty-(0,C)-{reduction}", (x[:0], y[:0]), kw, wrt=(0,)),
                SampleInput(f"empty-(0,C)-weight-{reduction}", (x[:0], y[:0]), dict(kw, weight=w), wrt=(0,)),
                SampleInput(
                    f"empty-spatial-(2,C,0)-{reduction}",
                    (torch.zeros(2, C, 0, **t), torch.zeros(2, 0, dtype=torch.long, device=device)),
                    kw,
                    wrt=(0,),
                ),
                SampleInput(
                    f"empty-batch-(0,C,2,2)-{reduction}",
                    (torch.zeros(0, C, 2, 2, **t), torch.zeros(0, 2, 2, dtype=torch.long, device=device)),
                    kw,
                    wrt=(0,),
                ),
                SampleInput(
                    f"empty-C=0-(0,0)-{reduction}",
                    (torch.zeros(0, 0, **t), torch.zeros(0, dtype=torch.long, device=device)),
                    kw,
                    wrt=(0,),
                ),
            ]
        out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
        out.append(SampleInput("positional-reduction", (x, y, w, None, 1, None, "sum"), wrt=(0,)))
        for size_average in (None, True, False):
            for reduce in (None, True, False):
                if size_average is None and reduce is None:
                    continue
                out.append(
                    SampleInput(
                        f"legacy-size_average={size_average}-reduce={reduce}",
                        (x, y),
                        dict(size_average=size_average, reduce=reduce, reduction="none"),
                        wrt=(0,),
                    )
                )
        if dtype == torch.float16:  # total_weight in float16: a count above 65504 is inf, the 'mean' 0
            big = torch.zeros(65600, 2, **t)
            big[:, 1] = (torch.arange(65600) % 3).to(dtype) - 1.0
            target = (torch.arange(65600) % 2).to(device)
            for reduction in ("mean", "sum"):
                out.append(
                    SampleInput(f"float16-count-65600-{reduction}", (big, target), dict(reduction=reduction), wrt=(0,))
                )
        if dtype == torch.bfloat16:  # total_weight in bfloat16: 257 kept targets divide by 256
            big = torch.zeros(257, 2, **t)
            big[:, 1] = (torch.arange(257) % 3).to(dtype) - 1.0
            out.append(SampleInput("bfloat16-count-257-mean", (big, (torch.arange(257) % 2).to(device)), {}, wrt=(0,)))
        out += _ce_samples(device, dtype) if is_ce else _nll_samples(device, dtype)
        return out

    return samples


def _nll_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """nll_loss does not check that its input holds log-probabilities."""
    t = dict(dtype=dtype, device=device)
    x = randn("xp", 5, C, **t, scale=3.0).abs()  # positive: the losses come out negative
    y = torch.tensor([0, 1, 2, 3, 0], device=device)
    return [
        SampleInput(f"positive-input-not-log-probabilities-{r}", (x, y), dict(reduction=r), wrt=(0,))
        for r in REDUCTIONS
    ]


def _ce_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Logit edges, label smoothing, and class-probability targets."""
    t = dict(dtype=dtype, device=device)
    out = []
    w = _weight("w", **t)
    x = _logits("xs", 6, C, **t, log_probs=False)
    y = torch.tensor([0, 1, 2, 3, 1, 1], device=device)
    uniform = torch.arange(6, **t)[:, None].expand(6, C).contiguous()  # each row constant: loss log C
    extreme = torch.tensor([[1e4, -1e4, 0.0, 0.0], [-1e4, 1e4, 5.0, 0.0], [1e4, 1e4, -1e4, 0.0]], **t)
    inf, nan = math.inf, math.nan
    nonfinite = torch.tensor(
        [
            [-inf, 0.0, 1.0, 0.0],
            [inf, 0.0, 0.0, 0.0],
            [0.0, inf, 0.0, 0.0],
            [-inf, -inf, -inf, -inf],
            [nan, 0.0, 0.0, 0.0],
            [1.0, -inf, 2.0, 0.0],
        ],
        **t,
    )
    y_nonfinite = torch.tensor([0, 0, 0, 0, 1, 2], device=device)
    x3 = _logits("xs3", 2, C, 3, **t, log_probs=False)
    y3 = _targets("ts3", C, 2, 3, device=device)
    for reduction in REDUCTIONS:
        kw = dict(reduction=reduction)
        out += [
            SampleInput(f"uniform-logits-ties-{reduction}", (uniform, y), kw, wrt=(0,)),
            SampleInput(
                f"extreme-logits-1e4-{reduction}", (extreme, torch.tensor([1, 0, 0], device=device)), kw, wrt=(0,)
            ),
            SampleInput(
                f"extreme-logits-1e4-label_smoothing-{reduction}",
                (extreme, torch.tensor([1, 0, 1], device=device)),
                dict(kw, label_smoothing=0.1),
                wrt=(0,),
            ),
            # -inf at the target: loss inf with a finite gradient; +inf, all -inf, NaN: NaN rows
            SampleInput(f"nonfinite-logits-{reduction}", (nonfinite, y_nonfinite), kw, wrt=(0,), kink=True),
            SampleInput(
                f"nonfinite-logits-ignored-{reduction}",
                (nonfinite, torch.tensor([0, -100, 0, -100, 1, 2], device=device)),
                kw,
                wrt=(0,),
                kink=True,
            ),
        ]
        for eps in (0.1, 1.0):
            ls = dict(kw, label_smoothing=eps)
            out += [
                SampleInput(f"label_smoothing={eps}-{reduction}", (x, y), ls, wrt=(0,)),
                SampleInput(f"label_smoothing={eps}-weight-{reduction}", (x, y), dict(ls, weight=w), wrt=(0,)),
                SampleInput(
                    f"label_smoothing={eps}-ignored-weight-{reduction}",
                    (x, _with_ignored(y)),
                    dict(ls, weight=w),
                    wrt=(0,),
                ),
                SampleInput(
                    f"label_smoothing={eps}-K=1-weight-{reduction}",
                    (x3, _with_ignored(y3)),
                    dict(ls, weight=w),
                    wrt=(0,),
                ),
            ]
        out += [
            SampleInput(
                f"label_smoothing=0.2-unbatched-{reduction}", (x[0], y[0]), dict(kw, label_smoothing=0.2), wrt=(0,)
            ),
            SampleInput(
                f"label_smoothing=0.2-uint8-weight-{reduction}",
                (x, y.to(torch.uint8)),
                dict(kw, label_smoothing=0.2, weight=w),
                wrt=(0,),
            )
            if reduction != "mean"
            else SampleInput(
                "label_smoothing=0.2-uint8-mean", (x, y.to(torch.uint8)), dict(kw, label_smoothing=0.2), wrt=(0,)
            ),
            SampleInput(f"label_smoothing=-0.5-is-off-{reduction}", (x, y), dict(kw, label_smoothing=-0.5), wrt=(0,)),
            SampleInput(
                f"label_smoothing=nan-is-off-{reduction}", (x, y), dict(kw, label_smoothing=math.nan), wrt=(0,)
            ),
            SampleInput(
                f"label_smoothing-all-ignored-{reduction}",
                (x[:1], torch.tensor([-100], device=device)),
                dict(kw, label_smoothing=0.1, weight=w),
                wrt=(0,),
                kink=reduction == "mean",
            ),
            SampleInput(
                f"label_smoothing-empty-{reduction}", (x[:0], y[:0]), dict(kw, label_smoothing=0.1, weight=w), wrt=(0,)
            ),
        ]
        out += _probability_samples(reduction, device, dtype)
    return out


def _probability_samples(reduction: str, device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Class-probability targets: differentiable target (and weight)."""
    t = dict(dtype=dtype, device=device)
    kw = dict(reduction=reduction)
    w = _weight("w", **t)
    x = _logits("xq", 5, C, **t, log_probs=False)
    q = randn("q", 5, C, dtype=torch.float64, device="cpu").softmax(1).to(**t)
    x3, q3 = _logits("xq3", 2, C, 3, 2, **t, log_probs=False), randn("q3", 2, C, 3, 2, **t).abs()
    onehot = F.one_hot(torch.tensor([0, 1, 2, 3, 1]), C).to(**t)
    out = [
        SampleInput(f"probabilities-{reduction}", (x, q), kw),
        SampleInput(f"probabilities-weight-{reduction}", (x, q), dict(kw, weight=w), wrt=(0, 1, "weight")),
        SampleInput(
            f"probabilities-label_smoothing=0.2-weight-{reduction}",
            (x, q),
            dict(kw, weight=w, label_smoothing=0.2),
            wrt=(0, 1, "weight"),
        ),
        SampleInput(f"probabilities-unbatched-(C)-{reduction}", (x[0], q[0]), dict(kw, label_smoothing=0.1)),
        SampleInput(
            f"probabilities-K=2-unnormalised-weight-{reduction}", (x3, q3), dict(kw, weight=w), wrt=(0, 1, "weight")
        ),
        SampleInput(f"probabilities-negative-entries-{reduction}", (x, randn("qn", 5, C, **t)), kw),
        SampleInput(f"probabilities-one-hot-weight-{reduction}", (x, onehot), dict(kw, weight=w), wrt=(0, 1, "weight")),
        SampleInput(f"probabilities-ignore_index=-1-{reduction}", (x, q), dict(kw, ignore_index=-1)),
        SampleInput(f"probabilities-empty-(0,C)-{reduction}", (x[:0], q[:0]), kw),
        SampleInput(f"probabilities-C=0-(2,0)-{reduction}", (x[:2, :0], q[:2, :0]), kw),
    ]
    if dtype == torch.float64:  # a float32 target promotes nothing: the loss stays float64
        out.append(SampleInput(f"probabilities-target-float32-{reduction}", (x, q.float()), kw))
        out.append(
            SampleInput(
                f"probabilities-weight-float32-{reduction}", (x, q), dict(kw, weight=w.float()), wrt=(0, 1, "weight")
            )
        )
    return out


def index_errors(name: str) -> Callable[[], list[ErrorInput]]:
    def errors() -> list[ErrorInput]:
        is_ce = name == "cross_entropy"
        x, y = torch.randn(5, C, dtype=torch.float64), torch.tensor([0, 3, 1, 1, 2])
        w = torch.ones(C, dtype=torch.float64)
        out = [
            ErrorInput(
                "reduction='foo'",
                (x, y),
                dict(reduction="foo"),
                ValueError,
                "foo is not a valid value for reduction",
                "reduction",
                category="reduction",
            ),
            ErrorInput(
                "input-list",
                ([[1.0, 2.0]], y[:1]),
                {},
                TypeError,
                r"argument 'input' \(position 1\) must be Tensor, not list",
                "input",
                category="dtype",
            ),
            ErrorInput(
                "target-list",
                (x, [0, 1, 2, 3, 0]),
                {},
                TypeError,
                r"argument 'target' \(position 2\) must be Tensor, not list",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "weight-list",
                (x, y),
                dict(weight=[1.0] * C),
                TypeError,
                r"argument 'weight' \(position 3\) must be Tensor, not list",
                "weight",
                category="dtype",
            ),
            ErrorInput(
                "ignore_index-float",
                (x, y),
                dict(ignore_index=1.0),
                TypeError,
                r"argument 'ignore_index' \(position 5\) must be int, not float",
                "ignore_index",
                category="dtype",
            ),
            ErrorInput(
                "ignore_index-bool",
                (x, y),
                dict(ignore_index=True),
                TypeError,
                r"argument 'ignore_index' \(position 5\) must be int, not bool",
                "ignore_index",
                category="dtype",
            ),
            ErrorInput(
                "batch-size-mismatch",
                (x, y[:3]),
                {},
                ValueError,
                r"Expected input batch_size \(5\) to match target batch_size \(3\)",
                "target",
                category="shape",
            ),
            ErrorInput(
                "target-(N,1)",
                (x, y[:, None]),
                {},
                RuntimeError,
                "0D or 1D target tensor expected, multi-target not supported",
                "target",
                category="shape",
            ),
            ErrorInput(
                "target-int32",
                (x, y.int()),
                {},
                RuntimeError,
                "expected target dtype to be Long or Byte, but got Int",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "target-bool",
                (x, y.bool()),
                {},
                RuntimeError,
                "expected target dtype to be Long or Byte, but got Bool",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "target-float-indices",
                (x, y.double()),
                {},
                RuntimeError,
                "expected target dtype to be Long or Byte, but got Double",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "target-out-of-range-C",
                (x, torch.tensor([0, 4, 1, 1, 2])),
                {},
                IndexError,
                "Target 4 is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "target-out-of-range-negative",
                (x, torch.tensor([0, -1, 1, 1, 2])),
                {},
                IndexError,
                "Target -1 is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "target-out-of-range-none",
                (x, torch.tensor([0, 4, 1, 1, 2])),
                dict(reduction="none"),
                IndexError,
                "Target 4 is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "target-out-of-range-ignore_index=4-other",
                (x, torch.tensor([0, 9, 4, 1, 2])),
                dict(ignore_index=4),
                IndexError,
                "Target 9 is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "target-uint8-out-of-range",
                (x, torch.tensor([0, 9, 1, 1, 2], dtype=torch.uint8)),
                {},
                IndexError,
                "Target 9 is out of bounds",
                "target",
                category="index",
            ),
            # torch prints a uint8 target of the 'none' path as a character ("Target \t is out of bounds.")
            ErrorInput(
                "target-uint8-out-of-range-none",
                (x, torch.tensor([0, 9, 1, 1, 2], dtype=torch.uint8)),
                dict(reduction="none"),
                IndexError,
                "Target .+ is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "unbatched-target-out-of-range",
                (x[0], torch.tensor(4)),
                {},
                IndexError,
                "Target 4 is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "K=2-target-out-of-range",
                (torch.randn(2, C, 3, 2), torch.full((2, 3, 2), 5)),
                {},
                IndexError,
                "Target 5 is out of bounds",
                "target",
                category="index",
            ),
            ErrorInput(
                "unbatched-target-(2,)",
                (x[0], torch.tensor([1, 2])),
                {},
                ValueError,
                "For 1D input, 1D target must have size 1, but got target size: 2",
                "target",
                category="shape",
            ),
            ErrorInput(
                "weight-size-3",
                (x, y),
                dict(weight=torch.ones(3, dtype=torch.float64)),
                RuntimeError,
                r"weight tensor should be defined either for all 4 classes or no classes but got weight "
                r"tensor of shape: \[3\]",
                "weight",
                category="shape",
            ),
            ErrorInput(
                "weight-2-D",
                (x, y),
                dict(weight=torch.ones(1, C, dtype=torch.float64)),
                RuntimeError,
                r"defined either for all 4 classes or no classes but got weight tensor of shape: \[1, 4\]",
                "weight",
                category="shape",
            ),
            ErrorInput(
                "weight-float32-input-float64",
                (x, y),
                dict(weight=w.float()),
                RuntimeError,
                "expected scalar type Double but found Float",
                "weight",
                category="dtype",
            ),
            ErrorInput(
                "weight-requires-grad",
                (x, y),
                dict(weight=w.clone().requires_grad_()),
                RuntimeError,
                "The function 'nll_loss_forward' is not differentiable with respect to argument 'weight'",
                "weight",
                category="requires_grad",
            ),
            ErrorInput(
                "K=1-target-size",
                (torch.randn(2, C, 3), torch.zeros(2, 4, dtype=torch.long)),
                {},
                RuntimeError,
                r"Expected target size \[2, 3\], got \[2, 4\]",
                "target",
                category="shape",
            ),
            ErrorInput(
                "K=3-target-size",
                (torch.randn(2, C, 3, 2, 2), torch.zeros(2, 3, 2, 3, dtype=torch.long)),
                {},
                RuntimeError,
                r"Expected target size \[2, 3, 2, 2\], got \[2, 3, 2, 3\]",
                "target",
                category="shape",
            ),
            ErrorInput(
                "K=2-target-size",
                (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 4, dtype=torch.long)),
                {},
                RuntimeError,
                r"size mismatch \(got input: \[2, 4, 3, 5\] , target: \[2, 3, 4\]",
                "target",
                category="shape",
            ),
            ErrorInput(
                "K=2-target-rank",
                (torch.randn(2, C, 3, 5), torch.zeros(2, 3, dtype=torch.long)),
                {},
                RuntimeError,
                r"only batches of spatial targets supported \(3D tensors\) but got targets of "
                "dimension: 2",
                "target",
                category="shape",
            ),
            ErrorInput(
                "K=2-weight-size",
                (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 5, dtype=torch.long)),
                dict(weight=torch.ones(3)),
                RuntimeError,
                "weight tensor should be defined either for all or no classes",
                "weight",
                category="shape",
            ),
            ErrorInput(
                "K=1-target-uint8",
                (torch.randn(2, C, 3), torch.zeros(2, 3, dtype=torch.uint8)),
                {},
                RuntimeError,
                "expected scalar type Long but found Byte",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "K=2-weight-float64-input-float32",
                (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 5, dtype=torch.long)),
                dict(weight=torch.ones(C, dtype=torch.float64)),
                RuntimeError,
                "expected scalar type Float but found Double",
                "weight",
                category="dtype",
            ),
            ErrorInput(
                "two-mistakes-batch-and-target-dtype",
                (x, y[:3].int()),
                {},
                ValueError,
                r"Expected input batch_size \(5\) to match target batch_size \(3\)",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "two-mistakes-target-dtype-and-weight-size",
                (x, y.int()),
                dict(weight=torch.ones(3, dtype=torch.float64)),
                RuntimeError,
                "expected target dtype to be Long or Byte, but got Int",
                "target",
                category="dtype",
            ),
            ErrorInput(
                "two-mistakes-K=2-target-size-and-weight-size",
                (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 4, dtype=torch.long)),
                dict(weight=torch.ones(3)),
                RuntimeError,
                "weight tensor should be defined either for all or no classes",
                "weight",
                category="shape",
            ),
        ]
        ints = torch.zeros(5, C, dtype=torch.long)
        if is_ce:
            out += [
                ErrorInput(
                    "input-0-dim-index-target",
                    (torch.tensor(1.0), torch.tensor([0, 1])),
                    {},
                    IndexError,
                    r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)",
                    "input",
                    category="shape",
                ),
                ErrorInput(
                    "input-0-dim-target-0-dim",
                    (torch.tensor(1.0), torch.tensor(0)),
                    {},
                    RuntimeError,
                    "Expected floating point type for target with class probabilities, got Long",
                    "target",
                    category="shape",
                ),
                ErrorInput(
                    "input-0-dim-float-target-0-dim",
                    (torch.tensor(1.0), torch.tensor(0.5)),
                    {},
                    IndexError,
                    "Dimension specified as 1 but tensor has no dimensions",
                    "input",
                    category="shape",
                ),
                ErrorInput(
                    "input-int64",
                    (ints, y),
                    {},
                    NotImplementedError,
                    "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'",
                    "input",
                    category="dtype",
                ),
                ErrorInput(
                    "input-int64-K=1",
                    (torch.zeros(2, C, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)),
                    {},
                    NotImplementedError,
                    "\"log_softmax_kernel_impl\" not implemented for 'Long'",
                    "input",
                    category="dtype",
                ),
                ErrorInput(
                    "input-complex",
                    (torch.ones(2, C, dtype=torch.complex64), y[:2]),
                    {},
                    NotImplementedError,
                    "\"log_softmax_lastdim_kernel_impl\" not implemented for 'ComplexFloat'",
                    "input",
                    category="dtype",
                ),
                ErrorInput(
                    "label_smoothing=1.5",
                    (x, y),
                    dict(label_smoothing=1.5),
                    RuntimeError,
                    r"label_smoothing must be between 0.0 and 1.0. Got: 1.5",
                    "label_smoothing",
                    category="value",
                ),
                ErrorInput(
                    "label_smoothing=inf",
                    (x, y),
                    dict(label_smoothing=math.inf),
                    RuntimeError,
                    r"label_smoothing must be between 0.0 and 1.0. Got: inf",
                    "label_smoothing",
                    category="value",
                ),
                ErrorInput(
                    "label_smoothing-str",
                    (x, y),
                    dict(label_smoothing="0.1"),
                    TypeError,
                    r"argument 'label_smoothing' \(position 6\) must be float, not str",
                    "label_smoothing",
                    category="dtype",
                ),
                ErrorInput(
                    "label_smoothing=1.5-before-batch-size",
                    (x, y[:3]),
                    dict(label_smoothing=1.5),
                    RuntimeError,
                    "label_smoothing must be between 0.0 and 1.0",
                    "label_smoothing",
                    category="shape",
                ),
                ErrorInput(
                    "label_smoothing-unbatched-target-(1,)",
                    (x[0], y[:1]),
                    dict(label_smoothing=0.1),
                    RuntimeError,
                    r"output with shape \[\] doesn't match the broadcast shape \[1\]",
                    "target",
                    category="shape",
                ),
                ErrorInput(
                    "label_smoothing-uint8-weight-mean",
                    (x, y.to(torch.uint8)),
                    dict(label_smoothing=0.1, weight=w),
                    RuntimeError,
                    r"gather\(\): Expected dtype int32/int64 for index",
                    "target",
                    category="dtype",
                ),
                ErrorInput(
                    "label_smoothing-K=1-weight-(2,2)",
                    (torch.randn(2, C, 3), torch.zeros(2, 3, dtype=torch.long)),
                    dict(label_smoothing=0.1, weight=torch.ones(2, 2)),
                    RuntimeError,
                    r"shape '\[1, 2, 1\]' is invalid for input of size 4",
                    "weight",
                    category="shape",
                ),
                ErrorInput(
                    "label_smoothing-weight-requires-grad",
                    (x, y),
                    dict(label_smoothing=0.1, weight=w.clone().requires_grad_()),
                    RuntimeError,
                    "is not differentiable with respect to argument 'weight'",
                    "weight",
                    category="requires_grad",
                ),
                ErrorInput(
                    "probabilities-target-int64",
                    (x, ints),
                    {},
                    RuntimeError,
                    "Expected floating point type for target with class probabilities, got Long",
                    "target",
                    category="dtype",
                ),
                ErrorInput(
                    "probabilities-ignore_index=0",
                    (x, torch.rand(5, C, dtype=torch.float64)),
                    dict(ignore_index=0),
                    RuntimeError,
                    "ignore_index is not supported for floating point target",
                    "ignore_index",
                    category="value",
                ),
                ErrorInput(
                    "probabilities-weight-size",
                    (x, torch.rand(5, C, dtype=torch.float64)),
                    dict(weight=torch.ones(3, dtype=torch.float64)),
                    RuntimeError,
                    r"cross_entropy: weight tensor should be defined either for all 4 classes or no classes",
                    "weight",
                    category="shape",
                ),
                ErrorInput(
                    "probabilities-label_smoothing=1.5",
                    (x, torch.rand(5, C, dtype=torch.float64)),
                    dict(label_smoothing=1.5),
                    RuntimeError,
                    "label_smoothing must be between 0.0 and 1.0",
                    "label_smoothing",
                    category="value",
                ),
                ErrorInput(
                    "probabilities-wrong-width",
                    (x, torch.rand(5, C + 1, dtype=torch.float64)),
                    {},
                    RuntimeError,
                    "0D or 1D target tensor expected, multi-target not supported",
                    "target",
                    category="shape",
                ),
            ]
        else:
            out += [
                ErrorInput(
                    "input-0-dim",
                    (torch.tensor(1.0), torch.tensor(0)),
                    {},
                    ValueError,
                    r"Expected 1 or more dimensions \(got 0\)",
                    "input",
                    category="shape",
                ),
                ErrorInput(
                    "input-int64",
                    (ints, y),
                    {},
                    NotImplementedError,
                    "\"nll_loss_out_frame\" not implemented for 'Long'",
                    "input",
                    category="dtype",
                ),
                ErrorInput(
                    "input-int64-K=2",
                    (torch.zeros(2, C, 3, 5, dtype=torch.long), torch.zeros(2, 3, 5, dtype=torch.long)),
                    {},
                    NotImplementedError,
                    "\"nll_loss2d_forward_out_frame\" not implemented for 'Long'",
                    "input",
                    category="dtype",
                ),
                ErrorInput(
                    "input-bool",
                    (ints.bool(), y),
                    {},
                    NotImplementedError,
                    "\"nll_loss_out_frame\" not implemented for 'Bool'",
                    "input",
                    category="dtype",
                ),
                ErrorInput(
                    "probability-shaped-target",
                    (x, torch.rand(5, C, dtype=torch.float64)),
                    {},
                    RuntimeError,
                    "0D or 1D target tensor expected, multi-target not supported",
                    "target",
                    category="shape",
                ),
                ErrorInput(
                    "input-int64-and-weight-size",
                    (ints, y),
                    dict(weight=torch.ones(3)),
                    RuntimeError,
                    "weight tensor should be defined either for all 4 classes",
                    "weight",
                    category="dtype",
                ),
            ]
        return out

    return errors


def index_modules(name: str) -> Callable[[], list[ModuleInput]]:
    def modules() -> list[ModuleInput]:
        x = torch.randn(5, C, dtype=torch.float64)
        if name == "nll_loss":
            x = x - torch.logsumexp(x, 1, keepdim=True)
        y = torch.tensor([0, 3, 1, -100, 2])
        w = torch.tensor([0.5, 2.0, 1.0, 3.0], dtype=torch.float64)
        xk, yk = torch.randn(2, C, 3, 2, dtype=torch.float64), torch.tensor([[[0, 1], [2, 3], [1, 1]]] * 2)
        out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y), wrt=(0,)) for r in REDUCTIONS]
        out += [
            ModuleInput("weight", dict(weight=w), (x, y), wrt=(0,)),
            ModuleInput("default", {}, (x, y), wrt=(0,)),
            ModuleInput("weight-ignore_index=1-sum", dict(weight=w, ignore_index=1, reduction="sum"), (x, y), wrt=(0,)),
            ModuleInput("K=2-weight", dict(weight=w), (xk, yk), wrt=(0,)),
            ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y), wrt=(0,)),
            ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y), wrt=(0,)),
            ModuleInput("legacy-reduce=False", dict(reduce=False, weight=w), (x, y), wrt=(0,)),
        ]
        if name == "cross_entropy":
            q = torch.rand(5, C, dtype=torch.float64)
            out += [
                ModuleInput("label_smoothing=0.1-weight", dict(label_smoothing=0.1, weight=w), (x, y), wrt=(0,)),
                ModuleInput("label_smoothing=2.0 constructs", dict(label_smoothing=2.0), (x, y), wrt=(0,)),
                ModuleInput("probabilities-weight", dict(weight=w, label_smoothing=0.2), (x, q)),
            ]
        return out

    return modules


def hand_gradient(name: str) -> Callable[[SampleInput, Tensor], tuple[list[Tensor], list[Tensor]]]:
    """``<name>_grad`` called directly against torch's backward, for every differentiable argument."""

    def gradients(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        case_fn = getattr(F, name)
        arguments = bound_arguments(getattr(RF, name), sample)
        reduction = effective_reduction(arguments)
        names = {0: "input", 1: "target"}
        leaves = {names.get(w, w): arguments[names.get(w, w)].detach().clone().requires_grad_(True) for w in sample.wrt}
        expected = torch.autograd.grad(case_fn(**{**arguments, **leaves}), list(leaves.values()), grad_output)
        options = dict(weight=arguments["weight"], ignore_index=arguments["ignore_index"], reduction=reduction)
        if name == "nll_loss":
            hand = {"input": RF.nll_loss_grad(grad_output, arguments["input"], arguments["target"], **options)}
        else:
            grads = RF.cross_entropy_grad(
                grad_output,
                arguments["input"],
                arguments["target"],
                label_smoothing=arguments["label_smoothing"],
                **options,
            )
            hand = dict(zip(("input", "target", "weight"), grads, strict=True))
        return [hand[leaf] for leaf in leaves], list(expected)

    return gradients


_LOG_P = torch.tensor([[-0.5, -1.0, -2.0], [-1.5, -0.25, -3.0], [-0.75, -2.5, -0.125]], dtype=torch.float64)


_Y = torch.tensor([0, 1, 2])


_W3 = torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64)


# logits whose softmax is (1/4, 3/4) and (1/2, 1/2): log p = (log 1/4, log 3/4), (log 1/2, log 1/2)
_Z = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), math.log(2.0)]], dtype=torch.float64)


_Y2 = torch.tensor([1, 0])


_W2 = torch.tensor([1.0, 3.0], dtype=torch.float64)


NLL_KNOWN = [
    KnownValue("none: -x[n, y_n]", (_LOG_P, _Y), dict(reduction="none"), [0.5, 0.25, 0.125]),
    KnownValue(
        "weighted none: -w[y_n] x[n, y_n]", (_LOG_P, _Y), dict(reduction="none", weight=_W3), [1.0, 0.25, 0.375]
    ),
    KnownValue(
        "weighted mean divides by sum of w[y_n] (6), not N (3)",
        (_LOG_P, _Y),
        dict(weight=_W3),
        (1.0 + 0.25 + 0.375) / 6,
    ),
    KnownValue(
        "ignored target: out of the sum and the count", (_LOG_P, torch.tensor([0, -100, 2])), {}, (0.5 + 0.125) / 2
    ),
]


CE_KNOWN = [
    KnownValue(
        "uniform logits: log C", (torch.zeros(2, 10, dtype=torch.float64), torch.tensor([3, 7])), {}, math.log(10)
    ),
    KnownValue("none: -log softmax(z)[y]", (_Z, _Y2), dict(reduction="none"), [math.log(4 / 3), math.log(2)]),
    KnownValue(
        "weighted mean: sum w_y l / sum w_y", (_Z, _Y2), dict(weight=_W2), (3 * math.log(4 / 3) + 1 * math.log(2)) / 4
    ),
    KnownValue(
        "label smoothing 0.2: q = (0.1, 0.9)",
        (_Z[:1], _Y2[:1]),
        dict(label_smoothing=0.2),
        0.1 * math.log(4) + 0.9 * math.log(4 / 3),
    ),
    KnownValue(
        "label smoothing 0.2 with weight: (1-e) NLL_w + e/C sum_n sum_c w_c (-log p) / sum w_y",
        (_Z, _Y2),
        dict(label_smoothing=0.2, weight=_W2),
        0.8 * (3 * math.log(4 / 3) + math.log(2)) / 4
        + 0.1 * ((math.log(4) + 3 * math.log(4 / 3)) + (math.log(2) + 3 * math.log(2))) / 4,
    ),
    KnownValue(
        "one-hot probabilities with weight: mean divides by N (2)",
        (_Z, F.one_hot(_Y2, 2).double()),
        dict(weight=_W2),
        (3 * math.log(4 / 3) + 1 * math.log(2)) / 2,
    ),
    KnownValue(
        "probabilities (0.5, 0.5): sum",
        (_Z, torch.full((2, 2), 0.5, dtype=torch.float64)),
        dict(reduction="sum"),
        0.5 * (math.log(4) + math.log(4 / 3)) + math.log(2),
    ),
]


ALL_FLOATS = {"cpu": FLOATING, "cuda": FLOATING}


# a torch.func difference nll_loss and cross_entropy share, with its reason (tests/test_transforms.py)
_UINT8_TARGET = (
    "torch's vmap rule gathers with the target as the index and refuses a uint8 target (RuntimeError), which torch "
    "accepts without vmap; refimpl computes"
)
UINT8_TARGET_UNDER_VMAP = {"transforms:vmap:uint8": _UINT8_TARGET, "transforms:vmap(grad):uint8": _UINT8_TARGET}


NLL_LOSS = LossCase(
    name="nll_loss",
    part="classification",
    chapter="nll",
    torch_fn=F.nll_loss,
    ref_fn=RF.nll_loss,
    torch_module=torch.nn.NLLLoss,
    ref_module=RN.NLLLoss,
    samples=index_samples("nll_loss"),
    errors=index_errors("nll_loss"),
    modules=index_modules("nll_loss"),
    known_values=NLL_KNOWN,
    dtypes=ALL_FLOATS,
    hand_gradient=hand_gradient("nll_loss"),
    forbidden=("nll_loss", "nll_loss2d", "nll_loss_nd"),
    known_differences={
        **NO_JVP_YET,
        **UINT8_TARGET_UNDER_VMAP,
        # F.nll_loss(x.requires_grad_(), y) with K-dimensional x, y whose last two strides are swapped: backward
        # raises RuntimeError "grad_input must be contiguous" (nll_loss2d's CPU kernel); the contiguous call works
        "layout:transposed": "torch 2.13: nll_loss2d_backward requires contiguous tensors",
        "layout:channels_last": "torch 2.13: nll_loss2d_backward requires contiguous tensors",
    },
    error_categories=frozenset({"shape", "dtype", "reduction", "index", "device"}),
    fuzz=fuzz.nll_like("nll_loss"),
    mixed_precision=lambda r: (
        (mixed.normal("n-x", mixed.N, mixed.C), mixed.classes("n-y", mixed.N, mixed.C)),
        dict(reduction=r, weight=mixed.uniform("n-w", mixed.C, low=0.5, high=2.0)),
        (0,),
    ),
)


CROSS_ENTROPY = LossCase(
    name="cross_entropy",
    part="classification",
    chapter="cross_entropy",
    torch_fn=F.cross_entropy,
    ref_fn=RF.cross_entropy,
    torch_module=torch.nn.CrossEntropyLoss,
    ref_module=RN.CrossEntropyLoss,
    samples=index_samples("cross_entropy"),
    errors=index_errors("cross_entropy"),
    modules=index_modules("cross_entropy"),
    known_values=CE_KNOWN,
    dtypes=ALL_FLOATS,
    hand_gradient=hand_gradient("cross_entropy"),
    forbidden=("cross_entropy", "cross_entropy_loss"),
    error_categories=frozenset({"shape", "dtype", "reduction", "index", "device"}),
    fuzz=fuzz.nll_like("cross_entropy"),
    mixed_precision=lambda r: (
        (mixed.normal("c-x", mixed.N, mixed.C, scale=3.0), mixed.distributions("c-y", mixed.N, mixed.C)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={
        **NO_JVP_YET,
        **UINT8_TARGET_UNDER_VMAP,
    },
)


# --------------------------------------------------------------------------------------------------------------
# soft margin


# log of the largest finite value: torch's exp(z) overflows beyond it (bfloat16 has float32's exponent range)
OVERFLOW_AT = {
    torch.float64: math.log(torch.finfo(torch.float64).max),  # 709.78
    torch.float32: math.log(torch.finfo(torch.float32).max),  # 88.72
    torch.bfloat16: math.log(torch.finfo(torch.float32).max),  # exp is computed in float32, then rounded
    torch.float16: math.log(torch.finfo(torch.float16).max),  # 11.09
}


# the largest round margin below the threshold, exactly representable in the dtype: torch is finite there
LARGEST_FINITE_MARGIN = {torch.float64: 709.0, torch.float32: 88.0, torch.bfloat16: 88.0, torch.float16: 11.0}


def _labels(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded labels -1/+1."""
    signs = torch.randint(0, 2, shape, generator=make_generator(desc), dtype=torch.int64) * 2 - 1
    return signs.to(dtype=dtype, device=device)


def _multi_hot(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded 0/1 targets, one label set per row."""
    bits = torch.randint(0, 2, shape, generator=make_generator(desc), dtype=torch.int64)
    return bits.to(dtype=dtype, device=device)


def _margin_pair(margins: list[float], device: str, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Input and labels whose negative margins z = -y x are exactly ``margins`` (labels alternate +1, -1)."""
    target = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(len(margins))], dtype=torch.float64)
    input = -torch.tensor(margins, dtype=torch.float64) * target
    return input.to(dtype=dtype, device=device), target.to(dtype=dtype, device=device)


def soft_margin_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Every shape x reduction, the broadcasts torch allows, labels that are not -1/+1, margins from -1e4 to
    just below the overflow threshold, non-finite values where torch and refimpl agree, legacy arguments and
    mixed dtypes. The target is never differentiable: ``wrt=(0,)`` throughout."""
    t = dict(dtype=dtype, device=device)
    out = []
    shaped = [
        ("shape=(3,4)", randn("sx34", 3, 4, scale=2.0, **t), _labels("sy34", 3, 4, **t)),
        ("shape=(2,3,4,5)", randn("sx2345", 2, 3, 4, 5, scale=2.0, **t), _labels("sy2345", 2, 3, 4, 5, **t)),
        ("shape=(7,)", randn("sx7", 7, scale=2.0, **t), _labels("sy7", 7, **t)),
        ("0-dim", randn("sx0", scale=2.0, **t).reshape(()), torch.tensor(-1.0, **t)),
        ("empty=(0,)", torch.zeros(0, **t), torch.zeros(0, **t)),
        ("empty=(0,3)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t)),
        # the target broadcasts into the input's shape (an out-style kernel: it may not enlarge it)
        ("target-(4,)-into-(3,4)", randn("sxb", 3, 4, **t), _labels("syb", 4, **t)),
        ("target-(1,4)-into-(3,4)", randn("sxc", 3, 4, **t), torch.tensor([[1.0, -1.0, -1.0, 1.0]], **t)),
        ("target-0-dim-into-(5,)", randn("sxd", 5, **t), torch.tensor(1.0, **t)),
        # margins z = -y x from -1e4 (confidently right: loss 0, gradient -0) to the largest torch keeps finite
        (
            "margins-1e4-to-below-overflow",
            *_margin_pair([-1e4, -30.0, -1.0, 0.0, 1.0, 5.0, LARGEST_FINITE_MARGIN[dtype]], device, dtype),
        ),
        ("labels-0/1-instead-of-±1", randn("sx01", 3, 4, scale=2.0, **t), _multi_hot("sy01", 3, 4, **t)),
        (
            "soft-labels-in-(-1,1)",
            randn("sxs", 3, 4, **t),
            (2 * torch.rand(3, 4, generator=make_generator("sys"), dtype=torch.float64) - 1).to(**t),
        ),
        ("labels-2-and--3", randn("sxl", 4, **t), torch.tensor([2.0, -3.0, 2.0, -3.0], **t)),
    ]
    for desc, x, y in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,)))
    # non-finite values where both agree; x = -inf with y = 1 (z = +inf) is in soft_margin_overflow_samples
    inf, nan = math.inf, math.nan
    x_nonfinite = torch.tensor([inf, -inf, nan, 1.0, 1.0, 0.0, 0.0], **t)
    y_nonfinite = torch.tensor([1.0, -1.0, 1.0, nan, inf, inf, 0.0], **t)
    for reduction in REDUCTIONS:
        # non-finite: no finite differences, so out of gradcheck (the loss itself is smooth everywhere)
        out.append(
            SampleInput(
                f"inf-nan-{reduction}", (x_nonfinite, y_nonfinite), dict(reduction=reduction), wrt=(0,), kink=True
            )
        )
    x, y = randn("sxe", 3, 4, **t), _labels("sye", 3, 4, **t)
    out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
    out.append(SampleInput("positional-reduction", (x, y, None, None, "sum"), wrt=(0,)))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(
                SampleInput(
                    f"legacy-size_average={size_average}-reduce={reduce}",
                    (x, y),
                    dict(size_average=size_average, reduce=reduce, reduction="sum"),
                    wrt=(0,),
                )
            )
    out.append(SampleInput("target-int64", (x, y.long()), {}, wrt=(0,)))
    out.append(
        SampleInput(
            "target-bool",
            (x, y > 0),
            {},
            wrt=(0,),
            forward_only="torch's backward negates the target, which fails for bool",
        )
    )
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"target-{str(other)[6:]}", (x, y.to(other)), {}, wrt=(0,)))  # loss in input's dtype
    if dtype in (torch.float32, torch.float64):
        complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        xc = torch.complex(x, randn("sxi", 3, 4, **t)).to(complex_dtype)
        yc = torch.complex(y, randn("syi", 3, 4, **t)).to(complex_dtype)
        for reduction in REDUCTIONS:  # complex scores: torch computes the value but cannot differentiate it
            out.append(SampleInput(f"complex-input-{reduction}", (xc, y), dict(reduction=reduction), wrt=()))
            out.append(
                SampleInput(f"complex-input-and-target-{reduction}", (xc, yc), dict(reduction=reduction), wrt=())
            )
    return out


def soft_margin_overflow_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Margins beyond ``OVERFLOW_AT[dtype]``, next to ordinary ones: torch's value is inf and its gradient NaN;
    refimpl's must equal the exact value (tests/test_stability.py), so these are not parity samples."""
    beyond = OVERFLOW_AT[dtype]
    margins = [math.ceil(beyond) + 1.0, 2 * math.ceil(beyond), 1e4, -3.0, 0.5, 2.0]
    out = []
    for reduction in REDUCTIONS:
        out.append(
            SampleInput(
                f"overflow-margins-beyond-{beyond:.2f}-exact-not-torch-{reduction}",
                _margin_pair(margins, device, dtype),
                dict(reduction=reduction),
                wrt=(0,),
            )
        )
        # z = +inf: the loss is inf in both, the exact gradient -y sigma(z) is finite (-y), torch's is NaN
        x = torch.tensor([-math.inf, math.inf, 1.0, 2.0], dtype=dtype, device=device)
        y = torch.tensor([1.0, -1.0, -math.inf, 1.0], dtype=dtype, device=device)
        out.append(
            SampleInput(f"infinite-margin-exact-not-torch-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,))
        )
    return out


def soft_margin_errors() -> list[ErrorInput]:
    fn = "soft_margin_loss"
    x, y = torch.randn(3, 4), torch.ones(3, 4)
    return [
        ErrorInput(
            "reduction='foo'",
            (x, y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='batchmean'",
            (x, y),
            dict(reduction="batchmean"),
            ValueError,
            "batchmean is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction=None",
            (x, y),
            dict(reduction=None),
            ValueError,
            "None is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "bad-reduction-before-bad-shapes",
            (torch.randn(3), torch.ones(4)),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "input-list",
            ([1.0, -1.0], torch.ones(2)),
            {},
            TypeError,
            r"argument 'input' \(position 1\) must be Tensor, not list",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (torch.randn(2), [1.0, -1.0]),
            {},
            TypeError,
            r"argument 'target' \(position 2\) must be Tensor, not list",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-requires-grad",
            (x, y.clone().requires_grad_(True)),
            {},
            RuntimeError,
            f"The function '{fn}' is not differentiable with respect to argument 'target'",
            "target",
            category="requires_grad",
        ),
        ErrorInput(
            "not-broadcastable",
            (torch.randn(3), torch.ones(4)),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-enlarges-input-(3,1)-(3,4)",
            (torch.randn(3, 1), torch.ones(3, 4)),
            {},
            RuntimeError,
            r"output with shape \[3, 1\] doesn't match the broadcast shape \[3, 4\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-enlarges-0-dim-input",
            (torch.tensor(1.0), torch.ones(3)),
            {},
            RuntimeError,
            r"output with shape \[\] doesn't match the broadcast shape \[3\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input-bool",
            (torch.tensor([True, False]), torch.ones(2)),
            {},
            RuntimeError,
            "Negation, the `-` operator, on a bool tensor is not supported",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-int64-target-float",
            (torch.tensor([1, 2]), torch.ones(2)),
            {},
            RuntimeError,
            "result type Float can't be cast to the desired output type Long",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-int64-target-float64",
            (torch.tensor([1, 2]), torch.ones(2, dtype=torch.float64)),
            {},
            RuntimeError,
            "result type Double can't be cast to the desired output type Long",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-int64-target-int64",
            (torch.tensor([1, 2]), torch.tensor([1, -1])),
            {},
            RuntimeError,
            "result type Float can't be cast to the desired output type Long",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-complex-input-float",
            (torch.randn(2), torch.ones(2, dtype=torch.complex64)),
            {},
            RuntimeError,
            "result type ComplexFloat can't be cast to the desired output type Float",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "complex-input-requires-grad",
            (torch.randn(2, dtype=torch.complex64).requires_grad_(True), torch.ones(2)),
            {},
            RuntimeError,
            "does not support automatic differentiation for outputs with complex dtype",
            "input",
            category="requires_grad",
        ),
    ]


def soft_margin_modules() -> list[ModuleInput]:
    x = torch.randn(3, 4, dtype=torch.float64)
    y = _labels("smy", 3, 4, dtype=torch.float64, device="cpu")
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y), wrt=(0,)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x, y), wrt=(0,)))
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y), wrt=(0,)))
    out.append(ModuleInput("target-requires-grad raises", {}, (x, y)))  # wrt=None: the target requires grad too
    return out


def soft_margin_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``soft_margin_loss_grad`` against torch's backward, for the input (the only differentiable argument)."""
    arguments = bound_arguments(RF.soft_margin_loss, sample)
    reduction = effective_reduction(arguments)
    x, y = arguments["input"], arguments["target"]
    leaf = x.detach().clone().requires_grad_(True)
    expected = torch.autograd.grad(F.soft_margin_loss(leaf, y, reduction=reduction), leaf, grad_output)
    return list(RF.soft_margin_loss_grad(grad_output, x, y, reduction)), list(expected)


def _soft_margin_known(x: list[float], y: list[float]) -> list[float]:
    """l = log(1 + exp(-y x)), by hand."""
    return [math.log1p(math.exp(-yi * xi)) for xi, yi in zip(x, y, strict=True)]


SM_X, SM_Y = [2.0, -1.0, 0.0, 0.5], [1.0, 1.0, -1.0, -1.0]


def _f64(values: list) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


def multilabel_soft_margin_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Every shape x reduction, with and without a class weight, 0/1 and soft targets, the broadcasts torch
    allows (including the ones that move the class dimension), extreme logits, non-finite values, legacy
    arguments and mixed dtypes. Input, target and weight are all differentiable."""
    t = dict(dtype=dtype, device=device)
    w5 = torch.rand(5, generator=make_generator("mw5"), dtype=torch.float64).to(**t)
    shaped = [
        ("shape=(3,5)", randn("mx35", 3, 5, scale=2.0, **t), _multi_hot("my35", 3, 5, **t), w5),
        ("shape=(2,3,5)", randn("mx235", 2, 3, 5, scale=2.0, **t), _multi_hot("my235", 2, 3, 5, **t), w5),
        ("1-D=(5,)", randn("mx5", 5, scale=2.0, **t), _multi_hot("my5", 5, **t), w5),
        ("shape=(1,5)", randn("mx15", 1, 5, scale=2.0, **t), _multi_hot("my15", 1, 5, **t), w5),
        ("empty=(0,5)", torch.zeros(0, 5, **t), torch.zeros(0, 5, **t), w5),
        ("empty-classes=(3,0)", torch.zeros(3, 0, **t), torch.zeros(3, 0, **t), torch.zeros(0, **t)),
        (
            "soft-targets",
            randn("mxs", 3, 5, **t),
            torch.rand(3, 5, generator=make_generator("mys"), dtype=torch.float64).to(**t),
            w5,
        ),
        ("targets-2-and--1", randn("mxo", 2, 5, **t), torch.tensor([2.0, -1.0, 0.0, 1.0, 2.0], **t).expand(2, 5), w5),
        # logits of magnitude 1e4 with each label: the loss is 0 or 1e4 / C, never an infinity
        (
            "extreme-logits-1e4",
            torch.tensor([[1e4, -1e4, 1e4, -1e4, 0.0]], **t),
            torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]], **t),
            w5,
        ),
        # silent broadcasting: a target row for every sample, a 0-dim target
        ("target-(5,)-over-(3,5)", randn("mxb", 3, 5, **t), _multi_hot("myb", 5, **t), w5),
        ("target-0-dim", randn("mxd", 3, 5, **t), torch.tensor(1.0, **t), w5),
    ]
    out = []
    for desc, x, y, w in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction)))
            out.append(
                SampleInput(
                    f"{desc}-weight-{reduction}", (x, y), dict(weight=w, reduction=reduction), wrt=(0, 1, "weight")
                )
            )
    x, y = randn("mxw", 3, 5, **t), _multi_hot("myw", 3, 5, **t)
    weights = {
        "weight-(3,5)": torch.rand(3, 5, generator=make_generator("mw35"), dtype=torch.float64).to(**t),
        "weight-(3,1)": torch.rand(3, 1, generator=make_generator("mw31"), dtype=torch.float64).to(**t),
        "weight-0-dim": torch.tensor(2.5, **t),
        "weight-with-zeros-and-negatives": torch.tensor([0.0, 1.0, -0.5, 2.0, 0.0], **t),
        "weight-int64": torch.tensor([1, 0, 2, 1, 3]).to(device),
        "weight-bool": torch.tensor([True, False, True, True, False]).to(device),
    }
    for desc, w in weights.items():
        wrt = (0, 1, "weight") if w.is_floating_point() else (0, 1)
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(weight=w, reduction=reduction), wrt=wrt))
    # torch sums over the dimension of index input.dim() - 1 of the *broadcast* loss and divides by input's last
    # size: with an input of size 1 there, or a target or weight with more dimensions, that is not "the classes"
    quirks = [
        ("input-(3,1)-target-(3,5)", (randn("mxq1", 3, 1, **t), _multi_hot("myq1", 3, 5, **t)), {}),
        ("target-(2,3,5)-enlarges-input-(3,5)", (randn("mxq2", 3, 5, **t), _multi_hot("myq2", 2, 3, 5, **t)), {}),
        (
            "weight-(2,3,5)-enlarges-input-(3,5)",
            (randn("mxq3", 3, 5, **t), _multi_hot("myq3", 3, 5, **t)),
            dict(weight=torch.rand(2, 3, 5, generator=make_generator("mwq3"), dtype=torch.float64).to(**t)),
        ),
    ]
    for desc, args, kwargs in quirks:
        for reduction in REDUCTIONS:
            wrt = (0, 1, "weight") if kwargs else (0, 1)
            out.append(SampleInput(f"{desc}-{reduction}", args, dict(kwargs, reduction=reduction), wrt=wrt))
    inf, nan = math.inf, math.nan
    x_nonfinite = torch.tensor([[inf, -inf, inf, -inf, nan, 0.0]], **t)
    y_nonfinite = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0, 0.5]], **t)
    for reduction in REDUCTIONS:
        # 0 * inf = NaN where the logit is infinite on the side of its label; no finite differences
        out.append(
            SampleInput(f"inf-nan-{reduction}", (x_nonfinite, y_nonfinite), dict(reduction=reduction), kink=True)
        )
    out.append(SampleInput("positional-reduction", (x, y, None, None, None, "sum")))
    out.append(SampleInput("positional-weight", (x, y, weights["weight-(3,5)"]), wrt=(0, 1, 2)))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(
                SampleInput(
                    f"legacy-size_average={size_average}-reduce={reduce}",
                    (x, y),
                    dict(size_average=size_average, reduce=reduce, reduction="sum"),
                )
            )
    out.append(SampleInput("legacy-overrides-an-invalid-reduction", (x, y), dict(reduce=False, reduction="bad")))
    out.append(SampleInput("target-int64", (x, y.long()), {}, wrt=(0,)))
    # mixed float dtypes where the log-sigmoids are computed in the result's precision; a float32 input with a
    # float64 target is checked in test_stability (torch's float32 log-sigmoid is not reproducible bit for bit)
    lower = {torch.float64: torch.float32, torch.float32: torch.float16}.get(dtype)
    if lower is not None:
        out.append(SampleInput(f"target-{str(lower)[6:]}", (x, y.to(lower)), {}))
        out.append(SampleInput(f"weight-{str(lower)[6:]}", (x, y), dict(weight=w5.to(lower)), wrt=(0, 1, "weight")))
    if dtype in (torch.float32, torch.float64):
        complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        yc = torch.complex(y, randn("myi", 3, 5, **t)).to(complex_dtype)
        for reduction in REDUCTIONS:  # a complex target makes the loss complex (a real input is allowed)
            out.append(
                SampleInput(
                    f"complex-target-{reduction}", (x, yc), dict(weight=w5, reduction=reduction), wrt=(0, 1, "weight")
                )
            )
    return out


def multilabel_soft_margin_errors() -> list[ErrorInput]:
    x, y = torch.randn(3, 4), torch.ones(3, 4)
    return [
        ErrorInput(
            "reduction='foo'",
            (x, y),
            dict(reduction="foo"),
            ValueError,
            "foo is not valid",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='elementwise_mean'",
            (x, y),
            dict(reduction="elementwise_mean"),
            ValueError,
            "elementwise_mean is not valid",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='batchmean'",
            (x, y),
            dict(reduction="batchmean"),
            ValueError,
            "batchmean is not valid",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction=None",
            (x, y),
            dict(reduction=None),
            TypeError,
            r"unsupported operand type\(s\) for \+: 'NoneType' and 'str'",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "0-dim-input",
            (torch.tensor(0.5), torch.tensor(1.0)),
            {},
            IndexError,
            "Dimension specified as -1 but tensor has no dimensions",
            "input",
            category="shape",
        ),
        ErrorInput(
            "0-dim-input-and-bad-reduction",
            (torch.tensor(0.5), torch.tensor(1.0)),
            dict(reduction="bad"),
            IndexError,
            "Dimension specified as -1 but tensor has no dimensions",
            "input",
            category="shape",
        ),
        ErrorInput(
            "target-mismatch",
            (x, torch.ones(3, 3)),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-mismatch-and-bad-reduction",
            (x, torch.ones(3, 3)),
            dict(reduction="bad"),
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "weight-mismatch",
            (x, y),
            dict(weight=torch.ones(5)),
            RuntimeError,
            r"The size of tensor a \(4\) must match the size of tensor b \(5\)",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "input-int64",
            (torch.tensor([[1, 2]]), torch.tensor([[1.0, 0.0]])),
            {},
            NotImplementedError,
            "\"log_sigmoid_cpu\" not implemented for 'Long'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-bool",
            (torch.tensor([[True]]), torch.tensor([[1.0]])),
            {},
            NotImplementedError,
            "\"log_sigmoid_cpu\" not implemented for 'Bool'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-complex",
            (torch.ones(1, 2, dtype=torch.complex64), torch.ones(1, 2)),
            {},
            NotImplementedError,
            "\"log_sigmoid_cpu\" not implemented for 'ComplexFloat'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-bool",
            (x, y.bool()),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with a bool tensor is not supported",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "input-list",
            ([[1.0, -1.0]], torch.ones(1, 2)),
            {},
            TypeError,
            r"argument 'input' \(position 1\) must be Tensor, not list",
            "input",
            category="dtype",
        ),
        # torch's own message comes from Python repeating the list (list * tensor); refimpl's says what is wrong
        ErrorInput(
            "target-list",
            (x, [1.0, 0.0, 1.0, 0.0]),
            {},
            TypeError,
            "only integer tensors of a single element can be converted to an index|must be Tensor, not list",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "weight-list",
            (x, y),
            dict(weight=[1.0] * 4),
            TypeError,
            "only integer tensors of a single element can be converted to an index|must be Tensor, not list",
            "weight",
            category="dtype",
        ),
    ]


def multilabel_soft_margin_modules() -> list[ModuleInput]:
    x = torch.randn(3, 4, dtype=torch.float64)
    y = _multi_hot("mmy", 3, 4, dtype=torch.float64, device="cpu")
    w = torch.rand(4, generator=make_generator("mmw"), dtype=torch.float64)
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y)) for r in REDUCTIONS]
    out += [ModuleInput(f"weight-reduction={r}", dict(weight=w, reduction=r), (x, y)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x, y)))
    out.append(ModuleInput("weight-(3,4)", dict(weight=torch.rand(3, 4, dtype=torch.float64)), (x, y)))
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y)))
    out.append(ModuleInput("legacy-reduce=False", dict(weight=w, reduce=False), (x, y)))
    return out


def multilabel_soft_margin_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``multilabel_soft_margin_loss_grad`` against torch's backward, for every argument in ``sample.wrt``."""
    arguments = bound_arguments(RF.multilabel_soft_margin_loss, sample)
    reduction = effective_reduction(arguments)
    x, y, weight = arguments["input"], arguments["target"], arguments["weight"]
    names = {0: "input", 1: "target", 2: "weight", "weight": "weight"}
    wanted = {names[w] for w in sample.wrt}
    leaves = {
        name: t.detach().clone().requires_grad_(True)
        for name, t in (("input", x), ("target", y), ("weight", weight))
        if name in wanted and isinstance(t, Tensor) and t.is_floating_point()
    }
    torch_call = {"input": x, "target": y, "weight": weight, **leaves}
    value = F.multilabel_soft_margin_loss(**torch_call, reduction=reduction)
    expected = torch.autograd.grad(value, list(leaves.values()), grad_output)
    hand = dict(
        zip(
            ("input", "target", "weight"),
            RF.multilabel_soft_margin_loss_grad(grad_output, x, y, weight, reduction),
            strict=True,
        )
    )
    return [hand[name] for name in leaves], list(expected)


# by hand: per class l = softplus(-x) for y = 1 and softplus(x) for y = 0, i.e. log(1 + exp(-+x))
MLSM_X, MLSM_Y = [[1.0, -2.0, 0.0]], [[1.0, 0.0, 1.0]]


MLSM_L = [math.log1p(math.exp(-1.0)), math.log1p(math.exp(-2.0)), math.log(2.0)]


def _softplus_overflows(args: tuple, kwargs: dict) -> bool:
    """Whether torch's log1p(exp(-y x)) overflows somewhere in a soft_margin_loss call."""
    x, y = args
    return bool((-(x * y) > math.log(torch.finfo(x.dtype).max)).any())


SOFT_MARGIN_LOSS = LossCase(
    name="soft_margin_loss",
    part="classification",
    chapter="soft_margin",
    torch_fn=F.soft_margin_loss,
    ref_fn=RF.soft_margin_loss,
    torch_module=torch.nn.SoftMarginLoss,
    ref_module=RN.SoftMarginLoss,
    samples=soft_margin_samples,
    errors=soft_margin_errors,
    modules=soft_margin_modules,
    known_values=[
        KnownValue(
            "none: log(1 + exp(-y x))", (_f64(SM_X), _f64(SM_Y)), dict(reduction="none"), _soft_margin_known(SM_X, SM_Y)
        ),
        KnownValue("mean: sum / n", (_f64(SM_X), _f64(SM_Y)), {}, sum(_soft_margin_known(SM_X, SM_Y)) / 4),
        KnownValue("sum", (_f64(SM_X), _f64(SM_Y)), dict(reduction="sum"), sum(_soft_margin_known(SM_X, SM_Y))),
        KnownValue(
            "label 0 gives log 2 whatever x",
            (_f64([3.0, -3.0]), _f64([0.0, 0.0])),
            dict(reduction="none"),
            [math.log(2.0), math.log(2.0)],
        ),
        KnownValue(
            "large correct margin: exp(-30) to rounding",
            (_f64([30.0]), _f64([1.0])),
            dict(reduction="none"),
            [math.exp(-30.0)],
        ),
    ],
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=soft_margin_hand_gradient,
    known_differences={
        "double-backward:torch-overflows": (
            "torch's second derivative is NaN at a margin of -709 in float64 (sample "
            "margins-1e4-to-below-overflow), just below exp's overflow, where refimpl's stable softplus gives the "
            "true value, which underflows to 0 (exp(-709) is about 1e-308)"
        ),
        "fuzz:-y*x > log(finfo.max)": (
            "refimpl's one deliberate difference (refimpl/classification/soft_margin.py): where torch's "
            "log1p(exp(z)) overflows, z = -y x beyond log(max float), refimpl's stable softplus stays finite "
            "(value and gradient); tests/test_stability.py checks those margins"
        ),
    },
    fuzz_excluded=_softplus_overflows,
    error_categories=frozenset({"shape", "dtype", "reduction", "device", "requires_grad"}),
    fuzz=fuzz.soft_margin(),
    mixed_precision=lambda r: (
        (mixed.normal("s-x", mixed.LARGE, scale=2.0), mixed.signs("s-y", mixed.LARGE)),
        dict(reduction=r),
        (0,),
    ),
)


MULTILABEL_SOFT_MARGIN_LOSS = LossCase(
    name="multilabel_soft_margin_loss",
    part="classification",
    chapter="multilabel_soft_margin",
    torch_fn=F.multilabel_soft_margin_loss,
    ref_fn=RF.multilabel_soft_margin_loss,
    torch_module=torch.nn.MultiLabelSoftMarginLoss,
    ref_module=RN.MultiLabelSoftMarginLoss,
    samples=multilabel_soft_margin_samples,
    errors=multilabel_soft_margin_errors,
    modules=multilabel_soft_margin_modules,
    known_values=[
        KnownValue(
            "none: mean over the C classes", (_f64(MLSM_X), _f64(MLSM_Y)), dict(reduction="none"), [sum(MLSM_L) / 3]
        ),
        KnownValue(
            "weight: sum_c w_c l_c / C, not / sum w",
            (_f64(MLSM_X), _f64(MLSM_Y)),
            dict(weight=_f64([1.0, 2.0, 0.5]), reduction="none"),
            [(MLSM_L[0] + 2 * MLSM_L[1] + 0.5 * MLSM_L[2]) / 3],
        ),
        KnownValue(
            "1-D input: one sample, a 0-dim result",
            (_f64(MLSM_X[0]), _f64(MLSM_Y[0])),
            dict(reduction="none"),
            sum(MLSM_L) / 3,
        ),
        KnownValue(
            "mean over rows",
            (_f64([MLSM_X[0], [0.0, 0.0, 0.0]]), _f64([MLSM_Y[0], [1.0, 0.0, 1.0]])),
            {},
            (sum(MLSM_L) / 3 + math.log(2.0)) / 2,
        ),
        KnownValue(
            "logit -1e4 with label 1: 1e4 / C, finite",
            (_f64([[-1e4, 0.0]]), _f64([[1.0, 0.0]])),
            dict(reduction="sum"),
            (1e4 + math.log(2.0)) / 2,
        ),
    ],
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=multilabel_soft_margin_hand_gradient,
    fuzz=fuzz.multilabel_soft_margin(),
    mixed_precision=lambda r: (
        (mixed.normal("ms-x", mixed.N, mixed.C, scale=2.0), mixed.uniform("ms-y", mixed.N, mixed.C)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [
    BINARY_CROSS_ENTROPY,
    BINARY_CROSS_ENTROPY_WITH_LOGITS,
    NLL_LOSS,
    CROSS_ENTROPY,
    SOFT_MARGIN_LOSS,
    MULTILABEL_SOFT_MARGIN_LOSS,
]
