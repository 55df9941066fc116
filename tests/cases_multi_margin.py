"""Registry entries of the two multi-class margin losses: multi_margin_loss and multilabel_margin_loss
(book/margin/multi_margin.ipynb, book/margin/multilabel_margin.ipynb).

Both have float32/float64 kernels only on the CPU (torch raises NotImplementedError for float16/bfloat16 there:
an error case), no double backward, and the strict hinge ``z > 0`` (gradient 0 exactly at the margin). On an
empty batch torch's 'mean' and 'sum' return uninitialised memory, so the parity samples hold the empty batch
with 'none' only; tests/test_empty_multi_margin.py checks refimpl's defined values (NaN for 'mean', 0 for
'sum') instead.
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

CPU_DTYPES = (torch.float64, torch.float32)


def _classes(desc: str, n: int, c: int, device: str) -> Tensor:
    return torch.randint(0, c, (n,), generator=make_generator(desc)).to(device)




def _legacy(out: list, x: Tensor, y: Tensor, prefix: str = "") -> None:
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(SampleInput(f"{prefix}legacy-size_average={size_average}-reduce={reduce}", (x, y),
                                   dict(size_average=size_average, reduce=reduce, reduction="sum"), wrt=(0,)))


# ----------------------------------------------------------------------------------------------------
# multi_margin_loss


def _kink_scores(device: str, dtype: torch.dtype, margin: float) -> tuple[Tensor, Tensor]:
    """Rows whose wrong-class scores sit exactly at the margin (z = 0), inside it, tied with the true class and
    far below it; all values exact in every dtype."""
    x = torch.tensor([[2.0, 2.0 - margin, 0.5, 2.0],  # z = 0 for class 1, tie (z = margin) for class 3
                      [-1.0, 0.0, -1.0 - margin, 3.0],  # z = 0 for class 2 (target 0)
                      [0.0, 1.0, 1.0 + margin, -4.0]], dtype=torch.float64)  # z = 0 for class 1 (target 2)
    y = torch.tensor([0, 0, 2])
    return x.to(dtype=dtype, device=device), y.to(device)


def multi_margin_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Every reduction x p x margin x weight on a batch, the other shapes torch accepts, kinks, ties, extreme
    scores, non-finite values, legacy arguments. Only the input is differentiable."""
    t = dict(dtype=dtype, device=device)
    out = []
    x = randn("mmx", 4, 5, **t)
    y = torch.tensor([0, 3, 4, 1], device=device)
    w = (0.25 + torch.rand(5, generator=make_generator("mmw"), dtype=torch.float64)).to(**t)
    for p in (1, 2):
        for margin in (1.0, 0.3):
            for weighted in (False, True):
                for reduction in REDUCTIONS:
                    kwargs = dict(p=p, margin=margin, reduction=reduction)
                    if weighted:
                        kwargs["weight"] = w
                    out.append(SampleInput(f"(4,5)-p={p}-margin={margin}-weight={weighted}-{reduction}", (x, y),
                                           kwargs, wrt=(0,)))
    shaped = [
        ("(6,3)", randn("mmx63", 6, 3, scale=0.5, **t), _classes("mmy63", 6, 3, device)),
        ("(1,5)", randn("mmx15", 1, 5, **t), torch.tensor([2], device=device)),
        ("(1,5)-0-dim-target", randn("mmx15b", 1, 5, **t), torch.tensor(2, device=device)),
        ("unbatched-(5,)", randn("mmx5", 5, **t), torch.tensor(3, device=device)),
        ("unbatched-(5,)-target-(1,)", randn("mmx5b", 5, **t), torch.tensor([1], device=device)),
        ("0-dim-input", randn("mmx0", **t).reshape(()), torch.tensor(0, device=device)),
        ("C=1", randn("mmxc1", 1, 1, **t), torch.zeros(1, dtype=torch.int64, device=device)),
        ("non-contiguous", randn("mmxnc", 5, 4, **t).t(), torch.tensor([0, 1, 2, 3], device=device)),
        ("scores-1e4", randn("mmxl", 4, 5, scale=1e4, **t), torch.tensor([0, 1, 2, 3], device=device)),
        ("all-classes-below-margin", torch.tensor([[5.0, 0.0, 1.0], [0.0, -3.0, 2.5]], **t),
         torch.tensor([0, 2], device=device)),
    ]
    for desc, xs, ys in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (xs, ys), dict(reduction=reduction), wrt=(0,)))
            out.append(SampleInput(f"{desc}-p=2-weight-{reduction}", (xs, ys),
                                   dict(p=2, reduction=reduction,
                                        weight=torch.linspace(0.5, 2.0, max(1, xs.shape[-1] if xs.dim() else 1),
                                                              dtype=torch.float64).to(**t)), wrt=(0,)))
    # the empty batch: 'none' only (torch's 'mean'/'sum' are uninitialised memory)
    out.append(SampleInput("empty-(0,5)-none", (torch.zeros(0, 5, **t), torch.zeros(0, dtype=torch.int64,
                                                                                    device=device)),
                           dict(reduction="none"), wrt=(0,)))
    for margin in (1.0, 0.5):
        xk, yk = _kink_scores(device, dtype, margin)
        for p in (1, 2):
            for reduction in REDUCTIONS:
                out.append(SampleInput(f"kink-z=0-margin={margin}-p={p}-{reduction}", (xk, yk),
                                       dict(p=p, margin=margin, reduction=reduction), wrt=(0,), kink=True))
    inf, nan = math.inf, math.nan
    xn = torch.tensor([[nan, 0.0, 1.0], [1.0, nan, 0.0], [0.0, inf, 1.0], [inf, inf, 1.0], [-inf, 0.0, 2.0]], **t)
    yn = torch.tensor([0, 2, 0, 0, 0], device=device)
    for reduction in REDUCTIONS:
        # a NaN z is not > 0: it adds 0 (strict hinge), where clamp would give NaN
        out.append(SampleInput(f"nan-inf-{reduction}", (xn, yn), dict(reduction=reduction), wrt=(0,), kink=True))
    out.append(SampleInput("negative-margin", (x, y), dict(margin=-0.5), wrt=(0,)))
    out.append(SampleInput("margin-0-dim-tensor", (x, y), dict(margin=torch.tensor(0.7)), wrt=(0,)))
    out.append(SampleInput("margin-int", (x, y), dict(margin=2), wrt=(0,)))
    out.append(SampleInput("p=2.0-float", (x, y), dict(p=2.0), wrt=(0,)))
    out.append(SampleInput("weight-with-zeros", (x, y),
                           dict(weight=torch.tensor([0.0, 1.0, 0.0, 2.0, 0.5], **t), reduction="none"), wrt=(0,)))
    out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
    out.append(SampleInput("positional-all", (x, y, 2, 0.5, w, None, None, "sum"), wrt=(0,)))
    _legacy(out, x, y)
    return out


def multi_margin_errors() -> list[ErrorInput]:
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 4])
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction-before-p", (x, y), dict(p=3, reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("p=3", (x, y), dict(p=3), ValueError, "only p == 1 and p == 2 supported", "p="),
        ErrorInput("p=1.5", (x, y), dict(p=1.5), ValueError, "only p == 1 and p == 2 supported", "p="),
        ErrorInput("weight-2-D", (x, y), dict(weight=torch.ones(1, 5)), ValueError,
                   "weight must be one-dimensional", "weight"),
        ErrorInput("weight-0-dim", (x, y), dict(weight=torch.tensor(1.0)), ValueError,
                   "weight must be one-dimensional", "weight"),
        ErrorInput("weight-wrong-length", (x, y), dict(weight=torch.ones(4)), RuntimeError,
                   r"inconsistent weight size, expected 5 but got \[4\]", "weight"),
        ErrorInput("weight-float64-input-float32", (x, y), dict(weight=torch.ones(5, dtype=torch.float64)),
                   RuntimeError, "expected scalar type Float but found Double", "weight"),
        ErrorInput("weight-int64", (x, y), dict(weight=torch.ones(5, dtype=torch.int64)),
                   RuntimeError, "expected scalar type Float but found Long", "weight"),
        ErrorInput("weight-requires-grad", (x, y), dict(weight=torch.ones(5, requires_grad=True)), RuntimeError,
                   "is not differentiable with respect to argument 'weight'", "weight"),
        ErrorInput("input-3-D", (torch.randn(2, 3, 4), torch.tensor([1, 1])), {}, RuntimeError,
                   r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[2, 3, 4\]",
                   "input"),
        ErrorInput("C=0", (torch.randn(3, 0), torch.tensor([0, 0, 0])), {}, RuntimeError,
                   r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[3, 0\]", "input"),
        ErrorInput("empty-vector", (torch.randn(0), torch.tensor(0)), {}, RuntimeError,
                   r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[0\]", "input"),
        ErrorInput("target-(4,1)", (x, y[:, None]), {}, RuntimeError,
                   r"target tensor should be 1-D with size equal to the number of input samples", "target"),
        ErrorInput("target-too-short", (x, y[:3]), {}, RuntimeError,
                   r"Expected target size \[4\], but got \[3\]", "target"),
        ErrorInput("target-0-dim-for-batch-of-4", (x, torch.tensor(1)), {}, RuntimeError,
                   r"Expected target size \[4\], but got \[\]", "target"),
        ErrorInput("unbatched-target-(2,)", (torch.randn(5), torch.tensor([1, 2])), {}, RuntimeError,
                   r"Expected target size \[1\], but got \[2\]", "target"),
        ErrorInput("target-out-of-range", (x, torch.tensor([0, 1, 2, 5])), {}, RuntimeError,
                   "target out of range", "target"),
        ErrorInput("target-negative", (x, torch.tensor([0, 1, 2, -1])), {}, RuntimeError,
                   "target out of range", "target"),
        ErrorInput("target-minus-100", (x, torch.tensor([0, 1, 2, -100])), {}, RuntimeError,
                   "target out of range", "target"),
        ErrorInput("target-float", (x, y.double()), {}, RuntimeError,
                   "expected scalar type Long but found Double", "target"),
        ErrorInput("target-int32", (x, y.int()), {}, RuntimeError,
                   "expected scalar type Long but found Int", "target"),
        ErrorInput("input-float16-cpu", (x.half(), y), {}, NotImplementedError,
                   "\"multi_margin_loss_cpu_kernel\" not implemented for 'Half'", "input"),
        ErrorInput("input-bfloat16-cpu", (x.bfloat16(), y), {}, NotImplementedError,
                   "\"multi_margin_loss_cpu_kernel\" not implemented for 'BFloat16'", "input"),
        ErrorInput("input-int64", (torch.ones(4, 5, dtype=torch.int64), y), {}, NotImplementedError,
                   "not implemented for 'Long'", "input"),
        ErrorInput("input-bool", (torch.ones(4, 5, dtype=torch.bool), y), {}, NotImplementedError,
                   "not implemented for 'Bool'", "input"),
        ErrorInput("input-complex", (torch.ones(4, 5, dtype=torch.complex64), y), {}, NotImplementedError,
                   "not implemented for 'ComplexFloat'", "input"),
        ErrorInput("margin-str", (x, y), dict(margin="a"), TypeError,
                   r"argument 'margin' \(position 4\) must be Number, not str", "margin"),
        ErrorInput("input-list", ([1.0, 2.0], y), {}, TypeError,
                   r"argument 'input' \(position 1\) must be Tensor, not list", "input"),
        ErrorInput("target-list", (x, [0, 1, 2, 3]), {}, TypeError,
                   r"argument 'target' \(position 2\) must be Tensor, not list", "target"),
    ]


def multi_margin_modules() -> list[ModuleInput]:
    x = torch.randn(4, 5, dtype=torch.float64, generator=make_generator("mmmod"))
    y = torch.tensor([0, 3, 4, 1])
    w = torch.tensor([0.5, 1.0, 2.0, 1.5, 0.25], dtype=torch.float64)
    out = [ModuleInput("weight-buffer", dict(weight=w), (x, y), wrt=(0,))]
    out += [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y), wrt=(0,)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x, y), wrt=(0,)))
    out.append(ModuleInput("p=2-margin=0.5-weight", dict(p=2, margin=0.5, weight=w), (x, y), wrt=(0,)))
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y), wrt=(0,)))
    out.append(ModuleInput("weight-float32-input-float64 raises", dict(weight=w.float()), (x, y), wrt=(0,)))
    return out


def multi_margin_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``multi_margin_loss_grad`` on the (N, C) view of the input against torch's backward."""
    arguments = bound_arguments(RF.multi_margin_loss, sample)
    reduction = effective_reduction(arguments)
    x, y = arguments["input"], arguments["target"]
    p, margin, weight = arguments["p"], arguments["margin"], arguments["weight"]
    leaf = x.detach().clone().requires_grad_(True)
    value = F.multi_margin_loss(leaf, y, p=p, margin=margin, weight=weight, reduction=reduction)
    expected = torch.autograd.grad(value, leaf, grad_output)
    c = 1 if x.dim() == 0 else x.shape[-1]
    margin = float(margin)
    (hand,) = RF.multi_margin_loss_grad(grad_output, x.reshape(-1, c), y.reshape(-1), p, margin, weight, reduction)
    return [hand.reshape(x.shape)], list(expected)


def multi_margin_by_hand(x: list[list[float]], y: list[int], p: int = 1, margin: float = 1.0,
                         w: list[float] | None = None) -> list[float]:
    """l_n = sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C, by loops."""
    out = []
    for row, target in zip(x, y, strict=True):
        c = len(row)
        total = 0.0
        for i, score in enumerate(row):
            if i != target:
                total += (w[target] if w else 1.0) * max(0.0, margin - row[target] + score) ** p
        out.append(total / c)
    return out


MM_X, MM_Y = [[0.1, 0.2, 0.4, 0.8], [1.0, -1.0, 0.5, 0.0]], [3, 0]
MM_W = [1.0, 2.0, 0.5, 3.0]


def _f64(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


# ----------------------------------------------------------------------------------------------------
# multilabel_margin_loss


def _label_lists(device: str) -> Tensor:
    """Rows for a (6, 5) batch: two labels, duplicates, every class a label (no -1), no label (-1 first), valid
    entries after the -1 (ignored), a multi-hot 0/1 row (read as the class indices 0 and 1)."""
    return torch.tensor([[1, 3, -1, -1, -1],
                         [2, 2, 0, -1, -1],
                         [4, 0, 1, 2, 3],
                         [-1, 0, 1, 2, 3],
                         [0, -1, 4, 4, -1],
                         [0, 1, 1, 0, 1]], device=device)


def multilabel_margin_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    x = randn("mlx", 6, 5, **t)
    y = _label_lists(device)
    shaped = [
        ("(6,5)-label-lists", x, y),
        ("(3,4)-one-label", randn("mlx34", 3, 4, **t), torch.tensor([[0, -1, 0, 0], [3, -1, 1, 1], [2, -1, -1, -1]],
                                                                    device=device)),
        ("unbatched-(5,)", randn("mlx5", 5, **t), torch.tensor([3, 0, -1, 1, 1], device=device)),
        ("0-dim-input", randn("mlx0", **t).reshape(()), torch.tensor(0, device=device)),
        ("0-dim-input-target-(1,)", randn("mlx0b", **t).reshape(()), torch.tensor([-1], device=device)),
        ("non-contiguous", randn("mlxnc", 5, 6, **t).t(), y),
        ("scores-1e4", randn("mlxl", 6, 5, scale=1e4, **t), y),
        ("(8,40)-wide", randn("mlxw", 8, 40, **t),
         torch.cat([torch.randint(0, 40, (8, 6), generator=make_generator("mlyw")),
                    torch.full((8, 34), -1)], 1).to(device)),
    ]
    for desc, xs, ys in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (xs, ys), dict(reduction=reduction), wrt=(0,)))
    out.append(SampleInput("empty-(0,5)-none", (torch.zeros(0, 5, **t), torch.zeros(0, 5, dtype=torch.int64,
                                                                                    device=device)),
                           dict(reduction="none"), wrt=(0,)))
    # kinks: x_j - x_i == 1 exactly (z = 0) and ties x_j == x_i (z = 1)
    xk = torch.tensor([[0.0, 1.0, 0.0, 0.5], [2.0, 1.0, 1.0, 3.0]], **t)
    yk = torch.tensor([[1, -1, 0, 0], [0, 3, -1, -1]], device=device)
    for reduction in REDUCTIONS:
        out.append(SampleInput(f"kink-z=0-{reduction}", (xk, yk), dict(reduction=reduction), wrt=(0,), kink=True))
    inf, nan = math.inf, math.nan
    xn = torch.tensor([[nan, 0.0, 1.0], [0.0, nan, 1.0], [0.0, inf, 1.0], [inf, inf, 1.0]], **t)
    yn = torch.tensor([[0, -1, 0], [0, -1, 0], [0, -1, 0], [0, 1, -1]], device=device)
    for reduction in REDUCTIONS:
        out.append(SampleInput(f"nan-inf-{reduction}", (xn, yn), dict(reduction=reduction), wrt=(0,), kink=True))
    out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
    out.append(SampleInput("positional-all", (x, y, None, None, "sum"), wrt=(0,)))
    _legacy(out, x, y)
    return out


def multilabel_margin_errors() -> list[ErrorInput]:
    x = torch.randn(2, 4)
    y = torch.tensor([[3, 0, -1, 1], [0, 1, 2, 3]])
    oob = "argument #2 'target' is out of range"
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction-before-shape", (torch.randn(1, 1, 4), y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("input-3-D", (torch.randn(2, 2, 4), torch.zeros(2, 2, 4, dtype=torch.int64)), {}, RuntimeError,
                   r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[2, 2, 4\]",
                   "input"),
        ErrorInput("C=0", (torch.randn(3, 0), torch.zeros(3, 0, dtype=torch.int64)), {}, RuntimeError,
                   r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[3, 0\]", "input"),
        ErrorInput("target-(2,3)", (x, y[:, :3]), {}, RuntimeError,
                   r"inconsistent target size: \[2, 3\] for input of size: \[2, 4\]", "target"),
        ErrorInput("unbatched-target-2-D", (torch.randn(4), y[:1]), {}, RuntimeError,
                   r"inconsistent target size: \[1, 4\] for input of size: \[4\]", "target"),
        ErrorInput("batched-(1,4)-target-1-D", (torch.randn(1, 4), y[0]), {}, RuntimeError,
                   r"inconsistent target size: \[4\] for input of size: \[1, 4\]", "target"),
        ErrorInput("target-equal-C", (x, torch.tensor([[4, -1, 0, 0], [0, 0, 0, 0]])), {}, RuntimeError, oob,
                   "target"),
        ErrorInput("target-minus-2", (x, torch.tensor([[-2, -1, 0, 0], [0, 0, 0, 0]])), {}, RuntimeError, oob,
                   "target"),
        ErrorInput("target-out-of-range-after-the--1", (x, torch.tensor([[0, -1, 9, 0], [0, 0, 0, 0]])), {},
                   RuntimeError, oob, "target"),
        ErrorInput("target-float", (x, y.double()), {}, RuntimeError,
                   "expected scalar type Long but found Double", "target"),
        ErrorInput("target-int32", (x, y.int()), {}, RuntimeError, "expected scalar type Long but found Int",
                   "target"),
        ErrorInput("input-float16-cpu", (x.half(), y), {}, NotImplementedError,
                   "\"multilabel_margin_loss_forward_out_frame\" not implemented for 'Half'", "input"),
        ErrorInput("input-bfloat16-cpu", (x.bfloat16(), y), {}, NotImplementedError,
                   "not implemented for 'BFloat16'", "input"),
        ErrorInput("input-int64", (torch.ones(2, 4, dtype=torch.int64), y), {}, NotImplementedError,
                   "not implemented for 'Long'", "input"),
        ErrorInput("input-bool", (torch.ones(2, 4, dtype=torch.bool), y), {}, NotImplementedError,
                   "not implemented for 'Bool'", "input"),
        ErrorInput("input-complex", (torch.ones(2, 4, dtype=torch.complex64), y), {}, NotImplementedError,
                   "not implemented for 'ComplexFloat'", "input"),
        ErrorInput("input-list", ([1.0, 2.0], y), {}, TypeError,
                   r"argument 'input' \(position 1\) must be Tensor, not list", "input"),
        ErrorInput("target-list", (x, [0, 1, 2, 3]), {}, TypeError,
                   r"argument 'target' \(position 2\) must be Tensor, not list", "target"),
    ]


def multilabel_margin_modules() -> list[ModuleInput]:
    x = torch.randn(6, 5, dtype=torch.float64, generator=make_generator("mlmod"))
    y = _label_lists("cpu")
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y), wrt=(0,)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x, y), wrt=(0,)))
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y), wrt=(0,)))
    return out


def multilabel_margin_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    arguments = bound_arguments(RF.multilabel_margin_loss, sample)
    reduction = effective_reduction(arguments)
    x, y = arguments["input"], arguments["target"]
    leaf = x.detach().clone().requires_grad_(True)
    expected = torch.autograd.grad(F.multilabel_margin_loss(leaf, y, reduction=reduction), leaf, grad_output)
    c = 1 if x.dim() == 0 else x.shape[-1]
    (hand,) = RF.multilabel_margin_loss_grad(grad_output, x.reshape(-1, c), y.reshape(-1, c), reduction)
    return [hand.reshape(x.shape)], list(expected)


def multilabel_margin_by_hand(x: list[list[float]], y: list[list[int]]) -> list[float]:
    """l_n = sum over listed labels j (until the first -1, duplicates kept) and non-labels i of
    max(0, 1 - (x_j - x_i)), divided by C; by loops."""
    out = []
    for row, targets in zip(x, y, strict=True):
        listed = []
        for j in targets:
            if j < 0:
                break
            listed.append(j)
        total = 0.0
        for j in listed:
            for i in range(len(row)):
                if i not in listed:
                    total += max(0.0, 1.0 - (row[j] - row[i]))
        out.append(total / len(row))
    return out


ML_X = [[0.1, 0.2, 0.4, 0.8]]

MULTI_MARGIN_CASES = [
    LossCase(
        name="multi_margin_loss", part="margin", chapter="multi_margin",
        torch_fn=F.multi_margin_loss, ref_fn=RF.multi_margin_loss,
        torch_module=torch.nn.MultiMarginLoss, ref_module=RN.MultiMarginLoss,
        samples=multi_margin_samples,
        errors=multi_margin_errors,
        modules=multi_margin_modules,
        known_values=[
            KnownValue("none: sum over wrong classes / C", (_f64(MM_X), torch.tensor(MM_Y)), dict(reduction="none"),
                       multi_margin_by_hand(MM_X, MM_Y)),
            KnownValue("doc example 0.3250", (_f64([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([3])), {},
                       (1 - 0.8 + 0.1 + 1 - 0.8 + 0.2 + 1 - 0.8 + 0.4) / 4),
            KnownValue("p=2, margin=0.5: squared hinge", (_f64(MM_X), torch.tensor(MM_Y)),
                       dict(p=2, margin=0.5, reduction="none"), multi_margin_by_hand(MM_X, MM_Y, 2, 0.5)),
            KnownValue("weight w[y] after the power", (_f64(MM_X), torch.tensor(MM_Y)),
                       dict(p=2, weight=_f64(MM_W), reduction="none"), multi_margin_by_hand(MM_X, MM_Y, 2, 1.0, MM_W)),
            KnownValue("mean over N (already / C)", (_f64(MM_X), torch.tensor(MM_Y)), {},
                       sum(multi_margin_by_hand(MM_X, MM_Y)) / 2),
            KnownValue("sum", (_f64(MM_X), torch.tensor(MM_Y)), dict(reduction="sum"),
                       sum(multi_margin_by_hand(MM_X, MM_Y))),
            KnownValue("exactly at the margin: 0", (_f64([[2.0, 1.0, 0.0]]), torch.tensor([0])),
                       dict(reduction="none"), [0.0]),
        ],
        dtypes={"cpu": CPU_DTYPES, "cuda": FLOATING},
        hand_gradient=multi_margin_hand_gradient,
        double_backward=False,
    ),
    LossCase(
        name="multilabel_margin_loss", part="margin", chapter="multilabel_margin",
        torch_fn=F.multilabel_margin_loss, ref_fn=RF.multilabel_margin_loss,
        torch_module=torch.nn.MultiLabelMarginLoss, ref_module=RN.MultiLabelMarginLoss,
        samples=multilabel_margin_samples,
        errors=multilabel_margin_errors,
        modules=multilabel_margin_modules,
        known_values=[
            KnownValue("doc example 0.85", (_f64(ML_X), torch.tensor([[3, 0, -1, 1]])), {}, 0.85),
            KnownValue("labels {1, 2}", (_f64(ML_X), torch.tensor([[1, 2, -1, -1]])), dict(reduction="none"),
                       multilabel_margin_by_hand(ML_X, [[1, 2, -1, -1]])),
            KnownValue("duplicate label counts twice", (_f64(ML_X), torch.tensor([[1, 1, 2, -1]])),
                       dict(reduction="none"), multilabel_margin_by_hand(ML_X, [[1, 1, 2, -1]])),
            KnownValue("multi-hot 0/1 row read as indices 0, 1, 1, 0", (_f64(ML_X), torch.tensor([[0, 1, 1, 0]])),
                       dict(reduction="none"), [2.9]),
            KnownValue("first entry -1: no labels, 0", (_f64(ML_X), torch.tensor([[-1, 1, 2, 3]])),
                       dict(reduction="none"), [0.0]),
            KnownValue("every class a label: 0", (_f64(ML_X), torch.tensor([[3, 1, 2, 0]])),
                       dict(reduction="none"), [0.0]),
            KnownValue("sum of two rows", (_f64([ML_X[0], [1.0, 0.0, 0.0, 0.0]]), torch.tensor([[3, -1, 0, 0],
                                                                                               [0, -1, 0, 0]])),
                       dict(reduction="sum"),
                       sum(multilabel_margin_by_hand([ML_X[0], [1.0, 0.0, 0.0, 0.0]], [[3, -1], [0, -1]]))),
        ],
        dtypes={"cpu": CPU_DTYPES, "cuda": FLOATING},
        hand_gradient=multilabel_margin_hand_gradient,
        double_backward=False,
    ),
]
