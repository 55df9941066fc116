"""Registry entries of the regression losses (book/regression/, refimpl/regression/).

Registry entries of the regression losses: l1, mse, huber, smooth_l1 (book/regression/).
"""

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl._reduction import legacy_get_string

from . import fuzz
from .core import (
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


def _regression_pairs(device: str, dtype: torch.dtype) -> Iterator[tuple[str, Tensor, Tensor, dict]]:
    """(desc, input, target, extra) for the shapes and values every regression loss is tried on."""
    t = dict(dtype=dtype, device=device)
    yield "shape=(3,4)", randn("x34", 3, 4, **t), randn("y34", 3, 4, **t), {}
    yield "shape=(2,3,4,5)", randn("x2345", 2, 3, 4, 5, **t), randn("y2345", 2, 3, 4, 5, **t), {}
    yield "0-dim", randn("x0", **t).reshape(()), randn("y0", **t).reshape(()), {}
    yield "empty=(0,)", torch.zeros(0, **t), torch.zeros(0, **t), {}
    yield "empty=(0,3)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t), {}
    # 1e3 in float32/64; 1e2 in half precision, where torch's kernels overflow in r^2 / 2 beyond |r| = 362
    large = 1e2 if dtype in (torch.float16, torch.bfloat16) else 1e3
    yield "large-residuals", randn("xl", 4, 5, scale=large, **t), randn("yl", 4, 5, **t), {}
    yield "broadcast-(3,1)-(3,4)", randn("xb", 3, 1, **t), randn("yb", 3, 4, **t), {}
    yield "broadcast-target-(4,)", randn("xc", 3, 4, **t), randn("yc", 4, **t), {}
    yield "broadcast-target-0-dim", randn("xd", 5, **t), randn("yd", **t).reshape(()), {}


def _kink_pair(points: list[float], device: str, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Inputs whose residuals x - y are exactly ``points`` (targets are small integers: exact)."""
    target = torch.arange(len(points), dtype=torch.float64) - 1.0
    input = target + torch.tensor(points, dtype=torch.float64)
    return input.to(dtype=dtype, device=device), target.to(dtype=dtype, device=device)


def _nonfinite_pair(device: str, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    inf, nan = math.inf, math.nan
    input = torch.tensor([inf, -inf, nan, 1.0, inf, 2.0], dtype=dtype, device=device)
    target = torch.tensor([inf, 0.0, 0.0, nan, 1.0, -inf], dtype=dtype, device=device)
    return input, target


def regression_samples(
    name: str, options: list[dict], kinks: list[float], weighted: bool, legacy: bool
) -> Callable[[str, torch.dtype], list[SampleInput]]:
    """The sample generator of a regression loss: every shape x reduction x option, plus the edges."""

    def samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
        out = []
        for option in options:
            opt = "-".join(f"{k}={v}" for k, v in option.items()) or "default"
            for desc, x, y, _ in _regression_pairs(device, dtype):
                for reduction in REDUCTIONS:
                    out.append(SampleInput(f"{desc}-{opt}-{reduction}", (x, y), dict(reduction=reduction, **option)))
            for reduction in REDUCTIONS:
                kwargs = dict(reduction=reduction, **option)
                out.append(SampleInput(f"kinks-{opt}-{reduction}", _kink_pair(kinks, device, dtype), kwargs, kink=True))
                out.append(SampleInput(f"inf-nan-{opt}-{reduction}", _nonfinite_pair(device, dtype), kwargs, kink=True))
        t = dict(dtype=dtype, device=device)
        x, y = randn("xe", 3, 4, **t), randn("ye", 3, 4, **t)
        out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean")))
        positional = (x, y, None, None, "sum") if legacy else (x, y, "sum")
        out.append(SampleInput("positional-reduction", positional))
        if legacy:
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
        mixed = "torch's huber_loss backward raises for mixed dtypes" if name == "huber_loss" else ""
        out.append(
            SampleInput("target-int64", (x, y.round().long()), dict(reduction="mean"), wrt=(0,), forward_only=mixed)
        )
        if dtype in (torch.float32, torch.float64):
            other = torch.float64 if dtype == torch.float32 else torch.float32
            out.append(SampleInput(f"target-{other}", (x, y.to(other)), {}, forward_only=mixed))
        if dtype in (torch.float16, torch.bfloat16):
            # a half-precision tensor with a float32 one, both ways, over 10^5 elements: the sum of the losses
            # exceeds float16's range, so a mean must be divided before it is rounded to the result's dtype
            half = randn("x-large", 100_000, scale=2.0, **t)
            single = randn("y-large", 100_000, dtype=torch.float32, device=device)
            for reduction in REDUCTIONS:
                for desc, pair in (
                    (f"large-input-{dtype}-target-float32", (half, single)),
                    (f"large-input-float32-target-{dtype}", (single, half)),
                ):
                    out.append(SampleInput(f"{desc}-{reduction}", pair, dict(reduction=reduction), forward_only=mixed))
        if name == "l1_loss" and dtype in (torch.float32, torch.float64):
            complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
            xc = torch.complex(x, randn("xi", 3, 4, **t)).to(complex_dtype)
            yc = torch.complex(y, randn("yi", 3, 4, **t)).to(complex_dtype)
            wc = torch.rand(3, 4, generator=make_generator("wc"), dtype=torch.float64).to(**t)
            for reduction in REDUCTIONS:
                out.append(SampleInput(f"complex-{reduction}", (xc, yc), dict(reduction=reduction)))
                out.append(
                    SampleInput(
                        f"complex-weight-{reduction}",
                        (xc, yc),
                        dict(reduction=reduction, weight=wc),
                        wrt=(0, 1, "weight"),
                    )
                )
        if weighted:
            w = torch.rand(3, 4, generator=make_generator("w"), dtype=torch.float64).to(**t)
            w_zeros = w.clone()
            w_zeros[0] = 0
            for reduction in REDUCTIONS:
                for wdesc, weight in (("weight", w), ("weight-with-zeros", w_zeros), ("weight-all-zero", w * 0)):
                    out.append(
                        SampleInput(
                            f"{wdesc}-{reduction}",
                            (x, y),
                            dict(reduction=reduction, weight=weight),
                            wrt=(0, 1, "weight"),
                            kink=wdesc == "weight-all-zero",  # a weighted mean of 0/0: NaN, no finite differences
                        )
                    )
                x1, y2, w1 = randn("xw1", 1, 3, **t), randn("yw2", 2, 3, **t), w[:1, :3]
                out.append(
                    SampleInput(
                        f"weight-broadcast-target-{reduction}",
                        (x1, y2),
                        dict(reduction=reduction, weight=w1),
                        wrt=(0, 1, "weight"),
                    )
                )
            for size_average, reduce in ((False, None), (None, False)):
                if legacy:
                    out.append(
                        SampleInput(
                            f"weight-legacy-size_average={size_average}-reduce={reduce}",
                            (x, y),
                            dict(size_average=size_average, reduce=reduce, weight=w),
                            wrt=(0, 1, "weight"),
                        )
                    )
            if dtype in (torch.float32, torch.float64):
                other = torch.float64 if dtype == torch.float32 else torch.float32
                out.append(SampleInput(f"weight-{other}", (x, y), dict(weight=w.to(other)), wrt=(0, 1, "weight")))
        return out

    return samples


def regression_errors(name: str, has_weight: bool) -> Callable[[], list[ErrorInput]]:
    def errors() -> list[ErrorInput]:
        fn = name
        x, y = torch.randn(3, 4), torch.randn(3, 4)
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
                "reduction='batchmean'",
                (x, y),
                dict(reduction="batchmean"),
                ValueError,
                "batchmean is not a valid value for reduction",
                "reduction",
                category="reduction",
            ),
            ErrorInput(
                "not-broadcastable",
                (torch.randn(3), torch.randn(4)),
                {},
                RuntimeError,
                r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
                "target",
                category="shape",
            ),
            ErrorInput(
                "input-list",
                ([1.0, 2.0], torch.randn(2)),
                {},
                AttributeError,
                "'list' object has no attribute 'size'",
                "input",
                category="dtype",
            ),
            ErrorInput(
                "target-list",
                (torch.randn(2), [1.0, 2.0]),
                {},
                AttributeError,
                "'list' object has no attribute 'size'",
                "target",
                category="dtype",
            ),
        ]
        ints = (torch.tensor([1, 2, 3]), torch.tensor([0, 0, 0]))
        if fn == "l1_loss":
            out.append(
                ErrorInput(
                    "int64-mean",
                    ints,
                    {},
                    RuntimeError,
                    "mean\\(\\): could not infer output dtype",
                    "reduction",
                    category="reduction",
                )
            )
            out.append(
                ErrorInput(
                    "bool",
                    (torch.tensor([True]), torch.tensor([False])),
                    {},
                    RuntimeError,
                    "Subtraction, the `-` operator, with two bool tensors is not supported",
                    "bool",
                    category="dtype",
                )
            )
            out.append(
                ErrorInput(
                    "bool-input",
                    (torch.tensor([True, False]), torch.ones(2)),
                    {},
                    RuntimeError,
                    "Subtraction, the `-` operator, with a bool tensor is not supported",
                    "input",
                    category="dtype",
                )
            )
            out.append(
                ErrorInput(
                    "bool-target",
                    (torch.ones(2), torch.tensor([True, False])),
                    {},
                    RuntimeError,
                    "Subtraction, the `-` operator, with a bool tensor is not supported",
                    "target",
                    category="dtype",
                )
            )
        else:
            kernel = {"mse_loss": "mse_cpu", "huber_loss": "huber_cpu", "smooth_l1_loss": "smooth_l1_cpu"}[fn]
            for desc, args in (
                ("int64", ints),
                ("bool", (torch.tensor([True]), torch.tensor([False]))),
                ("complex64", (torch.tensor([1 + 1j]), torch.tensor([0j]))),
            ):
                dtype_name = {"int64": "Long", "bool": "Bool", "complex64": "ComplexFloat"}[desc]
                out.append(
                    ErrorInput(
                        desc,
                        args,
                        {},
                        NotImplementedError,
                        f"\"{kernel}\" not implemented for '{dtype_name}'",
                        "dtype",
                        category="dtype",
                    )
                )
        if fn == "huber_loss":
            for delta in (0.0, -1.0, math.nan):
                out.append(
                    ErrorInput(
                        f"delta={delta}",
                        (x, y),
                        dict(delta=delta),
                        RuntimeError,
                        "huber_loss does not support non-positive values for delta",
                        "delta",
                        category="value",
                    )
                )
            out.append(
                ErrorInput(
                    "delta-str",
                    (x, y),
                    dict(delta="1"),
                    TypeError,
                    "argument 'delta' .*must be float, not str",
                    "delta",
                    category="dtype",
                )
            )
            out.append(
                ErrorInput(
                    "delta-str-and-bad-reduction",
                    (x, y),
                    dict(delta="1", reduction="bad"),
                    ValueError,
                    "bad is not a valid value for reduction",
                    "reduction",
                    category="reduction",
                )
            )
            out.append(
                ErrorInput(
                    "int-input-float-target",
                    (ints[0], ints[1].float()),
                    {},
                    RuntimeError,
                    "result type Float can't be cast to the desired output type Long",
                    "input",
                    category="dtype",
                )
            )
            out.append(
                ErrorInput(
                    "bool-input-float-target",
                    (torch.tensor([True, False]), torch.ones(2)),
                    {},
                    RuntimeError,
                    "result type Float can't be cast to the desired output type Bool",
                    "input",
                    category="dtype",
                )
            )
        if fn == "smooth_l1_loss":
            for beta in (-1.0, math.nan):
                out.append(
                    ErrorInput(
                        f"beta={beta}",
                        (x, y),
                        dict(beta=beta),
                        RuntimeError,
                        "smooth_l1_loss does not support negative values for beta",
                        "beta",
                        category="value",
                    )
                )
            out.append(
                ErrorInput(
                    "beta-str",
                    (x, y),
                    dict(beta="1"),
                    TypeError,
                    "argument 'beta' .*must be float, not str",
                    "beta",
                    category="dtype",
                )
            )
            out.append(
                ErrorInput(
                    "beta-str-and-bad-reduction",
                    (x, y),
                    dict(beta="1", reduction="bad"),
                    ValueError,
                    "bad is not a valid value for reduction",
                    "reduction",
                    category="reduction",
                )
            )
        if has_weight:
            out.append(
                ErrorInput(
                    "weight-size",
                    (x, y),
                    dict(weight=torch.ones(4)),
                    ValueError,
                    "Weights and input must have the same size",
                    "weight",
                    category="shape",
                )
            )
            out.append(
                ErrorInput(
                    "weight-size-of-target",
                    (torch.randn(1, 3), torch.randn(2, 3)),
                    dict(weight=torch.ones(2, 3)),
                    ValueError,
                    "Weights and input must have the same size",
                    "weight",
                    category="shape",
                )
            )
            out.append(
                ErrorInput(
                    "weight-reduction='foo'",
                    (x, y),
                    dict(weight=torch.ones(3, 4), reduction="foo"),
                    ValueError,
                    "Invalid reduction mode: foo",
                    "reduction",
                    category="reduction",
                )
            )
            out.append(
                ErrorInput(
                    "weight-elementwise_mean",
                    (x, y),
                    dict(weight=torch.ones(3, 4), reduction="elementwise_mean"),
                    ValueError,
                    "Invalid reduction mode: elementwise_mean",
                    "reduction",
                    category="reduction",
                )
            )
        return out

    return errors


def regression_modules(name: str) -> Callable[[], list[ModuleInput]]:
    def modules() -> list[ModuleInput]:
        x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
        out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y)) for r in REDUCTIONS]
        out.append(ModuleInput("default", {}, (x, y)))
        out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y)))
        if name != "huber_loss":
            out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y)))
            out.append(ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y)))
        if name == "huber_loss":
            out += [ModuleInput(f"delta={d}", dict(delta=d), (x, y)) for d in (0.5, 2, 1e-3)]
        if name == "smooth_l1_loss":
            out += [ModuleInput(f"beta={b}", dict(beta=b), (x, y)) for b in (0.5, 0.0, 2)]
        return out

    return modules


def regression_hand_gradient(name: str, grad_fn: Callable, option_names: tuple[str, ...] = ()) -> Callable:
    """``<name>_grad(grad_output, residual, reduction, *options, weight=...)`` against torch's backward:
    its residual gradient is the input's (summed over broadcast dimensions), minus it the target's, and
    its weight gradient the weight's."""

    def hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        case = next(case for case in CASES if case.name == name)
        arguments = bound_arguments(case.ref_fn, sample)
        reduction = "mean" if arguments["reduction"] == "elementwise_mean" else arguments["reduction"]
        if arguments.get("size_average") is not None or arguments.get("reduce") is not None:
            reduction = legacy_get_string(arguments["size_average"], arguments["reduce"], emit_warning=False)
        x, y, weight = arguments["input"], arguments["target"], arguments.get("weight")
        leaves = {
            name: t.detach().clone().requires_grad_(True)
            for name, t in (("input", x), ("target", y), ("weight", weight))
            if isinstance(t, Tensor) and t.is_floating_point()
        }
        torch_call = {**arguments, **leaves}
        expected = torch.autograd.grad(case.torch_fn(**torch_call), list(leaves.values()), grad_output)
        options = [arguments[name] for name in option_names]
        hand = grad_fn(grad_output, x - y, reduction, *options, **({"weight": weight} if weight is not None else {}))
        grad_residual, *grad_weight = hand if isinstance(hand, tuple) else (hand,)
        grads = {
            "input": grad_residual.sum_to_size(x.shape).to(x.dtype),
            "target": -grad_residual.sum_to_size(y.shape).to(y.dtype),
        }
        if weight is not None:
            grads["weight"] = grad_weight[0].to(weight.dtype)
        return [grads[name] for name in leaves], list(expected)

    return hand_gradient


def _smooth_l1_grad(grad_output: Tensor, residual: Tensor, reduction: str, beta: float) -> Tensor:
    """smooth_l1_loss_grad, or l1_loss_grad where smooth_l1_loss itself becomes l1_loss (beta = 0)."""
    if beta == 0:
        return RF.l1_loss_grad(grad_output, residual, reduction)[0]
    return RF.smooth_l1_loss_grad(grad_output, residual, reduction, beta)


def _pair(values: list[float]) -> tuple[Tensor, Tensor]:
    """Inputs with residuals ``values`` against a zero target (float64)."""
    return torch.tensor(values, dtype=torch.float64), torch.zeros(len(values), dtype=torch.float64)


R = [0.5, -3.0, 0.0, 2.0]  # residuals used in the hand-computed values below


DEVICES_ALL_FLOATS = {"cpu": FLOATING, "cuda": FLOATING}


# torch.func differences the regression losses share, with their reasons (tests/test_transforms.py); each key
# names the transform and the fragment of the samples' descriptions it applies to
EMPTY_MEAN_UNDER_VMAP_GRAD = {
    "transforms:vmap(grad):empty=": (
        "torch's batching rule for the 'mean' backward divides by the element count in Python and raises "
        "ZeroDivisionError on an empty batch; refimpl's per-sample gradient is empty, as torch's own grad is "
        "outside vmap"
    ),
}
_TARGET_DTYPE = (
    "torch's forward-mode formula writes the derivative in the target's dtype and raises RuntimeError for a target "
    "of another dtype (int64, float32 next to float64); refimpl computes it in the promoted dtype"
)
TARGET_DTYPE_UNDER_FORWARD_AD = {
    "transforms:jvp:target-": _TARGET_DTYPE,
    "transforms:forward_ad:target-": _TARGET_DTYPE,
}
_INFINITE_RESIDUAL = (
    "with an infinite residual in 'none', torch's forward-mode formula multiplies the target's zero tangent by the "
    "infinite residual (NaN); refimpl's derivative along the input is the infinite slope times the tangent"
)
INFINITE_RESIDUAL_UNDER_FORWARD_AD = {
    "transforms:jvp:inf-nan": _INFINITE_RESIDUAL,
    "transforms:forward_ad:inf-nan": _INFINITE_RESIDUAL,
}


L1_LOSS = LossCase(
    name="l1_loss",
    part="regression",
    chapter="l1",
    torch_fn=F.l1_loss,
    ref_fn=RF.l1_loss,
    torch_module=torch.nn.L1Loss,
    ref_module=RN.L1Loss,
    samples=regression_samples("l1_loss", [{}], kinks=[0.0, 0.0, 1.0, -1.0], weighted=True, legacy=True),
    errors=regression_errors("l1_loss", has_weight=True),
    modules=regression_modules("l1_loss"),
    known_values=[
        KnownValue("none: |r|", _pair(R), dict(reduction="none"), [0.5, 3.0, 0.0, 2.0]),
        KnownValue("mean: sum|r|/n", _pair(R), {}, (0.5 + 3.0 + 2.0) / 4),
        KnownValue(
            "weighted mean: sum(w|r|)/sum(w)",
            _pair(R),
            dict(weight=torch.tensor([1.0, 0.0, 3.0, 1.0], dtype=torch.float64)),
            (0.5 + 0 + 0 + 2.0) / 5,
        ),
    ],
    hand_gradient=regression_hand_gradient("l1_loss", RF.l1_loss_grad, ()),
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.regression("l1_loss"),
)


MSE_LOSS = LossCase(
    name="mse_loss",
    part="regression",
    chapter="mse",
    torch_fn=F.mse_loss,
    ref_fn=RF.mse_loss,
    torch_module=torch.nn.MSELoss,
    ref_module=RN.MSELoss,
    samples=regression_samples("mse_loss", [{}], kinks=[0.0, 0.0, 1.0, -1.0], weighted=True, legacy=True),
    errors=regression_errors("mse_loss", has_weight=True),
    modules=regression_modules("mse_loss"),
    known_values=[
        KnownValue("none: r^2", _pair(R), dict(reduction="none"), [0.25, 9.0, 0.0, 4.0]),
        KnownValue("sum: sum r^2", _pair(R), dict(reduction="sum"), 0.25 + 9.0 + 4.0),
        KnownValue(
            "weighted mean: sum(w r^2)/sum(w)",
            _pair(R),
            dict(weight=torch.tensor([1.0, 0.0, 3.0, 1.0], dtype=torch.float64)),
            (0.25 + 4.0) / 5,
        ),
    ],
    hand_gradient=regression_hand_gradient("mse_loss", RF.mse_loss_grad, ()),
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.regression("mse_loss"),
    large_sum_check=True,
    known_differences={
        **EMPTY_MEAN_UNDER_VMAP_GRAD,
        **TARGET_DTYPE_UNDER_FORWARD_AD,
        **INFINITE_RESIDUAL_UNDER_FORWARD_AD,
    },
)


HUBER_LOSS = LossCase(
    name="huber_loss",
    part="regression",
    chapter="huber",
    torch_fn=F.huber_loss,
    ref_fn=RF.huber_loss,
    torch_module=torch.nn.HuberLoss,
    ref_module=RN.HuberLoss,
    samples=regression_samples(
        "huber_loss",
        [{}, {"delta": 0.5}, {"delta": 2.0}, {"delta": 1e-3}, {"delta": math.inf}],
        kinks=[1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 0.0],
        weighted=True,
        legacy=False,
    ),
    errors=regression_errors("huber_loss", has_weight=True),
    modules=regression_modules("huber_loss"),
    known_values=[
        KnownValue(
            "none, delta=1: r^2/2 inside, delta(|r|-delta/2) outside",
            _pair(R),
            dict(reduction="none"),
            [0.125, 1.0 * (3.0 - 0.5), 0.0, 1.0 * (2.0 - 0.5)],
        ),
        KnownValue(
            "none, delta=2",
            _pair(R),
            dict(reduction="none", delta=2.0),
            [0.125, 2.0 * (3.0 - 1.0), 0.0, 2.0 * (2.0 - 1.0)],
        ),
        KnownValue(
            "weighted mean divides by n, not sum(w)",
            _pair(R),
            dict(weight=torch.tensor([1.0, 0.0, 3.0, 1.0], dtype=torch.float64)),
            (0.125 + 0 + 0 + 1.5) / 4,
        ),
    ],
    hand_gradient=regression_hand_gradient("huber_loss", RF.huber_loss_grad, ("delta",)),
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.regression("huber_loss"),
    large_sum_check=True,
    known_differences={
        **EMPTY_MEAN_UNDER_VMAP_GRAD,
        **TARGET_DTYPE_UNDER_FORWARD_AD,
        **INFINITE_RESIDUAL_UNDER_FORWARD_AD,
        "transforms:grad:target-": (
            "torch's huber_loss backward raises RuntimeError for a target of another dtype (the registry compares "
            "these samples forward only); refimpl's gradient is computed in the promoted dtype"
        ),
    },
)


SMOOTH_L1_LOSS = LossCase(
    name="smooth_l1_loss",
    part="regression",
    chapter="smooth_l1",
    torch_fn=F.smooth_l1_loss,
    ref_fn=RF.smooth_l1_loss,
    torch_module=torch.nn.SmoothL1Loss,
    ref_module=RN.SmoothL1Loss,
    samples=regression_samples(
        "smooth_l1_loss",
        [
            {},
            {"beta": 0.5},
            {"beta": 2.0},
            {"beta": 0.0},
            {"beta": 1e-30},
            {"beta": 1e-40},
            {"beta": 1e-46},
            {"beta": math.inf},
        ],
        kinks=[1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 0.0],
        weighted=False,
        legacy=True,
    ),
    errors=regression_errors("smooth_l1_loss", has_weight=False),
    modules=regression_modules("smooth_l1_loss"),
    known_values=[
        KnownValue(
            "none, beta=1: r^2/2 inside, |r|-1/2 outside", _pair(R), dict(reduction="none"), [0.125, 2.5, 0.0, 1.5]
        ),
        KnownValue(
            "none, beta=2: r^2/(2 beta) inside", _pair(R), dict(reduction="none", beta=2.0), [0.0625, 2.0, 0.0, 1.0]
        ),
        KnownValue("beta=0 is L1", _pair(R), dict(reduction="none", beta=0.0), [0.5, 3.0, 0.0, 2.0]),
    ],
    hand_gradient=regression_hand_gradient("smooth_l1_loss", _smooth_l1_grad, ("beta",)),
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.regression("smooth_l1_loss"),
    large_sum_check=True,
    known_differences={
        **EMPTY_MEAN_UNDER_VMAP_GRAD,
        **TARGET_DTYPE_UNDER_FORWARD_AD,
        "transforms:vmap(grad):inf-nan": (
            "under vmap torch's batched smooth_l1 backward gives 0 where its own plain backward gives NaN (a NaN or "
            "infinite residual); refimpl gives NaN under both, as torch's plain backward does"
        ),
    },
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [L1_LOSS, MSE_LOSS, HUBER_LOSS, SMOOTH_L1_LOSS]
