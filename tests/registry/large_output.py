"""Registry entries of the large output losses (book/large_output/, refimpl/large_output/).

Registry case for AdaptiveLogSoftmaxWithLoss (book/large_output/adaptive_log_softmax.ipynb).

torch has the loss as a module only, and the generic tests are functional. So both callables are the
module run with explicit weights (``call_with_weights``): ``fn(input, target, head.weight,
tail.0.0.weight, tail.0.1.weight, ..., head_bias=None, cutoffs=None, reduction='mean')``. The weights are
ordinary arguments, so the parity and gradient tests differentiate every parameter. ``reduction='mean'``
is the module's ``loss``; ``'none'`` is the per-sample loss ``-output`` and ``'sum'`` its sum, so the
``output`` field is compared too. ``modules()`` compares the modules themselves (both fields of the named
tuple, ``state_dict`` loading) through ``LossCase.module_result``; log_prob, predict, the named-tuple type
and the state_dict round trip are in tests/test_adaptive_log_softmax.py.

Registry cases of LinearCrossEntropyLoss / F.linear_cross_entropy (book/large_output/linear_cross_entropy).

Samples cover both of torch's paths: the reference path (``options=None``: linear then cross_entropy) and
the chunked path (``options=LinearCrossEntropyOptions(...)``), with several chunks, bias or not, class
weights, ignored targets, label smoothing (where options fall back with a warning), unbatched input,
empty batches, class-probability targets, K-dimensional weights and logits of magnitude 1e4.
"""

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import LinearCrossEntropyOptions

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl.classification.cross_entropy import cross_entropy_grad
from refimpl.large_output import adaptive_log_softmax as ALS
from refimpl.testing import torch_functional

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
    make_generator,
    randn,
)

# --------------------------------------------------------------------------------------------------------------
# adaptive log softmax


NAME = "adaptive_log_softmax"


TORCH_FN = torch_functional(NAME)


def _weights(desc, in_features, shortlist, sizes, hidden, *, head_bias, dtype, device):
    """Seeded head weight, tail weights (in the order of the arguments) and optional head bias."""
    generator = make_generator("weights-" + desc)

    def draw(*shape):
        return (0.7 * torch.randn(shape, generator=generator, dtype=torch.float64)).to(dtype=dtype, device=device)

    head = draw(shortlist + len(sizes), in_features)
    tails = []
    for h, size in zip(hidden, sizes, strict=True):
        tails += [draw(h, in_features), draw(size, h)]
    bias = draw(shortlist + len(sizes)) if head_bias else None
    return head, tails, bias


def _sample(
    desc,
    device,
    dtype,
    target,
    *,
    n_in=6,
    shortlist=3,
    sizes=(3, 4),
    hidden=(3, 1),
    head_bias=False,
    reduction="mean",
    scale=1.0,
    unbatched=False,
    kink=False,
):
    target = torch.tensor(target, dtype=torch.int64, device=device)
    n = 1 if unbatched else target.numel()
    generator = make_generator(desc)
    x = (scale * torch.randn(n, n_in, generator=generator, dtype=torch.float64)).to(dtype=dtype, device=device)
    if unbatched:
        x = x[0]
    head, tails, bias = _weights(
        desc, n_in, shortlist, list(sizes), list(hidden), head_bias=head_bias, dtype=dtype, device=device
    )
    wrt = (0, *range(2, 3 + len(tails))) + (("head_bias",) if head_bias else ())
    kwargs = {"reduction": reduction}
    if head_bias:
        kwargs["head_bias"] = bias
    # float16: torch's half log-softmax backward and this one differ by 1 ulp in a few logit gradients; the
    # linear layers' backward sums them with cancellation, beyond the float16 tolerance (bfloat16 passes)
    forward_only = "float16 gradients differ by a few ulp after cancellation" if dtype == torch.float16 else ""
    return SampleInput(desc, (x, target, head, *tails), kwargs, wrt=wrt, kink=kink, forward_only=forward_only)


# targets in the head (0..2), the first tail (3..5) and the second (6..9), shuffled
MIXED = [0, 4, 7, 2, 9, 3, 5, 1, 6, 8]


def adaptive_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    out = []
    for reduction in ("none", "mean", "sum"):
        out.append(_sample(f"cutoffs=[3,6]-reduction={reduction}", device, dtype, MIXED, reduction=reduction))
        out.append(_sample(f"empty-batch-reduction={reduction}", device, dtype, [], reduction=reduction))
    out += [
        _sample(
            "three-tails-cutoffs=[2,5,9]",
            device,
            dtype,
            [0, 1, 2, 4, 5, 8, 9, 11, 3],
            shortlist=2,
            sizes=(3, 4, 3),
            hidden=(4, 2, 1),
        ),
        _sample("head-bias", device, dtype, MIXED, head_bias=True, reduction="none"),
        _sample("div_value=4-hidden=(2,0)-zero-width-tail", device, dtype, MIXED, n_in=8, hidden=(2, 0)),
        _sample("targets-in-head-only", device, dtype, [0, 1, 2, 1], reduction="none"),
        _sample("targets-in-last-tail-only", device, dtype, [6, 9, 7], reduction="none"),
        # thresholds of the piecewise definition: the first and last class of each cluster
        _sample("targets-on-cluster-boundaries", device, dtype, [0, 2, 3, 5, 6, 9], reduction="none"),
        _sample("unbatched", device, dtype, 7, unbatched=True, reduction="none"),
        _sample("unbatched-mean", device, dtype, 1, unbatched=True),
        _sample("batch-of-one", device, dtype, [8]),
        # logits of magnitude ~1e4: the log-sum-exp must not overflow; kink=True keeps it out of gradcheck only,
        # whose finite differences (eps 1e-6) cannot resolve a function of values this large
        _sample("extreme-logits-1e4", device, dtype, MIXED, scale=1e4, reduction="none", kink=True),
    ]
    # infinite inputs: a row of logits holding +inf is NaN throughout, as in torch's log_softmax (torch.logsumexp
    # would give -inf beside NaN; found by tests/test_fuzz.py)
    infinite = _sample("infinite-input", device, dtype, MIXED, reduction="none", kink=True)
    x = infinite.args[0].clone()
    x[1, 0], x[4, 2], x[7] = math.inf, -math.inf, math.inf
    out.append(
        SampleInput(
            infinite.desc,
            (x, *infinite.args[1:]),
            infinite.kwargs,
            wrt=infinite.wrt,
            kink=True,
            forward_only=infinite.forward_only,
        )
    )
    return out


def _errors_base(target, n=None):
    x = torch.randn(len(target) if n is None else n, 6, generator=make_generator("errors"), dtype=torch.float64)
    head, tails, _ = _weights("errors", 6, 3, [3, 4], [3, 1], head_bias=False, dtype=torch.float64, device="cpu")
    return x, head, tails


def adaptive_errors() -> list[ErrorInput]:
    x, head, tails = _errors_base([0, 1, 2])
    t = torch.tensor([0, 4, 7])
    cut = "cutoffs should be a sequence of unique, positive integers sorted in an increasing order"
    return [
        ErrorInput(
            "cutoffs-empty",
            (x, t, head, *tails),
            {"cutoffs": []},
            ValueError,
            "cutoffs should be a sequence of length larger than 0",
            "cutoffs",
            category="shape",
        ),
        ErrorInput(
            "cutoffs-unsorted", (x, t, head, *tails), {"cutoffs": [6, 3]}, ValueError, cut, "cutoffs", category="value"
        ),
        ErrorInput(
            "cutoffs-duplicate", (x, t, head, *tails), {"cutoffs": [3, 3]}, ValueError, cut, "cutoffs", category="value"
        ),
        ErrorInput(
            "cutoff-equals-n_classes",
            (x, t, head, *tails),
            {"cutoffs": [3, 10]},
            ValueError,
            cut,
            "cutoffs",
            category="value",
        ),
        ErrorInput(
            "cutoff-zero", (x, t, head, *tails), {"cutoffs": [0, 3]}, ValueError, cut, "cutoffs", category="value"
        ),
        ErrorInput(
            "cutoff-negative", (x, t, head, *tails), {"cutoffs": [-1, 3]}, ValueError, cut, "cutoffs", category="value"
        ),
        # integer input: torch's log_softmax refuses the integer logits (found by tests/test_dtypes.py)
        ErrorInput(
            "input-int64",
            (x.long(), t, head.long(), *(w.long() for w in tails)),
            {},
            NotImplementedError,
            "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'",
            "logits",
            category="dtype",
        ),
        ErrorInput(
            "target-out-of-range",
            (x, torch.tensor([0, 4, 10]), head, *tails),
            {},
            RuntimeError,
            r"Target values should be in \[0, 9\], but values in range \[0, 10\] were found",
            "target_",
            category="index",
        ),
        ErrorInput(
            "target-negative",
            (x, torch.tensor([0, -1, 3]), head, *tails),
            {},
            RuntimeError,
            r"Target values should be in \[0, 9\], but values in range \[-1, 3\] were found",
            "target_",
            category="index",
        ),
        ErrorInput(
            "batch-size-mismatch",
            (x, torch.tensor([0, 4]), head, *tails),
            {},
            RuntimeError,
            "Input and target should have the same size in the batch dimension",
            "target_",
            category="shape",
        ),
        ErrorInput(
            "1d-target-1d-input",
            (x[0], torch.tensor([0]), head, *tails),
            {},
            RuntimeError,
            "Input and target should have the same size in the batch dimension",
            "input_",
            category="shape",
        ),
        ErrorInput(
            "1d-target-3d-input",
            (x[None], torch.tensor([0]), head, *tails),
            {},
            RuntimeError,
            "1D target tensor expects 2D input tensors",
            "input_",
            category="shape",
        ),
        ErrorInput(
            "0d-target-2d-input",
            (x, torch.tensor(0), head, *tails),
            {},
            RuntimeError,
            "0D target tensor expects 1D input tensors",
            "input_",
            category="shape",
        ),
        ErrorInput(
            "2d-target",
            (x, t[:, None], head, *tails),
            {},
            RuntimeError,
            "0D or 1D target tensor expected, multi-target not supported",
            "target_",
            category="shape",
        ),
        ErrorInput(
            "float-target",
            (x, t.double(), head, *tails),
            {},
            RuntimeError,
            "Expected dtype int32/int64 for index",
            "target_",
            category="dtype",
        ),
    ]


def adaptive_modules() -> list[ModuleInput]:
    generator = make_generator("modules")
    x = torch.randn(10, 8, generator=generator)
    t = torch.tensor(MIXED)
    return [
        ModuleInput("cutoffs=[3,6]", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]}, (x, t), wrt=(0,)),
        ModuleInput(
            "div_value=2-head_bias",
            {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6], "div_value": 2.0, "head_bias": True},
            (x, t),
            wrt=(0,),
        ),
        ModuleInput(
            "three-tails",
            {"in_features": 8, "n_classes": 12, "cutoffs": (2, 5, 9)},
            (x[:9], torch.tensor([0, 1, 2, 4, 5, 8, 9, 11, 3])),
            wrt=(0,),
        ),
        ModuleInput(
            "div_value=8-zero-width-tails",
            {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6], "div_value": 8.0},
            (x, t),
            wrt=(0,),
        ),
        ModuleInput("unbatched", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]}, (x[0], t[1]), wrt=(0,)),
        ModuleInput("empty-batch", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]}, (x[:0], t[:0]), wrt=(0,)),
        ModuleInput(
            "target-out-of-range",
            {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]},
            (x[:2], torch.tensor([0, 10])),
            wrt=(0,),
        ),
    ]


def module_result(out) -> Tensor:
    """Both fields of the ``(output, loss)`` named tuple in one tensor, for the generic module tests."""
    assert type(out).__name__ == "_ASMoutput" and out._fields == ("output", "loss")
    return torch.cat([out.output.reshape(-1), out.loss.reshape(1)])


def _known() -> list[KnownValue]:
    """Weights chosen so every log-softmax is by hand: with x = (1, 0), head logits are the head weight's first
    column. Head (shortlist 2 + 1 cluster) logits (0, 0, 0): each head entry log(1/3). The cluster (classes
    2, 3) has hidden size 1 and logits (2, 0)·h with h = x0 = 1: log p = 2 - log(e^2 + 1) and -log(e^2 + 1)."""
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    head = torch.zeros(3, 2, dtype=torch.float64)
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[2.0], [0.0]], dtype=torch.float64)
    t = torch.tensor([1, 2, 3])
    third = -math.log(3.0)
    lse = math.log(math.exp(2.0) + 1.0)
    per_sample = [-third, -(third + 2.0 - lse), -(third - lse)]
    args = (x, t, head, a, b)
    return [
        KnownValue("by-hand-none", args, {"reduction": "none"}, per_sample),
        KnownValue("by-hand-mean", args, {}, sum(per_sample) / 3),
        KnownValue("by-hand-sum", args, {"reduction": "sum"}, sum(per_sample)),
    ]


def adaptive_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The whole gradient by hand: ``target_log_prob_grad`` for each log-softmax-and-gather, then the chain
    rule through the linear maps (dW = G^T x, dx = G W), against torch's module's autograd."""
    x, target, head, *tails = sample.args
    bias, reduction = sample.kwargs.get("head_bias"), sample.kwargs.get("reduction", "mean")
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, head, *tails)]
    leaf_bias = None if bias is None else bias.detach().clone().requires_grad_(True)
    value = TORCH_FN(leaves[0], target, *leaves[1:], head_bias=leaf_bias, reduction=reduction)
    found = torch.autograd.grad(
        value, leaves + ([leaf_bias] if bias is not None else []), grad_output, allow_unused=True
    )
    expected = [
        torch.zeros_like(leaf) if g is None else g for g, leaf in zip(found, leaves + [leaf_bias], strict=False)
    ]

    batched = target.dim() > 0
    xs, ts = (x, target) if batched else (x[None], target[None])
    n = ts.numel()
    # d loss / d output_n: output is the log-likelihood, the loss its negation
    if reduction == "mean":
        d_out = (-grad_output / n).expand(n)
    elif reduction == "sum":
        d_out = (-grad_output).expand(n)
    else:
        d_out = -grad_output.reshape(n)
    shortlist = head.shape[0] - len(tails) // 2
    sizes = [w.shape[0] for w in tails[1::2]]
    bounds = list(itertools.accumulate([0, shortlist] + sizes))
    head_index = ts.clone()
    grads_tail = []
    dx = torch.zeros_like(xs)
    for i in range(len(sizes)):
        low, high = bounds[i + 1], bounds[i + 2]
        rows = ((ts >= low) & (ts < high)).nonzero().flatten()
        head_index[rows] = shortlist + i
        a, b = tails[2 * i], tails[2 * i + 1]
        hidden = xs[rows] @ a.T
        g = ALS.target_log_prob_grad(d_out[rows], hidden @ b.T, ts[rows] - low)
        d_hidden = g @ b
        grads_tail += [d_hidden.T @ xs[rows], g.T @ hidden]
        dx.index_add_(0, rows, d_hidden @ a)
    logits = xs @ head.T + (0 if bias is None else bias)
    g_head = ALS.target_log_prob_grad(d_out, logits, head_index)
    dx += g_head @ head
    hand = [dx if batched else dx[0], g_head.T @ xs, *grads_tail]
    if bias is not None:
        hand.append(g_head.sum(0))
    return hand, expected


ADAPTIVE_LOG_SOFTMAX = LossCase(
    name=NAME,
    part="large_output",
    chapter="adaptive_log_softmax",
    torch_fn=TORCH_FN,
    ref_fn=ALS.adaptive_log_softmax,
    torch_module=torch.nn.AdaptiveLogSoftmaxWithLoss,
    ref_module=ALS.AdaptiveLogSoftmaxWithLoss,
    samples=adaptive_samples,
    errors=adaptive_errors,
    modules=adaptive_modules,
    known_values=_known(),
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=adaptive_hand_gradient,
    module_result=module_result,
    known_differences={**NO_JVP_YET, "meta-device": "torch fails first in nonzero, which has no meta kernel"},
    error_categories=frozenset({"shape", "dtype", "index", "device"}),
    fuzz=fuzz.adaptive_log_softmax(),
    mixed_precision=lambda r: (
        (
            mixed.normal("a-x", mixed.N, mixed.C),
            mixed.classes("a-y", mixed.N, 12),
            mixed.normal("a-h", 5, mixed.C, scale=0.1),
            mixed.normal("a-t0", 10, mixed.C, scale=0.1),
            mixed.normal("a-t1", 4, 10, scale=0.1),
            mixed.normal("a-t2", 10, mixed.C, scale=0.1),
            mixed.normal("a-t3", 3, 10, scale=0.1),
        ),
        dict(reduction=r),
        (0, 2, 3, 4, 5, 6),
    ),
)


# --------------------------------------------------------------------------------------------------------------
# linear cross entropy


N, D, C = 6, 4, 5


def _linear_ce_targets(desc: str, n: int, classes: int, device: str) -> Tensor:
    return torch.randint(0, classes, (n,), generator=make_generator(desc)).to(device)


def linear_ce_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    out = []

    def add(desc, n=N, d=D, c=C, bias=False, wrt=None, target=None, scale=1.0, kink=False, **kwargs):
        # half precision: torch's CPU log-softmax rounds differently from any float32 formula (a few ulp of
        # log p); through G W and G^T X those ulps add up over the classes, so keep the products small
        half = 0.5 if dtype in (torch.float16, torch.bfloat16) else 1.0
        x = randn(desc + "x", n, d, dtype=dtype, device=device, scale=half)
        w = randn(desc + "w", c, d, dtype=dtype, device=device, scale=scale * half)
        y = _linear_ce_targets(desc, n, c, device) if target is None else target.to(device)
        if bias:
            kwargs["linear_bias"] = randn(desc + "b", c, dtype=dtype, device=device)
        out.append(
            SampleInput(desc, (x, w, y), kwargs, wrt=wrt or ((0, 1, "linear_bias") if bias else (0, 1)), kink=kink)
        )

    weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5], dtype=dtype, device=device)
    ignored = torch.tensor([0, -100, 3, 4, -100, 1])
    for reduction in REDUCTIONS:
        add(f"{reduction}", reduction=reduction)
        add(f"{reduction}-bias", bias=True, reduction=reduction)
        add(f"{reduction}-weight", reduction=reduction, weight=weight)
        add(f"{reduction}-ignored", target=ignored, reduction=reduction, weight=weight)
        add(f"{reduction}-ignore-index-2", target=torch.tensor([0, 2, 3, 2, 4, 1]), reduction=reduction, ignore_index=2)
        add(f"{reduction}-smoothing", bias=True, reduction=reduction, label_smoothing=0.1)
        add(
            f"{reduction}-smoothing-weight-ignored",
            target=ignored,
            reduction=reduction,
            label_smoothing=0.3,
            weight=weight,
        )
        add(f"{reduction}-chunks", n=37, d=3, c=11, bias=True, reduction=reduction)  # refimpl: one chunk (64-row floor)
        add(
            f"{reduction}-options",
            bias=True,
            reduction=reduction,
            weight=weight,
            target=ignored,
            options=LinearCrossEntropyOptions(batch_chunk_size=4),
        )
        add(f"{reduction}-options-auto", n=37, d=3, c=11, reduction=reduction, options=LinearCrossEntropyOptions())
        add(
            f"{reduction}-options-smoothing-falls-back",
            reduction=reduction,
            label_smoothing=0.2,
            options=LinearCrossEntropyOptions(),
        )
        x1 = randn(f"{reduction}-unbatched", D, dtype=dtype, device=device)
        w1 = randn(f"{reduction}-unbatched-w", C, D, dtype=dtype, device=device)
        out.append(
            SampleInput(f"{reduction}-unbatched", (x1, w1, torch.tensor(3, device=device)), {"reduction": reduction})
        )
        out.append(
            SampleInput(
                f"{reduction}-unbatched-options",
                (x1, w1, torch.tensor(1, device=device)),
                {"reduction": reduction, "options": LinearCrossEntropyOptions()},
            )
        )
        out.append(
            SampleInput(
                f"{reduction}-empty",
                (
                    torch.empty(0, D, dtype=dtype, device=device),
                    randn(f"{reduction}-empty-w", C, D, dtype=dtype, device=device),
                    torch.empty(0, dtype=torch.long, device=device),
                ),
                {"reduction": reduction},
            )
        )
        probs = torch.rand(N, C, generator=make_generator(f"{reduction}-p"), dtype=torch.float64)
        probs = (probs / probs.sum(1, keepdim=True)).to(dtype=dtype, device=device)
        add(f"{reduction}-probabilities", target=probs, reduction=reduction, weight=weight)
        wk = randn(f"{reduction}-kdim-w", C, 2, D, dtype=dtype, device=device)
        xk = randn(f"{reduction}-kdim-x", N, D, dtype=dtype, device=device)
        yk = torch.randint(0, C, (N, 2), generator=make_generator(f"{reduction}-kdim")).to(device)
        out.append(SampleInput(f"{reduction}-kdim", (xk, wk, yk), {"reduction": reduction}))
        add(f"{reduction}-extreme-logits-1e4", reduction=reduction, scale=3e3, bias=True, kink=True)
        u8 = torch.tensor([0, 1, 2, 3, 4, 0], dtype=torch.uint8, device=device)
        out.append(
            SampleInput(
                f"{reduction}-uint8-target",
                (
                    randn(f"{reduction}-u8x", N, D, dtype=dtype, device=device),
                    randn(f"{reduction}-u8w", C, D, dtype=dtype, device=device),
                    u8,
                ),
                {"reduction": reduction},
            )
        )
    # one row, so the target is not a constant vector; NaN loss: no numerical gradient (kink)
    add("mean-all-ignored", n=1, target=torch.tensor([-100]), kink=True)
    add("mean-all-ignored-options", n=1, target=torch.tensor([-100]), kink=True, options=LinearCrossEntropyOptions())
    add("elementwise-mean-legacy-string", reduction="elementwise_mean")
    return out


def linear_ce_errors() -> list[ErrorInput]:
    x, w, y = torch.randn(N, D), torch.randn(C, D), torch.tensor([0, 1, 2, 3, 4, 0])
    return [
        ErrorInput(
            "input-3d",
            (torch.randn(2, N, D), w, y),
            {},
            RuntimeError,
            "expected input with dimensionality 1 or 2",
            "input",
            category="shape",
        ),
        ErrorInput(
            "weight-1d",
            (x, torch.randn(D), y),
            {},
            RuntimeError,
            "expected linear_weight with dimensionality at least 2",
            "linear_weight",
            category="shape",
        ),
        ErrorInput(
            "in-features-differ",
            (x, torch.randn(C, D + 1), y),
            {},
            RuntimeError,
            "expected equal input and linear_weight last dimensions",
            "linear_weight",
            category="shape",
        ),
        ErrorInput(
            "bias-shape",
            (x, w, y),
            {"linear_bias": torch.randn(C + 1)},
            RuntimeError,
            "expected linear_bias shape",
            "linear_bias",
            category="shape",
        ),
        ErrorInput(
            "kdim-unbatched",
            (torch.randn(D), torch.randn(C, 2, D), torch.tensor([0, 1])),
            {},
            RuntimeError,
            "requires batched input",
            "input",
            category="shape",
        ),
        ErrorInput(
            "probabilities-with-ignore-index",
            (x, w, torch.rand(N, C)),
            {"ignore_index": -100},
            RuntimeError,
            "ignore_index cannot be specified when target contains probabilities",
            "ignore_index",
            category="value",
        ),
        ErrorInput(
            "dtypes-differ",
            (x, w.double(), y),
            {},
            RuntimeError,
            "expected m1 and m2 to have the same dtype",
            "linear_weight",
            category="dtype",
        ),
        ErrorInput(
            "bad-reduction",
            (x, w, y),
            {"reduction": "foo"},
            ValueError,
            "is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "target-out-of-range",
            (x, w, torch.tensor([0, 1, 2, 3, 7, 0])),
            {},
            IndexError,
            "Target 7 is out of bounds",
            "target",
            category="index",
        ),
        ErrorInput(
            "weight-size",
            (x, w, y),
            {"weight": torch.ones(3)},
            RuntimeError,
            "weight tensor should be defined either for all 5 classes",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "int32-target",
            (x, w, y.int()),
            {},
            RuntimeError,
            "expected target dtype to be Long or Byte",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "batch-differs", (x, w, y[:4]), {}, ValueError, "Expected input batch_size", "target", category="shape"
        ),
        ErrorInput(
            "smoothing-above-1",
            (x, w, y),
            {"label_smoothing": 1.5},
            RuntimeError,
            "label_smoothing must be between 0.0 and 1.0",
            "label_smoothing",
            category="value",
        ),
        ErrorInput(
            "weight-requires-grad",
            (x, w, y),
            {"weight": torch.ones(C).requires_grad_()},
            RuntimeError,
            "is not differentiable with respect to argument 'weight'",
            "weight",
            category="requires_grad",
        ),
    ]


def linear_ce_modules() -> list[ModuleInput]:
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(N, D, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 4, -100])
    base = {"in_features": D, "num_classes": C, "dtype": torch.float64}
    weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5], dtype=torch.float64)
    yk = torch.randint(0, C, (N, 2), generator=g)
    return [
        ModuleInput("default", base, (x, y), wrt=(0,)),
        ModuleInput("bias-weight-sum", {**base, "bias": True, "weight": weight, "reduction": "sum"}, (x, y), wrt=(0,)),
        ModuleInput(
            "none-ignore-smoothing",
            {**base, "reduction": "none", "ignore_index": 1, "label_smoothing": 0.1},
            (x, y.clamp(min=0)),
            wrt=(0,),
        ),
        ModuleInput("out-features", {**base, "out_features": (2,), "bias": True}, (x, yk), wrt=(0,)),
        ModuleInput(
            "options",
            {**base, "bias": True, "options": LinearCrossEntropyOptions(batch_chunk_size=2)},
            (x, y),
            wrt=(0,),
        ),
        ModuleInput("bad-reduction", {**base, "reduction": "foo"}, (x, y), wrt=(0,)),
    ]


_X = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)


_W = torch.eye(2, dtype=torch.float64)


_L0 = 0.31326168751822286  # log(1 + e^-1): logits (1, 0), target 0


_L1 = 1.3132616875182228  # log(1 + e^1): logits (1, 0), target 1


KNOWN = [
    KnownValue("none", (_X, _W, torch.tensor([0, 1])), {"reduction": "none"}, [_L0, _L1]),
    KnownValue("mean", (_X, _W, torch.tensor([0, 1])), {}, (_L0 + _L1) / 2),
    KnownValue(
        "weighted-mean",
        (_X, _W, torch.tensor([0, 1])),
        {"weight": torch.tensor([2.0, 1.0], dtype=torch.float64)},
        (2 * _L0 + _L1) / 3,
    ),
    KnownValue(
        "bias-sum",
        (_X, _W, torch.tensor([0, 1])),  # bias (0, 1) makes the logits (1, 1): log 2 each
        {"reduction": "sum", "linear_bias": torch.tensor([0.0, 1.0], dtype=torch.float64)},
        2 * 0.6931471805599453,
    ),
]


def linear_ce_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``linear_cross_entropy_grad`` (index targets, (C, d) weight) or, for class probabilities and
    K-dimensional weights, ``cross_entropy_grad`` of the logits chained by hand through the linear map."""
    x, w, y = sample.args
    kw = dict(sample.kwargs)
    kw.pop("options", None)
    reduction = "mean" if kw.get("reduction", "mean") == "elementwise_mean" else kw.get("reduction", "mean")
    bias = kw.get("linear_bias")
    leaves = [x.detach().clone().requires_grad_(True), w.detach().clone().requires_grad_(True)]
    call = dict(sample.kwargs)
    if bias is not None:
        leaves.append(bias.detach().clone().requires_grad_(True))
        call["linear_bias"] = leaves[2]
    expected = torch.autograd.grad(F.linear_cross_entropy(leaves[0], leaves[1], y, **call), leaves, grad_output)
    smoothing = kw.get("label_smoothing", 0.0)
    if w.dim() == 2 and y.shape != (*x.shape[:-1], w.shape[0]):
        hand = RF.linear_cross_entropy_grad(
            grad_output, x, w, y, bias, kw.get("weight"), reduction, kw.get("ignore_index"), smoothing
        )
    else:
        flat = w.reshape(-1, x.shape[-1])
        logits = x @ flat.T + (0 if bias is None else bias.reshape(-1))
        logits = logits.reshape(*x.shape[:-1], *w.shape[:-1])
        ignore = kw.get("ignore_index")
        g = cross_entropy_grad(
            grad_output, logits, y, kw.get("weight"), -100 if ignore is None else ignore, reduction, smoothing
        )[0].reshape(-1, flat.shape[0])
        hand = (
            g @ flat,
            (g.T @ x.reshape(-1, x.shape[-1])).reshape(w.shape),
            None if bias is None else g.sum(0).reshape(bias.shape),
        )
    return [h for h in hand if h is not None], list(expected)


LINEAR_CROSS_ENTROPY = LossCase(
    name="linear_cross_entropy",
    part="large_output",
    chapter="linear_cross_entropy",
    torch_fn=F.linear_cross_entropy,
    ref_fn=RF.linear_cross_entropy,
    torch_module=torch.nn.LinearCrossEntropyLoss,
    ref_module=RN.LinearCrossEntropyLoss,
    samples=linear_ce_samples,
    errors=linear_ce_errors,
    modules=linear_ce_modules,
    known_values=KNOWN,
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=linear_ce_hand_gradient,
    known_differences={
        **NO_JVP_YET,
        "transforms:vmap(grad)": (
            "refimpl accumulates the weight's gradient over the row chunks in place, in one C x d buffer (no "
            "second copy of the largest tensor), which vmap cannot batch: per-sample gradients raise "
            "RuntimeError, where torch's unchunked reference path computes them"
        ),
        "transforms:grad:options": (
            "torch's chunked path (options=...) is an autograd.Function without setup_context, which torch.func "
            "refuses (RuntimeError); refimpl's Function computes the gradient"
        ),
        "meta-device": "torch 2.13 accepts a meta tensor next to CPU tensors in linear_cross_entropy",
        "double-backward:no-graph": (
            "torch's chunked path (options=LinearCrossEntropyOptions()) returns a first gradient with no graph, so "
            "a gradient penalty's second-order term is silently zero; refimpl's gradients are differentiable there "
            "too (gradgradcheck)"
        ),
    },
    error_categories=frozenset({"shape", "dtype", "reduction", "index", "device", "requires_grad"}),
    fuzz=fuzz.linear_cross_entropy(),
    mixed_precision=lambda r: (
        (
            mixed.normal("l-x", mixed.N, mixed.C, scale=0.3),
            mixed.normal("l-w", 10, mixed.C, scale=0.3),
            mixed.classes("l-y", mixed.N, 10),
        ),
        dict(reduction=r),
        (0, 1),
    ),
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [ADAPTIVE_LOG_SOFTMAX, LINEAR_CROSS_ENTROPY]
