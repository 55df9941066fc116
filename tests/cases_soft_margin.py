"""Registry entries of the two soft margin losses: soft_margin_loss and multilabel_soft_margin_loss
(book/classification/soft_margin.ipynb, book/classification/multilabel_soft_margin.ipynb).

soft_margin_loss is the one loss where refimpl deliberately differs from torch. torch evaluates
``log1p(exp(z))`` with z = -y x, which is infinite (and its gradient NaN) once exp(z) overflows, beyond
``OVERFLOW_AT[dtype]``; refimpl evaluates the stable softplus and stays finite and exact there. So the parity
samples (``SOFT_MARGIN_CASES``' generator) keep every margin where torch is finite, up to just below that
threshold, and the margins beyond it live in ``soft_margin_overflow_samples``: tests/test_stability.py checks
refimpl against an exact (high precision) value on those, and checks that torch overflows there.
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
    effective_reduction,
    make_generator,
    randn,
)
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN

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




# ----------------------------------------------------------------------------------------------------
# soft_margin_loss


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
        ("margins-1e4-to-below-overflow", *_margin_pair(
            [-1e4, -30.0, -1.0, 0.0, 1.0, 5.0, LARGEST_FINITE_MARGIN[dtype]], device, dtype)),
        ("labels-0/1-instead-of-±1", randn("sx01", 3, 4, scale=2.0, **t), _multi_hot("sy01", 3, 4, **t)),
        ("soft-labels-in-(-1,1)", randn("sxs", 3, 4, **t), (2 * torch.rand(3, 4, generator=make_generator("sys"),
                                                                             dtype=torch.float64) - 1).to(**t)),
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
        out.append(SampleInput(f"inf-nan-{reduction}", (x_nonfinite, y_nonfinite), dict(reduction=reduction),
                               wrt=(0,), kink=True))
    x, y = randn("sxe", 3, 4, **t), _labels("sye", 3, 4, **t)
    out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
    out.append(SampleInput("positional-reduction", (x, y, None, None, "sum"), wrt=(0,)))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", (x, y),
                                   dict(size_average=size_average, reduce=reduce, reduction="sum"), wrt=(0,)))
    out.append(SampleInput("target-int64", (x, y.long()), {}, wrt=(0,)))
    out.append(SampleInput("target-bool", (x, y > 0), {}, wrt=(0,),
                           forward_only="torch's backward negates the target, which fails for bool"))
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"target-{str(other)[6:]}", (x, y.to(other)), {}, wrt=(0,)))  # loss in input's dtype
    if dtype in (torch.float32, torch.float64):
        complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        xc = torch.complex(x, randn("sxi", 3, 4, **t)).to(complex_dtype)
        yc = torch.complex(y, randn("syi", 3, 4, **t)).to(complex_dtype)
        for reduction in REDUCTIONS:  # complex scores: torch computes the value but cannot differentiate it
            out.append(SampleInput(f"complex-input-{reduction}", (xc, y), dict(reduction=reduction), wrt=()))
            out.append(SampleInput(f"complex-input-and-target-{reduction}", (xc, yc), dict(reduction=reduction),
                                   wrt=()))
    return out


def soft_margin_overflow_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Margins beyond ``OVERFLOW_AT[dtype]``, next to ordinary ones: torch's value is inf and its gradient NaN;
    refimpl's must equal the exact value (tests/test_stability.py), so these are not parity samples."""
    beyond = OVERFLOW_AT[dtype]
    margins = [math.ceil(beyond) + 1.0, 2 * math.ceil(beyond), 1e4, -3.0, 0.5, 2.0]
    out = []
    for reduction in REDUCTIONS:
        out.append(SampleInput(f"overflow-margins-beyond-{beyond:.2f}-exact-not-torch-{reduction}",
                               _margin_pair(margins, device, dtype), dict(reduction=reduction), wrt=(0,)))
        # z = +inf: the loss is inf in both, the exact gradient -y sigma(z) is finite (-y), torch's is NaN
        x = torch.tensor([-math.inf, math.inf, 1.0, 2.0], dtype=dtype, device=device)
        y = torch.tensor([1.0, -1.0, -math.inf, 1.0], dtype=dtype, device=device)
        out.append(SampleInput(f"infinite-margin-exact-not-torch-{reduction}", (x, y), dict(reduction=reduction),
                               wrt=(0,)))
    return out


def soft_margin_errors() -> list[ErrorInput]:
    fn = "soft_margin_loss"
    x, y = torch.randn(3, 4), torch.ones(3, 4)
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction='batchmean'", (x, y), dict(reduction="batchmean"), ValueError,
                   "batchmean is not a valid value for reduction", "reduction"),
        ErrorInput("reduction=None", (x, y), dict(reduction=None), ValueError,
                   "None is not a valid value for reduction", "reduction"),
        ErrorInput("bad-reduction-before-bad-shapes", (torch.randn(3), torch.ones(4)), dict(reduction="foo"),
                   ValueError, "foo is not a valid value for reduction", "reduction"),
        ErrorInput("input-list", ([1.0, -1.0], torch.ones(2)), {}, TypeError,
                   r"argument 'input' \(position 1\) must be Tensor, not list", "input"),
        ErrorInput("target-list", (torch.randn(2), [1.0, -1.0]), {}, TypeError,
                   r"argument 'target' \(position 2\) must be Tensor, not list", "target"),
        ErrorInput("target-requires-grad", (x, y.clone().requires_grad_(True)), {}, RuntimeError,
                   f"The function '{fn}' is not differentiable with respect to argument 'target'", "target"),
        ErrorInput("not-broadcastable", (torch.randn(3), torch.ones(4)), {}, RuntimeError,
                   r"The size of tensor a \(3\) must match the size of tensor b \(4\)", "target"),
        ErrorInput("target-enlarges-input-(3,1)-(3,4)", (torch.randn(3, 1), torch.ones(3, 4)), {}, RuntimeError,
                   r"output with shape \[3, 1\] doesn't match the broadcast shape \[3, 4\]", "target"),
        ErrorInput("target-enlarges-0-dim-input", (torch.tensor(1.0), torch.ones(3)), {}, RuntimeError,
                   r"output with shape \[\] doesn't match the broadcast shape \[3\]", "target"),
        ErrorInput("input-bool", (torch.tensor([True, False]), torch.ones(2)), {}, RuntimeError,
                   "Negation, the `-` operator, on a bool tensor is not supported", "input"),
        ErrorInput("input-int64-target-float", (torch.tensor([1, 2]), torch.ones(2)), {}, RuntimeError,
                   "result type Float can't be cast to the desired output type Long", "input"),
        ErrorInput("input-int64-target-float64", (torch.tensor([1, 2]), torch.ones(2, dtype=torch.float64)), {},
                   RuntimeError, "result type Double can't be cast to the desired output type Long", "input"),
        ErrorInput("input-int64-target-int64", (torch.tensor([1, 2]), torch.tensor([1, -1])), {}, RuntimeError,
                   "result type Float can't be cast to the desired output type Long", "input"),
        ErrorInput("target-complex-input-float", (torch.randn(2), torch.ones(2, dtype=torch.complex64)), {},
                   RuntimeError, "result type ComplexFloat can't be cast to the desired output type Float", "target"),
        ErrorInput("complex-input-requires-grad",
                   (torch.randn(2, dtype=torch.complex64).requires_grad_(True), torch.ones(2)), {}, RuntimeError,
                   "does not support automatic differentiation for outputs with complex dtype", "input"),
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


# ----------------------------------------------------------------------------------------------------
# multilabel_soft_margin_loss


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
        ("soft-targets", randn("mxs", 3, 5, **t),
         torch.rand(3, 5, generator=make_generator("mys"), dtype=torch.float64).to(**t), w5),
        ("targets-2-and--1", randn("mxo", 2, 5, **t), torch.tensor([2.0, -1.0, 0.0, 1.0, 2.0], **t).expand(2, 5),
         w5),
        # logits of magnitude 1e4 with each label: the loss is 0 or 1e4 / C, never an infinity
        ("extreme-logits-1e4", torch.tensor([[1e4, -1e4, 1e4, -1e4, 0.0]], **t),
         torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0]], **t), w5),
        # silent broadcasting: a target row for every sample, a 0-dim target
        ("target-(5,)-over-(3,5)", randn("mxb", 3, 5, **t), _multi_hot("myb", 5, **t), w5),
        ("target-0-dim", randn("mxd", 3, 5, **t), torch.tensor(1.0, **t), w5),
    ]
    out = []
    for desc, x, y, w in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction)))
            out.append(SampleInput(f"{desc}-weight-{reduction}", (x, y), dict(weight=w, reduction=reduction),
                                   wrt=(0, 1, "weight")))
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
        ("weight-(2,3,5)-enlarges-input-(3,5)", (randn("mxq3", 3, 5, **t), _multi_hot("myq3", 3, 5, **t)),
         dict(weight=torch.rand(2, 3, 5, generator=make_generator("mwq3"), dtype=torch.float64).to(**t))),
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
        out.append(SampleInput(f"inf-nan-{reduction}", (x_nonfinite, y_nonfinite), dict(reduction=reduction),
                               kink=True))
    out.append(SampleInput("positional-reduction", (x, y, None, None, None, "sum")))
    out.append(SampleInput("positional-weight", (x, y, weights["weight-(3,5)"]), wrt=(0, 1, 2)))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", (x, y),
                                   dict(size_average=size_average, reduce=reduce, reduction="sum")))
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
            out.append(SampleInput(f"complex-target-{reduction}", (x, yc), dict(weight=w5, reduction=reduction),
                                   wrt=(0, 1, "weight")))
    return out


def multilabel_soft_margin_errors() -> list[ErrorInput]:
    x, y = torch.randn(3, 4), torch.ones(3, 4)
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError, "foo is not valid", "reduction"),
        ErrorInput("reduction='elementwise_mean'", (x, y), dict(reduction="elementwise_mean"), ValueError,
                   "elementwise_mean is not valid", "reduction"),
        ErrorInput("reduction='batchmean'", (x, y), dict(reduction="batchmean"), ValueError,
                   "batchmean is not valid", "reduction"),
        ErrorInput("reduction=None", (x, y), dict(reduction=None), TypeError,
                   r"unsupported operand type\(s\) for \+: 'NoneType' and 'str'", "reduction"),
        ErrorInput("0-dim-input", (torch.tensor(0.5), torch.tensor(1.0)), {}, IndexError,
                   "Dimension specified as -1 but tensor has no dimensions", "input"),
        ErrorInput("0-dim-input-and-bad-reduction", (torch.tensor(0.5), torch.tensor(1.0)), dict(reduction="bad"),
                   IndexError, "Dimension specified as -1 but tensor has no dimensions", "input"),
        ErrorInput("target-mismatch", (x, torch.ones(3, 3)), {}, RuntimeError,
                   r"The size of tensor a \(3\) must match the size of tensor b \(4\)", "target"),
        ErrorInput("target-mismatch-and-bad-reduction", (x, torch.ones(3, 3)), dict(reduction="bad"),
                   RuntimeError, r"The size of tensor a \(3\) must match the size of tensor b \(4\)", "target"),
        ErrorInput("weight-mismatch", (x, y), dict(weight=torch.ones(5)), RuntimeError,
                   r"The size of tensor a \(4\) must match the size of tensor b \(5\)", "weight"),
        ErrorInput("input-int64", (torch.tensor([[1, 2]]), torch.tensor([[1.0, 0.0]])), {}, NotImplementedError,
                   "\"log_sigmoid_cpu\" not implemented for 'Long'", "input"),
        ErrorInput("input-bool", (torch.tensor([[True]]), torch.tensor([[1.0]])), {}, NotImplementedError,
                   "\"log_sigmoid_cpu\" not implemented for 'Bool'", "input"),
        ErrorInput("input-complex", (torch.ones(1, 2, dtype=torch.complex64), torch.ones(1, 2)), {},
                   NotImplementedError, "\"log_sigmoid_cpu\" not implemented for 'ComplexFloat'", "input"),
        ErrorInput("target-bool", (x, y.bool()), {}, RuntimeError,
                   "Subtraction, the `-` operator, with a bool tensor is not supported", "target"),
        ErrorInput("input-list", ([[1.0, -1.0]], torch.ones(1, 2)), {}, TypeError,
                   r"argument 'input' \(position 1\) must be Tensor, not list", "input"),
        # torch's own message comes from Python repeating the list (list * tensor); refimpl's says what is wrong
        ErrorInput("target-list", (x, [1.0, 0.0, 1.0, 0.0]), {}, TypeError,
                   "only integer tensors of a single element can be converted to an index|must be Tensor, not list",
                   "target"),
        ErrorInput("weight-list", (x, y), dict(weight=[1.0] * 4), TypeError,
                   "only integer tensors of a single element can be converted to an index|must be Tensor, not list",
                   "weight"),
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
    leaves = {name: t.detach().clone().requires_grad_(True)
              for name, t in (("input", x), ("target", y), ("weight", weight))
              if name in wanted and isinstance(t, Tensor) and t.is_floating_point()}
    torch_call = {"input": x, "target": y, "weight": weight, **leaves}
    value = F.multilabel_soft_margin_loss(**torch_call, reduction=reduction)
    expected = torch.autograd.grad(value, list(leaves.values()), grad_output)
    hand = dict(zip(("input", "target", "weight"), RF.multilabel_soft_margin_loss_grad(
        grad_output, x, y, weight, reduction), strict=True))
    return [hand[name] for name in leaves], list(expected)


# by hand: per class l = softplus(-x) for y = 1 and softplus(x) for y = 0, i.e. log(1 + exp(-+x))
MLSM_X, MLSM_Y = [[1.0, -2.0, 0.0]], [[1.0, 0.0, 1.0]]
MLSM_L = [math.log1p(math.exp(-1.0)), math.log1p(math.exp(-2.0)), math.log(2.0)]

SOFT_MARGIN_CASES = [
    LossCase(
        name="soft_margin_loss", part="classification", chapter="soft_margin",
        torch_fn=F.soft_margin_loss, ref_fn=RF.soft_margin_loss,
        torch_module=torch.nn.SoftMarginLoss, ref_module=RN.SoftMarginLoss,
        samples=soft_margin_samples,
        errors=soft_margin_errors,
        modules=soft_margin_modules,
        known_values=[
            KnownValue("none: log(1 + exp(-y x))", (_f64(SM_X), _f64(SM_Y)), dict(reduction="none"),
                       _soft_margin_known(SM_X, SM_Y)),
            KnownValue("mean: sum / n", (_f64(SM_X), _f64(SM_Y)), {}, sum(_soft_margin_known(SM_X, SM_Y)) / 4),
            KnownValue("sum", (_f64(SM_X), _f64(SM_Y)), dict(reduction="sum"), sum(_soft_margin_known(SM_X, SM_Y))),
            KnownValue("label 0 gives log 2 whatever x", (_f64([3.0, -3.0]), _f64([0.0, 0.0])),
                       dict(reduction="none"), [math.log(2.0), math.log(2.0)]),
            KnownValue("large correct margin: exp(-30) to rounding", (_f64([30.0]), _f64([1.0])),
                       dict(reduction="none"), [math.exp(-30.0)]),
        ],
        dtypes={"cpu": FLOATING, "cuda": FLOATING},
        hand_gradient=soft_margin_hand_gradient,
    ),
    LossCase(
        name="multilabel_soft_margin_loss", part="classification", chapter="multilabel_soft_margin",
        torch_fn=F.multilabel_soft_margin_loss, ref_fn=RF.multilabel_soft_margin_loss,
        torch_module=torch.nn.MultiLabelSoftMarginLoss, ref_module=RN.MultiLabelSoftMarginLoss,
        samples=multilabel_soft_margin_samples,
        errors=multilabel_soft_margin_errors,
        modules=multilabel_soft_margin_modules,
        known_values=[
            KnownValue("none: mean over the C classes", (_f64(MLSM_X), _f64(MLSM_Y)), dict(reduction="none"),
                       [sum(MLSM_L) / 3]),
            KnownValue("weight: sum_c w_c l_c / C, not / sum w", (_f64(MLSM_X), _f64(MLSM_Y)),
                       dict(weight=_f64([1.0, 2.0, 0.5]), reduction="none"),
                       [(MLSM_L[0] + 2 * MLSM_L[1] + 0.5 * MLSM_L[2]) / 3]),
            KnownValue("1-D input: one sample, a 0-dim result", (_f64(MLSM_X[0]), _f64(MLSM_Y[0])),
                       dict(reduction="none"), sum(MLSM_L) / 3),
            KnownValue("mean over rows", (_f64([MLSM_X[0], [0.0, 0.0, 0.0]]), _f64([MLSM_Y[0], [1.0, 0.0, 1.0]])),
                       {}, (sum(MLSM_L) / 3 + math.log(2.0)) / 2),
            KnownValue("logit -1e4 with label 1: 1e4 / C, finite", (_f64([[-1e4, 0.0]]), _f64([[1.0, 0.0]])),
                       dict(reduction="sum"), (1e4 + math.log(2.0)) / 2),
        ],
        dtypes={"cpu": FLOATING, "cuda": FLOATING},
        hand_gradient=multilabel_soft_margin_hand_gradient,
    ),
]
