"""Registry entries of the probabilistic losses (book/probabilistic/, refimpl/probabilistic/).

Registry entries of PoissonNLLLoss and KLDivLoss (book/probabilistic/poisson_nll.ipynb, kl_div.ipynb).

Poisson samples aim at the Stirling mask (targets 0, 1, just above 1, non-integer, negative), the two
parametrisations (log-rate and rate, with ``eps`` at a zero rate), overflow of the exponential, integer and
bool inputs that promote, and silent broadcasting. KL samples aim at the four reductions (with 'batchmean'
dividing by the input's first size: C for a 1-D input, 1 for an input broadcast along the batch), zero,
negative and infinite targets, ``log_target``, the legacy arguments that still divide under 'batchmean', and
probabilities passed where log-probabilities belong.

Registry entry of the Gaussian negative log likelihood (book/probabilistic/gaussian_nll.ipynb).

The samples aim at what is special about this loss: every ``var`` shape torch accepts (same as the input,
one dimension fewer, one dimension of size 1, a Python float, 0-dim for a 1-D input), the ``eps`` floor
(variances below, at and far below it, where torch's gradient convention departs from the derivative),
``full``, silent target broadcasting, integer inputs promoting to float, mixed dtypes and complex inputs.
"""

import math

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
    make_generator,
    randn,
)

# --------------------------------------------------------------------------------------------------------------
# kl poisson


LEGACY = [(s, r) for s in (None, True, False) for r in (None, True, False) if (s, r) != (None, None)]


def _log_probs(desc: str, *shape: int, dtype: torch.dtype, device: str, dim: int = -1) -> Tensor:
    """Seeded log-probabilities along ``dim`` (z - logsumexp(z), drawn in float64, then converted)."""
    z = randn(desc, *shape, dtype=torch.float64, device="cpu")
    return (z - z.logsumexp(dim, keepdim=True)).to(dtype=dtype, device=device)


def _probs(desc: str, *shape: int, dtype: torch.dtype, device: str, dim: int = -1) -> Tensor:
    """Seeded probabilities along ``dim`` (the exp of :func:`_log_probs`), all well above 0."""
    return _log_probs(desc, *shape, dtype=torch.float64, device="cpu", dim=dim).exp().to(dtype=dtype, device=device)


def _t(values, dtype: torch.dtype, device: str) -> Tensor:
    return torch.tensor(values, dtype=torch.float64).to(dtype=dtype, device=device)


KL_REDUCTIONS = (*REDUCTIONS, "batchmean")


def _kl_pairs(device: str, dtype: torch.dtype):
    """(desc, input, target as probabilities, target as log-probabilities) for every shape and broadcast."""
    t = dict(dtype=dtype, device=device)

    def pair(desc, *shape, dim=-1):
        return _log_probs(f"x{desc}", *shape, dim=dim, **t), _log_probs(f"y{desc}", *shape, dim=dim, **t)

    for desc, shape, dim in (("(3,5)", (3, 5), -1), ("(2,3,4)-classes-dim-1", (2, 3, 4), 1), ("1-D-(5,)", (5,), -1)):
        x, log_y = pair(desc, *shape, dim=dim)
        yield desc, x, log_y.exp(), log_y
    x, log_y = _t(-0.7, **t), _t(-1.2, **t)
    yield "0-dim", x, log_y.exp(), log_y
    empty = torch.zeros(0, 5, **t)
    yield "empty=(0,5)", empty, empty, empty
    x, log_y = _log_probs("xb", 3, 5, **t), _log_probs("yb", 5, **t)
    yield "broadcast-target-(5,)", x, log_y.exp(), log_y
    x, log_y = _log_probs("xc", 1, 5, **t), _log_probs("yc", 3, 5, **t)
    yield "broadcast-input-(1,5)", x, log_y.exp(), log_y  # batchmean divides by input.size(0) = 1
    x, log_y = _log_probs("xd", 3, 1, dim=0, **t), _log_probs("yd", 1, 4, **t)
    yield "broadcast-(3,1)-(1,4)", x, log_y.exp(), log_y
    x, log_y = _log_probs("xe", 3, 5, **t), _log_probs("ye", 3, 5, **t)
    x[:, 0] = -1e4  # extreme log-probabilities: t * x is large but finite in every dtype
    yield "extreme-input-1e4", x, log_y.exp(), log_y
    p, log_y = _probs("xf", 3, 5, **t), _log_probs("yf", 3, 5, **t)
    yield "probabilities-as-input", p, log_y.exp(), log_y  # the misuse: the "divergence" goes negative


def _kl_edges(device: str, dtype: torch.dtype) -> list[tuple[str, Tensor, Tensor, bool]]:
    """(desc, input, target, log_target) at zero, negative and non-finite targets: gradcheck cannot run here."""
    t = dict(dtype=dtype, device=device)
    inf, nan = math.inf, math.nan
    x = _log_probs("xz", 3, 4, **t)
    one_hot = _t([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0]], **t)
    x_inf = x.clone()
    x_inf[0, 1], x_inf[1, 0], x_inf[2, 1] = -inf, -inf, -inf  # zero target there: 0 * -inf = NaN
    return [
        ("target-zeros", x, one_hot, False),  # xlogy(0, 0) = 0: finite loss, NaN target gradient
        ("target-zero-input--inf", x_inf, one_hot, False),
        ("input--inf-positive-target", x_inf, _probs("yz", 3, 4, **t), False),  # inf loss
        ("negative-target", x, _t([[0.5, -0.5, 1.0, 0.0]] * 3, **t) * _t([[1.0], [0.5], [2.0]], **t), False),
        ("target-inf-nan", x, _t([[inf, 0.2, 0.3, 0.5], [nan, 0.1, 0.1, 0.8], [0.25] * 4], **t), False),
        ("input-nan", _t([[nan, -1.0, -2.0, -0.5]] * 3, **t), _probs("yy", 3, 4, **t), False),
        ("log_target--inf", x, torch.log(one_hot), True),  # e^-inf (-inf - x) = 0 * -inf = NaN
        ("log_target-inf-input", x_inf, _log_probs("yw", 3, 4, **t), True),
    ]


def kl_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    for desc, x, y, log_y in _kl_pairs(device, dtype):
        for log_target in (False, True):
            target = log_y if log_target else y
            for reduction in KL_REDUCTIONS:
                out.append(
                    SampleInput(
                        f"{desc}-log_target={log_target}-{reduction}",
                        (x, target),
                        dict(reduction=reduction, log_target=log_target),
                    )
                )
    for desc, x, y, log_target in _kl_edges(device, dtype):
        for reduction in KL_REDUCTIONS:
            out.append(
                SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction, log_target=log_target), kink=True)
            )
    x, log_y = _log_probs("xl", 4, 3, **t), _log_probs("yl", 4, 3, **t)
    y = log_y.exp()
    for size_average, reduce in LEGACY:
        for reduction in ("sum", "batchmean"):  # torch divides by input.size(0) even after the legacy override
            out.append(
                SampleInput(
                    f"legacy-size_average={size_average}-reduce={reduce}-{reduction}",
                    (x, y),
                    dict(size_average=size_average, reduce=reduce, reduction=reduction),
                )
            )
    out.append(SampleInput("legacy-ignores-invalid-reduction", (x, y), dict(reduce=False, reduction="foo")))
    out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean")))
    out.append(SampleInput("positional-reduction-log_target", (x, log_y, None, None, "batchmean", True)))
    out.append(SampleInput("wrt-input-only", (x, y), dict(reduction="batchmean"), wrt=(0,)))
    out.append(SampleInput("wrt-target-only", (x, y), dict(reduction="sum"), wrt=(1,)))
    out.append(SampleInput("wrt-target-only-log_target", (x, log_y), dict(reduction="none", log_target=True), wrt=(1,)))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        for reduction in ("none", "batchmean"):
            out.append(SampleInput(f"target-{other}-{reduction}", (x, y.to(other)), dict(reduction=reduction)))
            out.append(SampleInput(f"input-{other}-{reduction}", (x.to(other), y), dict(reduction=reduction)))
            out.append(
                SampleInput(
                    f"log_target-{other}-{reduction}", (x, log_y.to(other)), dict(reduction=reduction, log_target=True)
                )
            )
        out.append(SampleInput("target-float16-sum", (x, y.half()), dict(reduction="sum")))
        out.append(
            SampleInput("input-0-dim-float32-target-float64", (x[0, 0].float(), y.double()), dict(reduction="none"))
        )
        # a float32 loss (0-dim tensors do not promote): too coarse for finite differences, hence kink
        out.append(
            SampleInput(
                "input-0-dim-float64-target-float32", (x[0, 0].double(), y.float()), dict(reduction="none"), kink=True
            )
        )
    return out


def kl_errors() -> list[ErrorInput]:
    x, y = torch.randn(3, 4).log_softmax(1), torch.rand(3, 4)
    integral = "kl_div: Integral inputs not supported"
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
            "reduction=None",
            (x, y),
            dict(reduction=None),
            ValueError,
            "None is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction-checked-before-dtype",
            (x.long(), y),
            dict(reduction="avg"),
            ValueError,
            "avg is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "input-int64",
            (torch.tensor([0, 1]), torch.tensor([0.5, 0.5])),
            {},
            RuntimeError,
            integral,
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-int64",
            (torch.tensor([-1.0, -0.5]), torch.tensor([0, 1])),
            {},
            RuntimeError,
            integral,
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-bool",
            (torch.tensor([-1.0, -0.5]), torch.tensor([True, False])),
            {},
            RuntimeError,
            integral,
            "target",
            category="dtype",
        ),
        ErrorInput(
            "input-complex",
            (x.to(torch.complex64), y),
            {},
            RuntimeError,
            "kl_div: Complex inputs not supported",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "complex-checked-before-integral",
            (x.long(), y.to(torch.complex64)),
            {},
            RuntimeError,
            "kl_div: Complex inputs not supported",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "not-broadcastable",
            (x, y[:, :3]),
            dict(reduction="sum"),
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input-list",
            ([-1.0, -0.5], torch.rand(2)),
            dict(reduction="sum"),
            TypeError,
            r"argument 'input' \(position 1\) must be Tensor, not list",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (torch.randn(2), [0.5, 0.5]),
            dict(reduction="sum"),
            TypeError,
            r"argument 'target' \(position 2\) must be Tensor, not list",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "log_target-int",
            (x, y),
            dict(reduction="sum", log_target=1),
            TypeError,
            "argument 'log_target' must be bool, not int",
            "log_target",
            category="dtype",
        ),
        ErrorInput(
            "log_target-None",
            (x, y),
            dict(reduction="sum", log_target=None),
            TypeError,
            "argument 'log_target' must be bool, not NoneType",
            "log_target",
            category="dtype",
        ),
    ]


def kl_modules() -> list[ModuleInput]:
    x = _log_probs("mx", 3, 4, dtype=torch.float64, device="cpu")
    log_y = _log_probs("my", 3, 4, dtype=torch.float64, device="cpu")
    y = log_y.exp()
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y)) for r in ("batchmean", "none", "mean", "sum")]
    out += [
        ModuleInput("default", {}, (x, y)),
        ModuleInput("log_target=True", dict(log_target=True, reduction="batchmean"), (x, log_y)),
        ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y)),
        ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y)),
        # the module stores 'sum' at construction: unlike the functional form, it does not divide by N
        ModuleInput("legacy-size_average=False-batchmean", dict(size_average=False, reduction="batchmean"), (x, y)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y)),
    ]
    return out


def kl_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``kl_div_grad(grad_output, x, y, reduction, log_target, batchmean)`` against torch's backward. 'batchmean'
    is 'sum' divided by ``input.size(0)``, also after a legacy override: ``batchmean=True`` with the reduction used."""
    arguments = bound_arguments(RF.kl_div, sample)
    x, y, reduction = arguments["input"], arguments["target"], arguments["reduction"]
    names = [name for name, w in (("input", 0), ("target", 1)) if w in sample.wrt]
    leaves = {name: arguments[name].detach().clone().requires_grad_(True) for name in names}
    expected = torch.autograd.grad(F.kl_div(**{**arguments, **leaves}), list(leaves.values()), grad_output)
    if arguments["size_average"] is not None or arguments["reduce"] is not None:
        used = legacy_get_string(arguments["size_average"], arguments["reduce"], emit_warning=False)
    else:
        used = {"batchmean": "sum", "elementwise_mean": "mean"}.get(reduction, reduction)
    grad_input, grad_target = RF.kl_div_grad(
        grad_output, x, y, used, arguments["log_target"], batchmean=reduction == "batchmean"
    )
    grads = {"input": grad_input, "target": grad_target}
    return [grads[name] for name in names], list(expected)


def _counts(desc: str, *shape: int, dtype: torch.dtype, device: str, rate: float = 3.0) -> Tensor:
    """Seeded Poisson counts with mean ``rate``; the first entries are 0, 1 and 2 (the Stirling mask's edges)."""
    counts = torch.poisson(torch.full(shape, rate, dtype=torch.float64), generator=make_generator(desc))
    flat = counts.view(-1)
    flat[: min(3, flat.numel())] = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)[: min(3, flat.numel())]
    return counts.to(dtype=dtype, device=device)


def _poisson_input(desc: str, *shape: int, log_input: bool, dtype: torch.dtype, device: str) -> Tensor:
    """A log-rate (normal draw) or a rate (its exp, positive) as ``log_input`` asks."""
    x = randn(desc, *shape, dtype=torch.float64, device="cpu")
    return (x if log_input else x.exp()).to(dtype=dtype, device=device)


def _poisson_pairs(device: str, dtype: torch.dtype, log_input: bool):
    """(desc, input, counts) for every shape and broadcast."""
    t = dict(dtype=dtype, device=device, log_input=log_input)
    c = dict(dtype=dtype, device=device)
    yield "shape=(3,4)", _poisson_input("px", 3, 4, **t), _counts("py", 3, 4, **c)
    yield "shape=(2,3,4,5)", _poisson_input("px4", 2, 3, 4, 5, **t), _counts("py4", 2, 3, 4, 5, **c)
    yield "0-dim", _poisson_input("px0", **t).reshape(()), _t(4.0, **c)
    yield "empty=(0,)", torch.zeros(0, **c), torch.zeros(0, **c)
    yield "empty=(0,3)", torch.zeros(0, 3, **c), torch.zeros(0, 3, **c)
    yield "broadcast-target-(4,)", _poisson_input("pxb", 3, 4, **t), _counts("pyb", 4, **c)
    yield "broadcast-input-(1,4)", _poisson_input("pxc", 1, 4, **t), _counts("pyc", 3, 4, **c)
    yield "broadcast-(3,1)-(1,4)", _poisson_input("pxd", 3, 1, **t), _counts("pyd", 1, 4, **c)
    yield (
        "large-counts",
        _poisson_input("pxe", 3, 4, **t) + (4.0 if log_input else 50.0),
        _counts("pye", 3, 4, rate=60.0, **c),
    )


def _continuous_targets(dtype: torch.dtype, device: str) -> Tensor:
    """Positive non-integer targets on both sides of the Stirling threshold, away from 0 and 1 (smooth)."""
    return _t([[0.3, 0.7, 1.5, 2.2], [3.0, 4.5, 7.25, 12.0], [0.55, 1.9, 25.5, 2.6]], dtype, device)


def _poisson_edges(device: str, dtype: torch.dtype) -> list[tuple[str, Tensor, Tensor, dict]]:
    """(desc, input, target, options) at the Stirling threshold, zero and negative rates, overflow, NaN."""
    t = dict(dtype=dtype, device=device)
    inf, nan = math.inf, math.nan
    x = randn("pz", 2, 4, **t)
    rate = randn("pr", 2, 4, **t).exp()
    threshold = _t([[0.0, 1.0, 1.0 + 1 / 64, 0.5], [2.0, 1.0, 0.0, 3.0]], **t)  # y <= 1 masked, 1 + 2^-6 is not
    negative = _t([[-1.0, -0.5, 2.0, 0.0], [-3.0, 1.5, 4.0, -2.0]], **t)
    # log-rates of magnitude 1e4: exp overflows to inf (and underflows to 0) in every dtype
    extreme = _t([[1e4, -1e4, 0.0, 50.0], [-50.0, 10.0, 1e4, -1e4]], **t)
    zero_rate = _t([[0.0, 0.0, 1.0, 0.0], [2.0, 0.0, 0.0, 1e-9]], **t)
    out = []
    for full in (False, True):
        f = dict(full=full)
        out += [
            (f"stirling-threshold-full={full}", x, threshold, f),
            (f"stirling-threshold-rate-full={full}", rate, threshold, dict(log_input=False, **f)),
            (f"negative-target-full={full}", x, negative, f),
            (f"extreme-log-input-1e4-full={full}", extreme, threshold, f),
            (f"inf-nan-target-full={full}", x, _t([[inf, nan, 2.0, 0.0], [3.0, inf, nan, 1.0]], **t), f),
        ]
    out += [
        ("zero-rate-eps-default", zero_rate, threshold, dict(log_input=False)),
        ("zero-rate-eps=0", zero_rate, threshold, dict(log_input=False, eps=0.0)),  # 0 * log 0 = NaN where y = 0
        ("negative-rate", -rate, threshold, dict(log_input=False)),  # log of a negative: NaN
        ("input-nan", _t([[nan, 0.0, 1.0, -1.0], [0.5, nan, 2.0, 0.0]], **t), threshold, {}),
    ]
    return out


def poisson_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    for log_input in (True, False):
        for desc, x, y in _poisson_pairs(device, dtype, log_input):
            for full in (False, True):
                for reduction in REDUCTIONS:
                    # counts include 0 and 1: with full, the target's gradient is NaN at 0 and the loss jumps at 1
                    out.append(
                        SampleInput(
                            f"{desc}-log_input={log_input}-full={full}-{reduction}",
                            (x, y),
                            dict(log_input=log_input, full=full, reduction=reduction),
                            kink=full and "empty" not in desc,
                        )
                    )
        x = _poisson_input("pxs", 3, 4, log_input=log_input, **t)
        for reduction in REDUCTIONS:
            out.append(
                SampleInput(
                    f"continuous-targets-log_input={log_input}-full=True-{reduction}",
                    (x, _continuous_targets(**t)),
                    dict(log_input=log_input, full=True, reduction=reduction),
                )
            )
    for desc, x, y, options in _poisson_edges(device, dtype):
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction, **options), kink=True))
    x, rate, y = randn("pe", 3, 4, **t), randn("pe", 3, 4, **t).exp(), _counts("pye2", 3, 4, **t)
    for eps in (1e-3, 1, 0.5):
        out.append(SampleInput(f"eps={eps}-log_input=False", (rate, y), dict(log_input=False, eps=eps)))
    out.append(SampleInput("eps=5-ignored-when-log_input", (x, y), dict(eps=5.0)))
    out.append(SampleInput("eps=True-read-as-1", (rate, y), dict(log_input=False, eps=True)))
    for size_average, reduce in LEGACY:
        out.append(
            SampleInput(
                f"legacy-size_average={size_average}-reduce={reduce}",
                (x, y),
                dict(size_average=size_average, reduce=reduce, reduction="sum"),
            )
        )
    out.append(SampleInput("legacy-ignores-invalid-reduction", (x, y), dict(reduce=False, reduction="foo")))
    out.append(SampleInput("positional-all", (rate, _continuous_targets(**t), False, True, None, 1e-3, None, "sum")))
    out.append(SampleInput("wrt-input-only", (x, y), dict(full=True), wrt=(0,)))
    out.append(
        SampleInput("wrt-target-only", (rate, _continuous_targets(**t)), dict(log_input=False, full=True), wrt=(1,))
    )
    counts = y.round().to(torch.int64)
    for full in (False, True):
        out.append(SampleInput(f"target-int64-full={full}", (x, counts), dict(full=full), wrt=(0,)))
        out.append(
            SampleInput(f"target-int64-rate-full={full}", (rate, counts), dict(log_input=False, full=full), wrt=(0,))
        )
    x_int = randn("pi", 3, 4, scale=2.0, **t).round().to(torch.int64)
    out.append(SampleInput("input-int64", (x_int, y), {}, wrt=(1,)))
    out.append(
        SampleInput("input-int64-full-rate", (x_int.abs(), y), dict(log_input=False, full=True), wrt=(1,), kink=True)
    )
    out.append(SampleInput("input-target-int64", (x_int, counts), dict(full=True), wrt=()))
    out.append(SampleInput("input-int8", (x_int.to(torch.int8), y), dict(reduction="none"), wrt=(1,)))
    out.append(SampleInput("input-bool", (x > 0, y), dict(full=True), wrt=(1,), kink=True))
    out.append(SampleInput("target-bool", (x, y > 1), {}, wrt=(0,)))
    out.append(SampleInput("target-bool-rate", (rate, y > 1), dict(log_input=False), wrt=(0,)))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        for full in (False, True):
            out.append(
                SampleInput(f"target-{other}-full={full}", (x, _continuous_targets(other, device)), dict(full=full))
            )
            out.append(
                SampleInput(
                    f"input-{other}-full={full}",
                    (rate.to(other), _continuous_targets(**t)),
                    dict(full=full, log_input=False),
                )
            )
        out.append(
            SampleInput(
                "target-float16-full",
                (x, _continuous_targets(torch.float16, device)),
                dict(full=True, reduction="none"),
            )
        )
        out.append(
            SampleInput(
                "input-0-dim-float64-target-float32",
                (x[0, 0].double(), y.float()),
                dict(full=True, reduction="none"),
                kink=True,
            )
        )  # float32 loss; counts 0 and 1
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        xc = torch.complex(x, randn("pci", 3, 4, **t)).to(complex_dtype)
        reason = "the loss is complex: the generic tests backpropagate out.sum(), which needs a real output"
        for reduction in REDUCTIONS:
            for log_input, full in ((True, False), (True, True), (False, False)):
                out.append(
                    SampleInput(
                        f"complex-input-log_input={log_input}-full={full}-{reduction}",
                        (xc, y),
                        dict(log_input=log_input, full=full, reduction=reduction),
                        forward_only=reason,
                    )
                )
            out.append(
                SampleInput(f"complex-target-{reduction}", (x, xc), dict(reduction=reduction), forward_only=reason)
            )
    return out


def poisson_errors() -> list[ErrorInput]:
    x, y = torch.randn(3, 4), torch.poisson(torch.full((3, 4), 2.0))
    sub_bool = "Subtraction, the `-` operator, with a bool tensor is not supported"
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
            "reduction='elementwise_mean'",
            (x, y),
            dict(reduction="elementwise_mean"),
            ValueError,
            "elementwise_mean is not a valid value for reduction",
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
            "reduction-checked-before-input",
            ([1.0], y),
            dict(reduction="avg"),
            ValueError,
            "avg is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "not-broadcastable",
            (x, y[:, :3]),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "not-broadcastable-full",
            (x.exp(), y[:2]),
            dict(full=True, log_input=False),
            RuntimeError,
            r"The size of tensor a \(2\) must match the size of tensor b \(3\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input-list",
            ([1.0, 2.0], torch.ones(2)),
            {},
            TypeError,
            r"argument 'input' \(position 1\) must be Tensor, not list",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (torch.ones(2), [1.0, 2.0]),
            {},
            TypeError,
            r"argument 'target' \(position 2\) must be Tensor, not list",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "log_input-None",
            (x, y),
            dict(log_input=None),
            TypeError,
            r"argument 'log_input' \(position 3\) must be bool, not NoneType",
            "log_input",
            category="dtype",
        ),
        ErrorInput(
            "full-str",
            (x, y),
            dict(full="yes"),
            TypeError,
            r"argument 'full' \(position 4\) must be bool, not str",
            "full",
            category="dtype",
        ),
        ErrorInput(
            "eps-str",
            (x, y),
            dict(eps="1e-8"),
            TypeError,
            r"argument 'eps' \(position 5\) must be float, not str",
            "eps",
            category="dtype",
        ),
        ErrorInput(
            "bool-input-and-target", (x > 0, y > 1), {}, RuntimeError, sub_bool, "input and target", category="dtype"
        ),
        ErrorInput(
            "bool-input-rate", (x > 0, y), dict(log_input=False), RuntimeError, sub_bool, "input", category="dtype"
        ),
        ErrorInput("bool-target-full", (x, y > 1), dict(full=True), RuntimeError, sub_bool, "target", category="dtype"),
        ErrorInput(
            "complex-target-full",
            (x, y.to(torch.complex64)),
            dict(full=True),
            NotImplementedError,
            "\"le_cpu\" not implemented for 'ComplexFloat'",
            "target",
            category="dtype",
        ),
    ]


def poisson_modules() -> list[ModuleInput]:
    x = randn("mpx", 3, 4, dtype=torch.float64, device="cpu")
    y = _counts("mpy", 3, 4, dtype=torch.float64, device="cpu")
    rate = x.exp()
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y)) for r in REDUCTIONS]
    out += [
        ModuleInput("default", {}, (x, y)),
        ModuleInput("log_input=False", dict(log_input=False), (rate, y)),
        ModuleInput("full=True", dict(full=True, reduction="sum"), (x, y)),
        ModuleInput("log_input=False-eps=1e-3-full", dict(log_input=False, eps=1e-3, full=True), (rate, y)),
        ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y)),
        ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y)),
        ModuleInput("reduction='elementwise_mean' constructs", dict(reduction="elementwise_mean"), (x, y)),
    ]
    return out


def poisson_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``poisson_nll_loss_grad(grad_output, x, y, log_input, full, eps, reduction)`` against torch's backward."""
    arguments = bound_arguments(RF.poisson_nll_loss, sample)
    names = [
        name for name, w in (("input", 0), ("target", 1)) if w in sample.wrt and arguments[name].is_floating_point()
    ]
    leaves = {name: arguments[name].detach().clone().requires_grad_(True) for name in names}
    expected = torch.autograd.grad(F.poisson_nll_loss(**{**arguments, **leaves}), list(leaves.values()), grad_output)
    reduction = arguments["reduction"]
    if arguments["size_average"] is not None or arguments["reduce"] is not None:
        reduction = legacy_get_string(arguments["size_average"], arguments["reduce"], emit_warning=False)
    grad_input, grad_target = RF.poisson_nll_loss_grad(
        grad_output,
        arguments["input"],
        arguments["target"],
        arguments["log_input"],
        arguments["full"],
        float(arguments["eps"]),
        reduction,
    )
    grads = {"input": grad_input, "target": grad_target}
    return [grads[name] for name in names], list(expected)


LN2, LN3 = math.log(2.0), math.log(3.0)


def _f64(*rows) -> Tensor:
    return torch.tensor(rows[0] if len(rows) == 1 else list(rows), dtype=torch.float64)


def _stirling(y: float) -> float:
    return y * math.log(y) - y + 0.5 * math.log(2 * math.pi * y)


# KL: q = (1/4, 3/4) against p = (1/2, 1/2); q2 = (1/2, 1/2) against p2 = (9/10, 1/10)
KL_X = _f64([math.log(0.25), math.log(0.75)], [math.log(0.5), math.log(0.5)])


KL_Y = _f64([0.5, 0.5], [0.9, 0.1])


KL_L = [
    [0.5 * math.log(0.5 / 0.25), 0.5 * math.log(0.5 / 0.75)],
    [0.9 * math.log(0.9 / 0.5), 0.1 * math.log(0.1 / 0.5)],
]


KL_SUM = sum(map(sum, KL_L))


KL_KNOWN = [
    KnownValue("none: y (log y - x)", (KL_X, KL_Y), dict(reduction="none"), KL_L),
    KnownValue("batchmean: sum / input.size(0)", (KL_X, KL_Y), dict(reduction="batchmean"), KL_SUM / 2),
    KnownValue("mean: sum / numel", (KL_X, KL_Y), dict(reduction="mean"), KL_SUM / 4),
    KnownValue("sum", (KL_X, KL_Y), dict(reduction="sum"), KL_SUM),
    KnownValue(
        "batchmean of a 1-D input divides by C", (KL_X[1], KL_Y[1]), dict(reduction="batchmean"), sum(KL_L[1]) / 2
    ),
    KnownValue(
        "zero target contributes 0", (KL_X[0], _f64([0.0, 1.0])), dict(reduction="none"), [0.0, -math.log(0.75)]
    ),
    KnownValue("log_target: e^y (y - x)", (KL_X, KL_Y.log()), dict(reduction="none", log_target=True), KL_L),
    KnownValue(
        "legacy size_average=False still divides by N under batchmean",
        (KL_X, KL_Y),
        dict(size_average=False, reduction="batchmean"),
        KL_SUM / 2,
    ),
]


# Poisson: rates 1, 2, e^-1 against counts 1, 3, 0
P_X, P_Y = _f64([0.0, LN2, -1.0]), _f64([1.0, 3.0, 0.0])


P_L = [1.0, 2.0 - 3.0 * LN2, math.exp(-1.0)]


POISSON_KNOWN = [
    KnownValue("log_input: e^x - y x", (P_X, P_Y), dict(reduction="none"), P_L),
    KnownValue("mean", (P_X, P_Y), {}, sum(P_L) / 3),
    KnownValue(
        "log_input=False: x - y log(x + eps)",
        (_f64([1.0, 2.0, 0.5]), P_Y),
        dict(log_input=False, reduction="none"),
        [1.0 - math.log(1.0 + 1e-8), 2.0 - 3.0 * math.log(2.0 + 1e-8), 0.5],
    ),
    KnownValue(
        "full adds y log y - y + log(2 pi y)/2 only where y > 1",
        (P_X, P_Y),
        dict(full=True, reduction="none"),
        [P_L[0], P_L[1] + _stirling(3.0), P_L[2]],
    ),
    KnownValue(
        "full: y = 1.5 is above the threshold",
        (_f64([0.0]), _f64([1.5])),
        dict(full=True, reduction="sum"),
        1.0 + _stirling(1.5),
    ),
    KnownValue(
        "eps is used when log_input=False: 0 - 2 log(0 + 0.5)",
        (_f64([0.0]), _f64([2.0])),
        dict(log_input=False, eps=0.5, reduction="sum"),
        2.0 * LN2,
    ),
    KnownValue("eps is ignored when log_input=True", (P_X, P_Y), dict(eps=0.5, reduction="sum"), sum(P_L)),
]


DEVICES_ALL_FLOATS = {"cpu": FLOATING, "cuda": FLOATING}


POISSON_NLL_LOSS = LossCase(
    name="poisson_nll_loss",
    part="probabilistic",
    chapter="poisson_nll",
    torch_fn=F.poisson_nll_loss,
    ref_fn=RF.poisson_nll_loss,
    torch_module=torch.nn.PoissonNLLLoss,
    ref_module=RN.PoissonNLLLoss,
    samples=poisson_samples,
    errors=poisson_errors,
    modules=poisson_modules,
    known_values=POISSON_KNOWN,
    hand_gradient=poisson_hand_gradient,
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.poisson_nll(),
    large_sum_check=True,
    mixed_precision=lambda r: (
        (mixed.normal("p-x", mixed.LARGE), mixed.uniform("p-y", mixed.LARGE, high=4.0)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


KL_DIV = LossCase(
    name="kl_div",
    part="probabilistic",
    chapter="kl_div",
    torch_fn=F.kl_div,
    ref_fn=RF.kl_div,
    torch_module=torch.nn.KLDivLoss,
    ref_module=RN.KLDivLoss,
    samples=kl_samples,
    errors=kl_errors,
    modules=kl_modules,
    known_values=KL_KNOWN,
    hand_gradient=kl_hand_gradient,
    dtypes=DEVICES_ALL_FLOATS,
    fuzz=fuzz.kl_div(),
    large_sum_check=True,
    mixed_precision=lambda r: (
        (mixed.normal("k-x", mixed.LARGE), mixed.uniform("k-y", mixed.LARGE)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


# --------------------------------------------------------------------------------------------------------------
# gaussian nll


ALL = (0, 1, 2)  # input, target and var are all differentiable


def _variance(desc: str, *shape: int, dtype: torch.dtype, device: str, low: float = 0.1) -> Tensor:
    """Seeded positive variances in [low, low + e^2) (exp of a normal draw), away from the eps floor."""
    return (randn(desc, *shape, dtype=torch.float64, device="cpu").exp() + low).to(dtype=dtype, device=device)


def _shapes(device: str, dtype: torch.dtype):
    """(desc, input, target, var) for every var shape torch accepts and the broadcasting it implies."""
    t = dict(dtype=dtype, device=device)
    yield "var-same-(3,4)", randn("x34", 3, 4, **t), randn("y34", 3, 4, **t), _variance("v34", 3, 4, **t)
    yield (
        "var-same-(2,3,4,5)",
        randn("x2345", 2, 3, 4, 5, **t),
        randn("y2345", 2, 3, 4, 5, **t),
        _variance("v2345", 2, 3, 4, 5, **t),
    )
    yield "var-one-fewer-dim-(3,4)-(3,)", randn("xa", 3, 4, **t), randn("ya", 3, 4, **t), _variance("va", 3, **t)
    yield (
        "var-one-fewer-dim-(2,3,4)-(2,3)",
        randn("xb", 2, 3, 4, **t),
        randn("yb", 2, 3, 4, **t),
        _variance("vb", 2, 3, **t),
    )
    yield "var-trailing-1-(3,4)-(3,1)", randn("xc", 3, 4, **t), randn("yc", 3, 4, **t), _variance("vc", 3, 1, **t)
    yield "var-leading-1-(3,4)-(1,4)", randn("xd", 3, 4, **t), randn("yd", 3, 4, **t), _variance("vd", 1, 4, **t)
    yield (
        "var-middle-1-(2,3,4,5)-(2,1,4,5)",
        randn("xe", 2, 3, 4, 5, **t),
        randn("ye", 2, 3, 4, 5, **t),
        _variance("ve", 2, 1, 4, 5, **t),
    )
    yield "var-(1,)-input-(5,)", randn("xf", 5, **t), randn("yf", 5, **t), _variance("vf", 1, **t)
    yield "var-0-dim-input-(5,)", randn("xg", 5, **t), randn("yg", 5, **t), _variance("vg", **t).reshape(())
    yield "0-dim", randn("x0", **t).reshape(()), randn("y0", **t).reshape(()), _variance("v0", **t).reshape(())
    yield ("input-(4,1)-var-(4,)", randn("xh", 4, 1, **t), randn("yh", 4, 1, **t), _variance("vh", 4, **t))
    yield ("target-broadcast-(4,1)-(4,3)", randn("xi", 4, 1, **t), randn("yi", 4, 3, **t), _variance("vi", 4, 1, **t))
    yield "target-broadcast-(3,4)-(4,)", randn("xj", 3, 4, **t), randn("yj", 4, **t), _variance("vj", 3, 4, **t)
    yield ("target-broadcast-0-dim", randn("xk", 3, 4, **t), randn("yk", **t).reshape(()), _variance("vk", 3, 1, **t))
    yield (
        "target-larger-(2,3,4)-input-(3,4)",
        randn("xl", 3, 4, **t),
        randn("yl", 2, 3, 4, **t),
        _variance("vl", 3, **t),
    )
    large = 30.0 if dtype in (torch.float16, torch.bfloat16) else 1e3  # r^2 stays finite in half precision
    yield "large-residuals", randn("xm", 4, 5, scale=large, **t), randn("ym", 4, 5, **t), _variance("vm", 4, 5, **t)
    yield "small-variances", randn("xn", 4, 5, **t), randn("yn", 4, 5, **t), _variance("vn", 4, 5, low=1e-3, **t)
    yield "empty=(0,)", torch.zeros(0, **t), torch.zeros(0, **t), torch.zeros(0, **t)
    yield "empty=(0,3)-var-(0,)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t), torch.zeros(0, **t)
    yield "empty=(0,3)-var-(1,3)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t), _variance("vo", 1, 3, **t)
    # torch's rule sums var's sizes where they differ from input's: 0 + 1 == 1 passes, and the loss is empty
    yield "empty-loss-input-(1,3)-var-(0,1)", randn("xp", 1, 3, **t), randn("yp", 1, 3, **t), torch.zeros(0, 1, **t)


def _floor_samples(device: str, dtype: torch.dtype, reduction: str) -> list[SampleInput]:
    """Variances at and below eps: the forward uses max(var, eps), the gradient still flows (torch's convention,
    not the derivative of the clamped formula), so these stay out of gradcheck."""
    t = dict(dtype=dtype, device=device)
    x, y = randn("xz", 6, **t), randn("yz", 6, **t)
    below = torch.tensor([0.0, 1e-9, 1e-6, 5e-7, 0.3, 2.0], dtype=torch.float64).to(**t)
    kwargs = dict(reduction=reduction)
    out = [
        SampleInput(f"var-below-eps-{reduction}", (x, y, below), kwargs, wrt=ALL, kink=True),
        SampleInput(f"var-below-eps-eps=0.1-{reduction}", (x, y, below), dict(eps=0.1, **kwargs), wrt=ALL, kink=True),
        SampleInput(f"var-below-eps-full-{reduction}", (x, y, below), dict(full=True, **kwargs), wrt=ALL, kink=True),
    ]
    near = torch.tensor([0.0, 1e-4, 0.5, 1.0, 0.0, 3.0], dtype=torch.float64).to(**t)
    out.append(SampleInput(f"residual-0-var-0-{reduction}", (y, y.clone(), near), kwargs, wrt=ALL, kink=True))
    inf, nan = math.inf, math.nan
    xs = torch.tensor([inf, 1.0, nan, 2.0, 0.5, -1.0], dtype=dtype, device=device)
    vs = torch.tensor([1.0, inf, 1.0, nan, 0.0, 2.0], dtype=dtype, device=device)
    out.append(SampleInput(f"inf-nan-{reduction}", (xs, y, vs), kwargs, wrt=ALL, kink=True))
    out.append(SampleInput(f"eps=0-var-0-{reduction}", (x, y, near), dict(eps=0.0, **kwargs), wrt=ALL, kink=True))
    return out


def gaussian_nll_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    for desc, x, y, v in _shapes(device, dtype):
        for full in (False, True):
            for reduction in REDUCTIONS:
                kwargs = dict(reduction=reduction, full=True) if full else dict(reduction=reduction)
                out.append(SampleInput(f"{desc}-full={full}-{reduction}", (x, y, v), kwargs, wrt=ALL))
    for reduction in REDUCTIONS:
        out += _floor_samples(device, dtype, reduction)
        x, y = randn("xq", 3, 4, **t), randn("yq", 3, 4, **t)
        out.append(SampleInput(f"var-float-{reduction}", (x, y, 0.7), dict(reduction=reduction)))
        out.append(SampleInput(f"var-float-0-{reduction}", (x, y, 0.0), dict(reduction=reduction), kink=True))
        out.append(SampleInput(f"var-float-full-{reduction}", (x, y, 2.5), dict(reduction=reduction, full=True)))
        out.append(
            SampleInput(
                f"target-float-{reduction}",
                (x, 0.25, _variance("vq", 3, 4, **t)),
                dict(reduction=reduction),
                wrt=(0, 2),
            )
        )
    x, y, v = randn("xr", 3, 4, **t), randn("yr", 3, 4, **t), _variance("vr", 3, 4, **t)
    for eps in (0.5, 1e-3, 0.0, 1):
        out.append(SampleInput(f"eps={eps}", (x, y, v), dict(eps=eps), wrt=ALL, kink=eps in (0.5, 1)))  # floor active
    out.append(SampleInput("positional-full-eps-reduction", (x, y, v, True, 1e-3, "sum"), wrt=ALL))
    out.append(SampleInput("full-truthy-string", (x, y, v), dict(full="yes"), wrt=ALL))
    out.append(SampleInput("wrt-input-only", (x, y, v), {}, wrt=(0,)))
    out.append(SampleInput("wrt-var-only", (x, y, v), {}, wrt=(2,)))
    xi, yi = (
        randn("xs", 3, 4, scale=3.0, **t).round().to(torch.int64),
        randn("ys", 3, 4, scale=3.0, **t).round().to(torch.int64),
    )
    out.append(SampleInput("input-target-int64", (xi, yi, v), {}, wrt=(2,)))
    out.append(SampleInput("input-target-int64-var-float", (xi, yi, 0.7), {}))
    out.append(SampleInput("var-int64-eps-int", (x, y, xi.abs() + 1), dict(eps=0)))
    out.append(SampleInput("all-int64-eps-int", (xi, yi, xi.abs() + 1), dict(eps=1)))
    out.append(SampleInput("target-int64", (x, yi, v), {}, wrt=(0, 2)))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        out.append(SampleInput(f"target-{other}", (x, y.to(other), v), {}, wrt=ALL))
        out.append(SampleInput(f"var-{other}", (x, y, v.to(other)), dict(reduction="none"), wrt=ALL))
        out.append(SampleInput("var-float16", (x, y, v.half()), {}, wrt=ALL))
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        xc = torch.complex(x, randn("xci", 3, 4, **t)).to(complex_dtype)
        for reduction in REDUCTIONS:
            # torch returns a complex loss here; the generic tests backpropagate out.sum(), which needs a real
            # output, so gradients of complex inputs are compared in the chapter's check instead
            out.append(
                SampleInput(
                    f"complex-input-{reduction}",
                    (xc, y, v),
                    dict(reduction=reduction),
                    wrt=ALL,
                    forward_only="the loss is complex: no implicit backward from out.sum()",
                )
            )
    return out


def gaussian_nll_errors() -> list[ErrorInput]:
    x, y, v = torch.randn(3, 4), torch.randn(3, 4), torch.rand(3, 4) + 0.1
    x4, y4 = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    size = "var is of incorrect size"
    out = [
        ErrorInput(
            "reduction='foo'",
            (x, y, v),
            dict(reduction="foo"),
            ValueError,
            "foo is not valid",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='elementwise_mean'",
            (x, y, v),
            dict(reduction="elementwise_mean"),
            ValueError,
            "elementwise_mean is not valid",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction=None",
            (x, y, v),
            dict(reduction=None),
            TypeError,
            r"unsupported operand type\(s\) for \+: 'NoneType' and 'str'",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "var-negative-entry",
            (x, y, v - 0.5),
            {},
            ValueError,
            "var has negative entry/entries",
            "var",
            category="value",
        ),
        ErrorInput(
            "var-negative-float",
            (x, y, -1.0),
            {},
            ValueError,
            "var has negative entry/entries",
            "var",
            category="value",
        ),
        ErrorInput(
            "var-negative-before-size",
            (x, y, -torch.rand(5)),
            {},
            ValueError,
            "var has negative entry/entries",
            "var",
            category="value",
        ),
        ErrorInput(
            "var-python-int",
            (x, y, 1),
            {},
            TypeError,
            r"any\(\) received an invalid combination of arguments",
            "var",
            category="dtype",
        ),
        ErrorInput("var-None", (x, y, None), {}, TypeError, "'<' not supported", "var", category="dtype"),
        ErrorInput(
            "var-complex",
            (x, y, v.to(torch.complex64)),
            {},
            NotImplementedError,
            "\"lt_cpu\" not implemented for 'ComplexFloat'",
            "var",
            category="dtype",
        ),
        ErrorInput(
            "var-float-complex-input",
            (x.to(torch.complex64), y, 0.5),
            {},
            NotImplementedError,
            "clamp is not supported for complex types",
            "var",
            category="dtype",
        ),
        ErrorInput(
            "var-int64-eps-float",
            (x, y, torch.arange(12).reshape(3, 4)),
            {},
            RuntimeError,
            "result type Float can't be cast to the desired output type",
            "var",
            category="dtype",
        ),
        ErrorInput(
            "var-bool-eps-int",
            (x, y, v > 0.5),
            dict(eps=0),
            RuntimeError,
            "result type Long can't be cast to the desired output type",
            "var",
            category="dtype",
        ),
        ErrorInput(
            "eps=None",
            (x, y, v),
            dict(eps=None),
            RuntimeError,
            "At least one of 'min' or 'max' must not be None",
            "eps",
            category="dtype",
        ),
        ErrorInput(
            "eps-str",
            (x, y, v),
            dict(eps="1e-6"),
            TypeError,
            r"clamp_\(\) received an invalid combination of arguments",
            "eps",
            category="dtype",
        ),
        ErrorInput(
            "size-before-reduction",
            (x, y, torch.rand(5)),
            dict(reduction="foo"),
            ValueError,
            size,
            "var",
            category="shape",
        ),
        ErrorInput(
            "reduction-before-target",
            (x, torch.randn(5), v),
            dict(reduction="foo"),
            ValueError,
            "foo is not valid",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "input-list",
            ([1.0, 2.0], torch.randn(2), torch.rand(2)),
            {},
            AttributeError,
            "'list' object has no attribute 'size'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-list-var-float",
            ([1.0, 2.0], torch.randn(2), 0.5),
            {},
            TypeError,
            "argument 'input' .*must be (a )?Tensor",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (torch.randn(2), [1.0, 2.0], torch.rand(2)),
            {},
            TypeError,
            r"unsupported operand type\(s\) for -: 'Tensor' and 'list'",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-not-broadcastable",
            (x, torch.randn(5), v),
            {},
            RuntimeError,
            r"The size of tensor a \(4\) must match the size of tensor b \(5\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "var-(0,1)-does-not-broadcast",
            (x, y, torch.zeros(0, 1)),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(0\)",
            "var",
            category="shape",
        ),
        ErrorInput(
            "bool-input-target",
            (x > 0, y > 0, v),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with two bool tensors is not supported",
            "bool",
            category="dtype",
        ),
        ErrorInput(
            "bool-target",
            (x, y > 0, v),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with a bool tensor is not supported",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "python-bool-target",
            (x, True, v),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with a bool tensor is not supported",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "var-(3,4)-input-(3,1)-target-(3,4)",
            (torch.randn(3, 1), y, v),
            {},
            ValueError,
            size,
            "var",
            category="shape",
        ),
        ErrorInput("var-0-dim-input-2-D", (x, y, torch.tensor(0.5)), {}, ValueError, size, "var", category="shape"),
        ErrorInput(
            "var-(1,)-input-0-dim", (x[0, 0], y[0, 0], torch.rand(1)), {}, ValueError, size, "var", category="shape"
        ),
        ErrorInput(
            "var-(4,1)-input-(4,)",
            (torch.randn(4), torch.randn(4), torch.rand(4, 1)),
            {},
            ValueError,
            size,
            "var",
            category="shape",
        ),
        ErrorInput("var-last-dim-only-(4,)", (x, y, torch.rand(4)), {}, ValueError, size, "var", category="shape"),
        ErrorInput("var-(3,2)-one-dim-not-1", (x, y, torch.rand(3, 2)), {}, ValueError, size, "var", category="shape"),
        ErrorInput("var-(1,1)-two-dims", (x, y, torch.rand(1, 1)), {}, ValueError, size, "var", category="shape"),
    ]
    for shape in ((4, 3, 1, 1), (1, 1, 1, 1), (3, 2, 2), (2,)):
        out.append(
            ErrorInput(
                f"var-{shape}-input-(4,3,2,2)".replace(" ", ""),
                (x4, y4, torch.rand(shape)),
                {},
                ValueError,
                size,
                "var",
                category="shape",
            )
        )
    return out


def gaussian_nll_modules() -> list[ModuleInput]:
    x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    v = torch.rand(3, 4, dtype=torch.float64) + 0.1
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y, v)) for r in REDUCTIONS]
    out += [
        ModuleInput("default", {}, (x, y, v)),
        ModuleInput("full=True", dict(full=True), (x, y, v)),
        ModuleInput("eps=0.5", dict(eps=0.5), (x, y, v)),
        ModuleInput("full-eps-sum", dict(full=True, eps=1e-3, reduction="sum"), (x, y, v)),
        ModuleInput("var-one-fewer-dim", {}, (x, y, v[:, 0])),
        ModuleInput("var-below-eps", dict(eps=0.2), (x, y, v - 0.05)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y, v)),
        ModuleInput("reduction='elementwise_mean' constructs", dict(reduction="elementwise_mean"), (x, y, v)),
    ]
    return out


def gaussian_nll_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``gaussian_nll_loss_grad(grad_output, x - y, var, eps, reduction)`` against torch's backward: its
    residual gradient is the input's (summed over broadcast dimensions), minus it the target's, and its
    variance gradient the var's (reshaped back where torch unsqueezed var)."""
    arguments = bound_arguments(RF.gaussian_nll_loss, sample)
    x, y, var = arguments["input"], arguments["target"], arguments["var"]
    leaves = {
        name: t.detach().clone().requires_grad_(True)
        for name, t in (("input", x), ("target", y), ("var", var))
        if isinstance(t, Tensor) and t.is_floating_point()
    }
    expected = torch.autograd.grad(F.gaussian_nll_loss(**{**arguments, **leaves}), list(leaves.values()), grad_output)
    # the variance tensor the loss works with: a float fills input's shape; var of input's shape without its
    # last dimension gets a trailing 1
    if isinstance(var, float):
        var_used = var * torch.ones_like(x)
    elif var.shape != x.shape and x.shape[:-1] == var.shape:
        var_used = var.unsqueeze(-1)
    else:
        var_used = var
    grad_residual, grad_var = RF.gaussian_nll_loss_grad(
        grad_output, x - y, var_used, arguments["eps"], arguments["reduction"]
    )
    grads = {"input": grad_residual.sum_to_size(x.shape).to(x.dtype)}
    if isinstance(y, Tensor):
        grads["target"] = -grad_residual.sum_to_size(y.shape).to(y.dtype)
    if isinstance(var, Tensor):
        grads["var"] = grad_var.reshape(var.shape).to(var.dtype)
    return [grads[name] for name in leaves], list(expected)


def _triple(values_r: list[float], values_var: list[float]) -> tuple[Tensor, Tensor, Tensor]:
    """Inputs with residuals ``values_r`` against a zero target, and the variances ``values_var`` (float64)."""
    r = torch.tensor(values_r, dtype=torch.float64)
    return r, torch.zeros_like(r), torch.tensor(values_var, dtype=torch.float64)


R, V = [1.0, 2.0, 0.0, 2.0], [1.0, 4.0, 0.25, 2.0]


L = [0.5 * (math.log(v) + r * r / v) for r, v in zip(R, V, strict=True)]  # 0.5 (log v + r^2 / v), by hand below


HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


GAUSSIAN_NLL_LOSS = LossCase(
    name="gaussian_nll_loss",
    part="probabilistic",
    chapter="gaussian_nll",
    torch_fn=F.gaussian_nll_loss,
    ref_fn=RF.gaussian_nll_loss,
    torch_module=torch.nn.GaussianNLLLoss,
    ref_module=RN.GaussianNLLLoss,
    samples=gaussian_nll_samples,
    errors=gaussian_nll_errors,
    modules=gaussian_nll_modules,
    known_values=[
        KnownValue(
            "none: (log v + r^2/v)/2",
            _triple(R, V),
            dict(reduction="none"),
            [0.5, 0.5 * (math.log(4.0) + 1.0), 0.5 * math.log(0.25), 0.5 * (math.log(2.0) + 2.0)],
        ),
        KnownValue(
            "full adds log(2 pi)/2 to each element",
            _triple(R, V),
            dict(reduction="none", full=True),
            [value + HALF_LOG_2PI for value in L],
        ),
        KnownValue("mean over every element", _triple(R, V), {}, sum(L) / 4),
        KnownValue(
            "var below eps uses eps: (log 1e-6 + 1e-6/1e-6)/2",
            _triple([1e-3], [0.0]),
            dict(reduction="sum"),
            0.5 * (math.log(1e-6) + 1.0),
        ),
        KnownValue(
            "eps is a floor, not an offset",
            _triple([1.0], [0.5]),
            dict(reduction="sum", eps=0.1),
            0.5 * (math.log(0.5) + 2.0),
        ),
        KnownValue(
            "var of one fewer dimension is shared along the last",
            (
                torch.tensor([[1.0, 3.0], [0.0, 2.0]], dtype=torch.float64),
                torch.zeros(2, 2, dtype=torch.float64),
                torch.tensor([1.0, 4.0], dtype=torch.float64),
            ),
            dict(reduction="sum"),
            0.5 * (0 + 1.0) + 0.5 * (0 + 9.0) + 0.5 * math.log(4.0) + 0.5 * (math.log(4.0) + 1.0),
        ),
    ],
    hand_gradient=gaussian_nll_hand_gradient,
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    error_categories=frozenset({"shape", "dtype", "reduction", "device", "value"}),
    fuzz=fuzz.gaussian_nll(),
    large_sum_check=True,
    mixed_precision=lambda r: (
        (
            mixed.normal("g-x", mixed.LARGE),
            mixed.normal("g-y", mixed.LARGE),
            mixed.uniform("g-v", mixed.LARGE, low=0.5, high=2.0),
        ),
        dict(reduction=r),
        (0, 1, 2),
    ),
    known_differences={
        **NO_JVP_YET,
        "mixed-precision:no-gradient:2": (
            "torch's Python composite takes log(var) in var's dtype and adds its gradient 1/var to the float32 "
            "gradient of r^2/var rounded to half precision, so with a half-precision var and a float32 input, where "
            "the two cancel, torch's var gradient is off by a few half-precision ulps of the addends (0.0117 against "
            "the 0.01 bfloat16 tolerance on one element in 10^5); refimpl computes the sum in float32 and rounds once"
        ),
    },
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [POISSON_NLL_LOSS, GAUSSIAN_NLL_LOSS, KL_DIV]
