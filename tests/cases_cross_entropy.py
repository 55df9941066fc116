"""Registry entries of nll_loss and cross_entropy (book/classification/nll.ipynb, cross_entropy.ipynb).

The samples aim at what torch does with class targets: every input rank (unbatched (C), (N, C), and
K-dimensional (N, C, d1, ..., dK) for K = 1, 2, 3, which take three different kernels in torch), class
weights (the weighted mean divides by the kept targets' weight), ignore_index (some, a valid class, all),
uint8 targets, zero, negative and cancelling weights, empty batches and empty spatial sizes, uniform and
extreme logits (±1e4, ±inf, NaN), the float16/bfloat16 total weight kept in the input's dtype, legacy
arguments; and for cross_entropy label smoothing (with weight and ignore_index, negative = off) and class-
probability targets (weighted, smoothed, unnormalised, one-hot, mixed dtypes), where the target and the
weight are differentiable.
"""

import math
from collections.abc import Callable

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
                out.append(SampleInput(f"{desc}-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,),
                                       forward_only=forward_only))
                out.append(SampleInput(f"{desc}-weight-{reduction}", (x, y), dict(reduction=reduction, weight=w),
                                       wrt=(0,), forward_only=forward_only))
                if y.numel() > 2:
                    out.append(SampleInput(f"{desc}-ignored-{reduction}", (x, _with_ignored(y)),
                                           dict(reduction=reduction), wrt=(0,)))
                    out.append(SampleInput(f"{desc}-ignored-weight-{reduction}", (x, _with_ignored(y)),
                                           dict(reduction=reduction, weight=w), wrt=(0,)))
        x = _logits("xm", 6, C, **t, log_probs=not is_ce)
        y = torch.tensor([0, 1, 2, 3, 1, 1], device=device)
        for reduction in REDUCTIONS:
            kw = dict(reduction=reduction)
            out += [
                SampleInput(f"ignore_index=1-a-valid-class-{reduction}", (x, y), dict(kw, ignore_index=1), wrt=(0,)),
                SampleInput(f"ignore_index=1-weight-{reduction}", (x, y), dict(kw, ignore_index=1, weight=w), wrt=(0,)),
                SampleInput(f"ignore_index=7-never-a-class-{reduction}", (x, torch.where(y == 3, 7, y)),
                            dict(kw, ignore_index=7), wrt=(0,)),
                SampleInput(f"target-uint8-{reduction}", (x, y.to(torch.uint8)), kw, wrt=(0,)),
                SampleInput(f"target-uint8-ignore_index=3-{reduction}", (x, y.to(torch.uint8)),
                            dict(kw, ignore_index=3, weight=w), wrt=(0,)),
                SampleInput(f"weight-zero-for-class-1-{reduction}", (x, y),
                            dict(kw, weight=w * torch.tensor([1.0, 0.0, 1.0, 1.0], **t)), wrt=(0,)),
                SampleInput(f"weight-negative-{reduction}", (x, y), dict(kw, weight=-w), wrt=(0,)),
                # all kept weights 0: 'mean' is 0/0 = NaN with a NaN gradient (no finite differences)
                SampleInput(f"weight-all-zero-{reduction}", (x, y), dict(kw, weight=w * 0), wrt=(0,),
                            kink=reduction == "mean"),
                # kept weights summing to 0: 'mean' is +-inf, its gradient inf and NaN
                SampleInput(f"weight-cancelling-{reduction}", (x, torch.tensor([0, 1, 0, 1, 2, 3], device=device)),
                            dict(kw, weight=torch.tensor([1.0, -1.0, 0.0, 0.0], **t)), wrt=(0,),
                            kink=reduction == "mean"),
                # every target ignored: 'mean' is 0/0 = NaN, the gradient exactly 0 (one position: a batch of one)
                SampleInput(f"all-ignored-{reduction}", (x[:1], torch.tensor([-100], device=device)), kw, wrt=(0,),
                            kink=reduction == "mean"),
                SampleInput(f"all-ignored-weight-{reduction}", (x[:1], torch.tensor([-100], device=device)),
                            dict(kw, weight=w), wrt=(0,), kink=reduction == "mean"),
                SampleInput(f"all-ignored-unbatched-{reduction}", (x[0], torch.tensor(-100, device=device)), kw,
                            wrt=(0,), kink=reduction == "mean"),
                SampleInput(f"all-ignored-K=2-{reduction}",
                            (x[:1, :, None, None], torch.full((1, 1, 1), 2, device=device)),
                            dict(kw, ignore_index=2), wrt=(0,), kink=reduction == "mean"),
                SampleInput(f"empty-(0,C)-{reduction}", (x[:0], y[:0]), kw, wrt=(0,)),
                SampleInput(f"empty-(0,C)-weight-{reduction}", (x[:0], y[:0]), dict(kw, weight=w), wrt=(0,)),
                SampleInput(f"empty-spatial-(2,C,0)-{reduction}", (torch.zeros(2, C, 0, **t),
                            torch.zeros(2, 0, dtype=torch.long, device=device)), kw, wrt=(0,)),
                SampleInput(f"empty-batch-(0,C,2,2)-{reduction}", (torch.zeros(0, C, 2, 2, **t),
                            torch.zeros(0, 2, 2, dtype=torch.long, device=device)), kw, wrt=(0,)),
                SampleInput(f"empty-C=0-(0,0)-{reduction}", (torch.zeros(0, 0, **t),
                            torch.zeros(0, dtype=torch.long, device=device)), kw, wrt=(0,)),
            ]
        out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
        out.append(SampleInput("positional-reduction", (x, y, w, None, 1, None, "sum"), wrt=(0,)))
        for size_average in (None, True, False):
            for reduce in (None, True, False):
                if size_average is None and reduce is None:
                    continue
                out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", (x, y),
                                       dict(size_average=size_average, reduce=reduce, reduction="none"), wrt=(0,)))
        if dtype == torch.float16:  # total_weight in float16: a count above 65504 is inf, the 'mean' 0
            big = torch.zeros(65600, 2, **t)
            big[:, 1] = (torch.arange(65600) % 3).to(dtype) - 1.0
            target = (torch.arange(65600) % 2).to(device)
            for reduction in ("mean", "sum"):
                out.append(SampleInput(f"float16-count-65600-{reduction}", (big, target), dict(reduction=reduction),
                                       wrt=(0,)))
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
    return [SampleInput(f"positive-input-not-log-probabilities-{r}", (x, y), dict(reduction=r), wrt=(0,))
            for r in REDUCTIONS]


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
    nonfinite = torch.tensor([[-inf, 0.0, 1.0, 0.0], [inf, 0.0, 0.0, 0.0], [0.0, inf, 0.0, 0.0],
                              [-inf, -inf, -inf, -inf], [nan, 0.0, 0.0, 0.0], [1.0, -inf, 2.0, 0.0]], **t)
    y_nonfinite = torch.tensor([0, 0, 0, 0, 1, 2], device=device)
    x3 = _logits("xs3", 2, C, 3, **t, log_probs=False)
    y3 = _targets("ts3", C, 2, 3, device=device)
    for reduction in REDUCTIONS:
        kw = dict(reduction=reduction)
        out += [
            SampleInput(f"uniform-logits-ties-{reduction}", (uniform, y), kw, wrt=(0,)),
            SampleInput(f"extreme-logits-1e4-{reduction}", (extreme, torch.tensor([1, 0, 0], device=device)), kw,
                        wrt=(0,)),
            SampleInput(f"extreme-logits-1e4-label_smoothing-{reduction}", (extreme, torch.tensor([1, 0, 1],
                        device=device)), dict(kw, label_smoothing=0.1), wrt=(0,)),
            # -inf at the target: loss inf with a finite gradient; +inf, all -inf, NaN: NaN rows
            SampleInput(f"nonfinite-logits-{reduction}", (nonfinite, y_nonfinite), kw, wrt=(0,), kink=True),
            SampleInput(f"nonfinite-logits-ignored-{reduction}", (nonfinite, torch.tensor([0, -100, 0, -100, 1, 2],
                        device=device)), kw, wrt=(0,), kink=True),
        ]
        for eps in (0.1, 1.0):
            ls = dict(kw, label_smoothing=eps)
            out += [
                SampleInput(f"label_smoothing={eps}-{reduction}", (x, y), ls, wrt=(0,)),
                SampleInput(f"label_smoothing={eps}-weight-{reduction}", (x, y), dict(ls, weight=w), wrt=(0,)),
                SampleInput(f"label_smoothing={eps}-ignored-weight-{reduction}", (x, _with_ignored(y)),
                            dict(ls, weight=w), wrt=(0,)),
                SampleInput(f"label_smoothing={eps}-K=1-weight-{reduction}", (x3, _with_ignored(y3)),
                            dict(ls, weight=w), wrt=(0,)),
            ]
        out += [
            SampleInput(f"label_smoothing=0.2-unbatched-{reduction}", (x[0], y[0]), dict(kw, label_smoothing=0.2),
                        wrt=(0,)),
            SampleInput(f"label_smoothing=0.2-uint8-weight-{reduction}", (x, y.to(torch.uint8)),
                        dict(kw, label_smoothing=0.2, weight=w), wrt=(0,)) if reduction != "mean" else
            SampleInput("label_smoothing=0.2-uint8-mean", (x, y.to(torch.uint8)), dict(kw, label_smoothing=0.2),
                        wrt=(0,)),
            SampleInput(f"label_smoothing=-0.5-is-off-{reduction}", (x, y), dict(kw, label_smoothing=-0.5),
                        wrt=(0,)),
            SampleInput(f"label_smoothing=nan-is-off-{reduction}", (x, y), dict(kw, label_smoothing=math.nan),
                        wrt=(0,)),
            SampleInput(f"label_smoothing-all-ignored-{reduction}", (x[:1], torch.tensor([-100], device=device)),
                        dict(kw, label_smoothing=0.1, weight=w), wrt=(0,), kink=reduction == "mean"),
            SampleInput(f"label_smoothing-empty-{reduction}", (x[:0], y[:0]), dict(kw, label_smoothing=0.1, weight=w),
                        wrt=(0,)),
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
        SampleInput(f"probabilities-label_smoothing=0.2-weight-{reduction}", (x, q),
                    dict(kw, weight=w, label_smoothing=0.2), wrt=(0, 1, "weight")),
        SampleInput(f"probabilities-unbatched-(C)-{reduction}", (x[0], q[0]), dict(kw, label_smoothing=0.1)),
        SampleInput(f"probabilities-K=2-unnormalised-weight-{reduction}", (x3, q3), dict(kw, weight=w),
                    wrt=(0, 1, "weight")),
        SampleInput(f"probabilities-negative-entries-{reduction}", (x, randn("qn", 5, C, **t)), kw),
        SampleInput(f"probabilities-one-hot-weight-{reduction}", (x, onehot), dict(kw, weight=w),
                    wrt=(0, 1, "weight")),
        SampleInput(f"probabilities-ignore_index=-1-{reduction}", (x, q), dict(kw, ignore_index=-1)),
        SampleInput(f"probabilities-empty-(0,C)-{reduction}", (x[:0], q[:0]), kw),
        SampleInput(f"probabilities-C=0-(2,0)-{reduction}", (x[:2, :0], q[:2, :0]), kw),
    ]
    if dtype == torch.float64:  # a float32 target promotes nothing: the loss stays float64
        out.append(SampleInput(f"probabilities-target-float32-{reduction}", (x, q.float()), kw))
        out.append(SampleInput(f"probabilities-weight-float32-{reduction}", (x, q), dict(kw, weight=w.float()),
                               wrt=(0, 1, "weight")))
    return out


# ----------------------------------------------------------------------------------------------------


def index_errors(name: str) -> Callable[[], list[ErrorInput]]:
    def errors() -> list[ErrorInput]:
        is_ce = name == "cross_entropy"
        x, y = torch.randn(5, C, dtype=torch.float64), torch.tensor([0, 3, 1, 1, 2])
        w = torch.ones(C, dtype=torch.float64)
        out = [
            ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                       "foo is not a valid value for reduction", "reduction"),
            ErrorInput("input-list", ([[1.0, 2.0]], y[:1]), {}, TypeError,
                       r"argument 'input' \(position 1\) must be Tensor, not list", "input"),
            ErrorInput("target-list", (x, [0, 1, 2, 3, 0]), {}, TypeError,
                       r"argument 'target' \(position 2\) must be Tensor, not list", "target"),
            ErrorInput("weight-list", (x, y), dict(weight=[1.0] * C), TypeError,
                       r"argument 'weight' \(position 3\) must be Tensor, not list", "weight"),
            ErrorInput("ignore_index-float", (x, y), dict(ignore_index=1.0), TypeError,
                       r"argument 'ignore_index' \(position 5\) must be int, not float", "ignore_index"),
            ErrorInput("ignore_index-bool", (x, y), dict(ignore_index=True), TypeError,
                       r"argument 'ignore_index' \(position 5\) must be int, not bool", "ignore_index"),
            ErrorInput("batch-size-mismatch", (x, y[:3]), {}, ValueError,
                       r"Expected input batch_size \(5\) to match target batch_size \(3\)", "target"),
            ErrorInput("target-(N,1)", (x, y[:, None]), {}, RuntimeError,
                       "0D or 1D target tensor expected, multi-target not supported", "target"),
            ErrorInput("target-int32", (x, y.int()), {}, RuntimeError,
                       "expected target dtype to be Long or Byte, but got Int", "target"),
            ErrorInput("target-bool", (x, y.bool()), {}, RuntimeError,
                       "expected target dtype to be Long or Byte, but got Bool", "target"),
            ErrorInput("target-float-indices", (x, y.double()), {}, RuntimeError,
                       "expected target dtype to be Long or Byte, but got Double", "target"),
            ErrorInput("target-out-of-range-C", (x, torch.tensor([0, 4, 1, 1, 2])), {}, IndexError,
                       "Target 4 is out of bounds", "target"),
            ErrorInput("target-out-of-range-negative", (x, torch.tensor([0, -1, 1, 1, 2])), {}, IndexError,
                       "Target -1 is out of bounds", "target"),
            ErrorInput("target-out-of-range-none", (x, torch.tensor([0, 4, 1, 1, 2])), dict(reduction="none"),
                       IndexError, "Target 4 is out of bounds", "target"),
            ErrorInput("target-out-of-range-ignore_index=4-other", (x, torch.tensor([0, 9, 4, 1, 2])),
                       dict(ignore_index=4), IndexError, "Target 9 is out of bounds", "target"),
            ErrorInput("target-uint8-out-of-range", (x, torch.tensor([0, 9, 1, 1, 2], dtype=torch.uint8)), {},
                       IndexError, "Target 9 is out of bounds", "target"),
            # torch prints a uint8 target of the 'none' path as a character ("Target \t is out of bounds.")
            ErrorInput("target-uint8-out-of-range-none", (x, torch.tensor([0, 9, 1, 1, 2], dtype=torch.uint8)),
                       dict(reduction="none"), IndexError, "Target .+ is out of bounds", "target"),
            ErrorInput("unbatched-target-out-of-range", (x[0], torch.tensor(4)), {}, IndexError,
                       "Target 4 is out of bounds", "target"),
            ErrorInput("K=2-target-out-of-range", (torch.randn(2, C, 3, 2), torch.full((2, 3, 2), 5)), {},
                       IndexError, "Target 5 is out of bounds", "target"),
            ErrorInput("unbatched-target-(2,)", (x[0], torch.tensor([1, 2])), {}, ValueError,
                       "For 1D input, 1D target must have size 1, but got target size: 2", "target"),
            ErrorInput("weight-size-3", (x, y), dict(weight=torch.ones(3, dtype=torch.float64)), RuntimeError,
                       r"weight tensor should be defined either for all 4 classes or no classes but got weight "
                       r"tensor of shape: \[3\]", "weight"),
            ErrorInput("weight-2-D", (x, y), dict(weight=torch.ones(1, C, dtype=torch.float64)), RuntimeError,
                       r"defined either for all 4 classes or no classes but got weight tensor of shape: \[1, 4\]",
                       "weight"),
            ErrorInput("weight-float32-input-float64", (x, y), dict(weight=w.float()), RuntimeError,
                       "expected scalar type Double but found Float", "weight"),
            ErrorInput("weight-requires-grad", (x, y), dict(weight=w.clone().requires_grad_()), RuntimeError,
                       "The function 'nll_loss_forward' is not differentiable with respect to argument 'weight'",
                       "weight"),
            ErrorInput("K=1-target-size", (torch.randn(2, C, 3), torch.zeros(2, 4, dtype=torch.long)), {},
                       RuntimeError, r"Expected target size \[2, 3\], got \[2, 4\]", "target"),
            ErrorInput("K=3-target-size", (torch.randn(2, C, 3, 2, 2), torch.zeros(2, 3, 2, 3, dtype=torch.long)), {},
                       RuntimeError, r"Expected target size \[2, 3, 2, 2\], got \[2, 3, 2, 3\]", "target"),
            ErrorInput("K=2-target-size", (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 4, dtype=torch.long)), {},
                       RuntimeError, r"size mismatch \(got input: \[2, 4, 3, 5\] , target: \[2, 3, 4\]", "target"),
            ErrorInput("K=2-target-rank", (torch.randn(2, C, 3, 5), torch.zeros(2, 3, dtype=torch.long)), {},
                       RuntimeError, r"only batches of spatial targets supported \(3D tensors\) but got targets of "
                       "dimension: 2", "target"),
            ErrorInput("K=2-weight-size", (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 5, dtype=torch.long)),
                       dict(weight=torch.ones(3)), RuntimeError,
                       "weight tensor should be defined either for all or no classes", "weight"),
            ErrorInput("K=1-target-uint8", (torch.randn(2, C, 3), torch.zeros(2, 3, dtype=torch.uint8)), {},
                       RuntimeError, "expected scalar type Long but found Byte", "target"),
            ErrorInput("K=2-weight-float64-input-float32", (torch.randn(2, C, 3, 5), torch.zeros(2, 3, 5,
                       dtype=torch.long)), dict(weight=torch.ones(C, dtype=torch.float64)), RuntimeError,
                       "expected scalar type Float but found Double", "weight"),
            ErrorInput("two-mistakes-batch-and-target-dtype", (x, y[:3].int()), {}, ValueError,
                       r"Expected input batch_size \(5\) to match target batch_size \(3\)", "target"),
            ErrorInput("two-mistakes-target-dtype-and-weight-size", (x, y.int()),
                       dict(weight=torch.ones(3, dtype=torch.float64)), RuntimeError,
                       "expected target dtype to be Long or Byte, but got Int", "target"),
            ErrorInput("two-mistakes-K=2-target-size-and-weight-size", (torch.randn(2, C, 3, 5),
                       torch.zeros(2, 3, 4, dtype=torch.long)), dict(weight=torch.ones(3)), RuntimeError,
                       "weight tensor should be defined either for all or no classes", "weight"),
        ]
        ints = torch.zeros(5, C, dtype=torch.long)
        if is_ce:
            out += [
                ErrorInput("input-0-dim-index-target", (torch.tensor(1.0), torch.tensor([0, 1])), {}, IndexError,
                           r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)", "input"),
                ErrorInput("input-0-dim-target-0-dim", (torch.tensor(1.0), torch.tensor(0)), {}, RuntimeError,
                           "Expected floating point type for target with class probabilities, got Long", "target"),
                ErrorInput("input-0-dim-float-target-0-dim", (torch.tensor(1.0), torch.tensor(0.5)), {}, IndexError,
                           "Dimension specified as 1 but tensor has no dimensions", "input"),
                ErrorInput("input-int64", (ints, y), {}, NotImplementedError,
                           "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'", "input"),
                ErrorInput("input-int64-K=1", (torch.zeros(2, C, 3, dtype=torch.long), torch.zeros(2, 3,
                           dtype=torch.long)), {}, NotImplementedError,
                           "\"log_softmax_kernel_impl\" not implemented for 'Long'", "input"),
                ErrorInput("input-complex", (torch.ones(2, C, dtype=torch.complex64), y[:2]), {}, NotImplementedError,
                           "\"log_softmax_lastdim_kernel_impl\" not implemented for 'ComplexFloat'", "input"),
                ErrorInput("label_smoothing=1.5", (x, y), dict(label_smoothing=1.5), RuntimeError,
                           r"label_smoothing must be between 0.0 and 1.0. Got: 1.5", "label_smoothing"),
                ErrorInput("label_smoothing=inf", (x, y), dict(label_smoothing=math.inf), RuntimeError,
                           r"label_smoothing must be between 0.0 and 1.0. Got: inf", "label_smoothing"),
                ErrorInput("label_smoothing-str", (x, y), dict(label_smoothing="0.1"), TypeError,
                           r"argument 'label_smoothing' \(position 6\) must be float, not str", "label_smoothing"),
                ErrorInput("label_smoothing=1.5-before-batch-size", (x, y[:3]), dict(label_smoothing=1.5),
                           RuntimeError, "label_smoothing must be between 0.0 and 1.0", "label_smoothing"),
                ErrorInput("label_smoothing-unbatched-target-(1,)", (x[0], y[:1]), dict(label_smoothing=0.1),
                           RuntimeError, r"output with shape \[\] doesn't match the broadcast shape \[1\]", "target"),
                ErrorInput("label_smoothing-uint8-weight-mean", (x, y.to(torch.uint8)),
                           dict(label_smoothing=0.1, weight=w), RuntimeError,
                           r"gather\(\): Expected dtype int32/int64 for index", "target"),
                ErrorInput("label_smoothing-K=1-weight-(2,2)", (torch.randn(2, C, 3), torch.zeros(2, 3,
                           dtype=torch.long)), dict(label_smoothing=0.1, weight=torch.ones(2, 2)), RuntimeError,
                           r"shape '\[1, 2, 1\]' is invalid for input of size 4", "weight"),
                ErrorInput("label_smoothing-weight-requires-grad", (x, y),
                           dict(label_smoothing=0.1, weight=w.clone().requires_grad_()), RuntimeError,
                           "is not differentiable with respect to argument 'weight'", "weight"),
                ErrorInput("probabilities-target-int64", (x, ints), {}, RuntimeError,
                           "Expected floating point type for target with class probabilities, got Long", "target"),
                ErrorInput("probabilities-ignore_index=0", (x, torch.rand(5, C, dtype=torch.float64)),
                           dict(ignore_index=0), RuntimeError,
                           "ignore_index is not supported for floating point target", "ignore_index"),
                ErrorInput("probabilities-weight-size", (x, torch.rand(5, C, dtype=torch.float64)),
                           dict(weight=torch.ones(3, dtype=torch.float64)), RuntimeError,
                           r"cross_entropy: weight tensor should be defined either for all 4 classes or no classes",
                           "weight"),
                ErrorInput("probabilities-label_smoothing=1.5", (x, torch.rand(5, C, dtype=torch.float64)),
                           dict(label_smoothing=1.5), RuntimeError, "label_smoothing must be between 0.0 and 1.0",
                           "label_smoothing"),
                ErrorInput("probabilities-wrong-width", (x, torch.rand(5, C + 1, dtype=torch.float64)), {},
                           RuntimeError, "0D or 1D target tensor expected, multi-target not supported", "target"),
            ]
        else:
            out += [
                ErrorInput("input-0-dim", (torch.tensor(1.0), torch.tensor(0)), {}, ValueError,
                           r"Expected 1 or more dimensions \(got 0\)", "input"),
                ErrorInput("input-int64", (ints, y), {}, NotImplementedError,
                           "\"nll_loss_out_frame\" not implemented for 'Long'", "input"),
                ErrorInput("input-int64-K=2", (torch.zeros(2, C, 3, 5, dtype=torch.long), torch.zeros(2, 3, 5,
                           dtype=torch.long)), {}, NotImplementedError,
                           "\"nll_loss2d_forward_out_frame\" not implemented for 'Long'", "input"),
                ErrorInput("input-bool", (ints.bool(), y), {}, NotImplementedError,
                           "\"nll_loss_out_frame\" not implemented for 'Bool'", "input"),
                ErrorInput("probability-shaped-target", (x, torch.rand(5, C, dtype=torch.float64)), {}, RuntimeError,
                           "0D or 1D target tensor expected, multi-target not supported", "target"),
                ErrorInput("input-int64-and-weight-size", (ints, y), dict(weight=torch.ones(3)), RuntimeError,
                           "weight tensor should be defined either for all 4 classes", "weight"),
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
            grads = RF.cross_entropy_grad(grad_output, arguments["input"], arguments["target"],
                                          label_smoothing=arguments["label_smoothing"], **options)
            hand = dict(zip(("input", "target", "weight"), grads, strict=True))
        return [hand[leaf] for leaf in leaves], list(expected)

    return gradients


# ----------------------------------------------------------------------------------------------------
# Values by hand from the docstring formulas.

_LOG_P = torch.tensor([[-0.5, -1.0, -2.0], [-1.5, -0.25, -3.0], [-0.75, -2.5, -0.125]], dtype=torch.float64)
_Y = torch.tensor([0, 1, 2])
_W3 = torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64)
# logits whose softmax is (1/4, 3/4) and (1/2, 1/2): log p = (log 1/4, log 3/4), (log 1/2, log 1/2)
_Z = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), math.log(2.0)]], dtype=torch.float64)
_Y2 = torch.tensor([1, 0])
_W2 = torch.tensor([1.0, 3.0], dtype=torch.float64)

NLL_KNOWN = [
    KnownValue("none: -x[n, y_n]", (_LOG_P, _Y), dict(reduction="none"), [0.5, 0.25, 0.125]),
    KnownValue("weighted none: -w[y_n] x[n, y_n]", (_LOG_P, _Y), dict(reduction="none", weight=_W3),
               [1.0, 0.25, 0.375]),
    KnownValue("weighted mean divides by sum of w[y_n] (6), not N (3)", (_LOG_P, _Y), dict(weight=_W3),
               (1.0 + 0.25 + 0.375) / 6),
    KnownValue("ignored target: out of the sum and the count", (_LOG_P, torch.tensor([0, -100, 2])), {},
               (0.5 + 0.125) / 2),
]

CE_KNOWN = [
    KnownValue("uniform logits: log C", (torch.zeros(2, 10, dtype=torch.float64), torch.tensor([3, 7])), {},
               math.log(10)),
    KnownValue("none: -log softmax(z)[y]", (_Z, _Y2), dict(reduction="none"), [math.log(4 / 3), math.log(2)]),
    KnownValue("weighted mean: sum w_y l / sum w_y", (_Z, _Y2), dict(weight=_W2),
               (3 * math.log(4 / 3) + 1 * math.log(2)) / 4),
    KnownValue("label smoothing 0.2: q = (0.1, 0.9)", (_Z[:1], _Y2[:1]), dict(label_smoothing=0.2),
               0.1 * math.log(4) + 0.9 * math.log(4 / 3)),
    KnownValue("label smoothing 0.2 with weight: (1-e) NLL_w + e/C sum_n sum_c w_c (-log p) / sum w_y", (_Z, _Y2),
               dict(label_smoothing=0.2, weight=_W2),
               0.8 * (3 * math.log(4 / 3) + math.log(2)) / 4
               + 0.1 * ((math.log(4) + 3 * math.log(4 / 3)) + (math.log(2) + 3 * math.log(2))) / 4),
    KnownValue("one-hot probabilities with weight: mean divides by N (2)", (_Z, F.one_hot(_Y2, 2).double()),
               dict(weight=_W2), (3 * math.log(4 / 3) + 1 * math.log(2)) / 2),
    KnownValue("probabilities (0.5, 0.5): sum", (_Z, torch.full((2, 2), 0.5, dtype=torch.float64)),
               dict(reduction="sum"), 0.5 * (math.log(4) + math.log(4 / 3)) + math.log(2)),
]

ALL_FLOATS = {"cpu": FLOATING, "cuda": FLOATING}

CROSS_ENTROPY_CASES = [
    LossCase(
        name="nll_loss", part="classification", chapter="nll",
        torch_fn=F.nll_loss, ref_fn=RF.nll_loss, torch_module=torch.nn.NLLLoss, ref_module=RN.NLLLoss,
        samples=index_samples("nll_loss"), errors=index_errors("nll_loss"), modules=index_modules("nll_loss"),
        known_values=NLL_KNOWN, dtypes=ALL_FLOATS, hand_gradient=hand_gradient("nll_loss"),
    ),
    LossCase(
        name="cross_entropy", part="classification", chapter="cross_entropy",
        torch_fn=F.cross_entropy, ref_fn=RF.cross_entropy,
        torch_module=torch.nn.CrossEntropyLoss, ref_module=RN.CrossEntropyLoss,
        samples=index_samples("cross_entropy"), errors=index_errors("cross_entropy"),
        modules=index_modules("cross_entropy"), known_values=CE_KNOWN, dtypes=ALL_FLOATS,
        hand_gradient=hand_gradient("cross_entropy"),
    ),
]
