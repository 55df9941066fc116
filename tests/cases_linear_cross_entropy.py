"""Registry cases of LinearCrossEntropyLoss / F.linear_cross_entropy (book/large_output/linear_cross_entropy).

Samples cover both of torch's paths: the reference path (``options=None``: linear then cross_entropy) and
the chunked path (``options=LinearCrossEntropyOptions(...)``), with several chunks, bias or not, class
weights, ignored targets, label smoothing (where options fall back with a warning), unbatched input,
empty batches, class-probability targets, K-dimensional weights and logits of magnitude 1e4.
"""

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
    make_generator,
    randn,
)
from torch import Tensor
from torch.nn import LinearCrossEntropyOptions

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl.classification.cross_entropy import cross_entropy_grad

N, D, C = 6, 4, 5


def _targets(desc: str, n: int, classes: int, device: str) -> Tensor:
    return torch.randint(0, classes, (n,), generator=make_generator(desc)).to(device)


def samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    out = []

    def add(desc, n=N, d=D, c=C, bias=False, wrt=None, target=None, scale=1.0, kink=False, **kwargs):
        # half precision: torch's CPU log-softmax rounds differently from any float32 formula (a few ulp of
        # log p); through G W and G^T X those ulps add up over the classes, so keep the products small
        half = 0.5 if dtype in (torch.float16, torch.bfloat16) else 1.0
        x = randn(desc + "x", n, d, dtype=dtype, device=device, scale=half)
        w = randn(desc + "w", c, d, dtype=dtype, device=device, scale=scale * half)
        y = _targets(desc, n, c, device) if target is None else target.to(device)
        if bias:
            kwargs["linear_bias"] = randn(desc + "b", c, dtype=dtype, device=device)
        out.append(SampleInput(desc, (x, w, y), kwargs, wrt=wrt or ((0, 1, "linear_bias") if bias else (0, 1)),
                               kink=kink))

    weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5], dtype=dtype, device=device)
    ignored = torch.tensor([0, -100, 3, 4, -100, 1])
    for reduction in REDUCTIONS:
        add(f"{reduction}", reduction=reduction)
        add(f"{reduction}-bias", bias=True, reduction=reduction)
        add(f"{reduction}-weight", reduction=reduction, weight=weight)
        add(f"{reduction}-ignored", target=ignored, reduction=reduction, weight=weight)
        add(f"{reduction}-ignore-index-2", target=torch.tensor([0, 2, 3, 2, 4, 1]), reduction=reduction, ignore_index=2)
        add(f"{reduction}-smoothing", bias=True, reduction=reduction, label_smoothing=0.1)
        add(f"{reduction}-smoothing-weight-ignored", target=ignored, reduction=reduction, label_smoothing=0.3,
            weight=weight)
        add(f"{reduction}-chunks", n=37, d=3, c=11, bias=True, reduction=reduction)  # refimpl: one chunk (64-row floor)
        add(f"{reduction}-options", bias=True, reduction=reduction, weight=weight, target=ignored,
            options=LinearCrossEntropyOptions(batch_chunk_size=4))
        add(f"{reduction}-options-auto", n=37, d=3, c=11, reduction=reduction, options=LinearCrossEntropyOptions())
        add(f"{reduction}-options-smoothing-falls-back", reduction=reduction, label_smoothing=0.2,
            options=LinearCrossEntropyOptions())
        x1 = randn(f"{reduction}-unbatched", D, dtype=dtype, device=device)
        w1 = randn(f"{reduction}-unbatched-w", C, D, dtype=dtype, device=device)
        out.append(SampleInput(f"{reduction}-unbatched", (x1, w1, torch.tensor(3, device=device)),
                               {"reduction": reduction}))
        out.append(SampleInput(f"{reduction}-unbatched-options", (x1, w1, torch.tensor(1, device=device)),
                               {"reduction": reduction, "options": LinearCrossEntropyOptions()}))
        out.append(SampleInput(f"{reduction}-empty", (torch.empty(0, D, dtype=dtype, device=device),
                                                       randn(f"{reduction}-empty-w", C, D, dtype=dtype, device=device),
                                                       torch.empty(0, dtype=torch.long, device=device)),
                               {"reduction": reduction}))
        probs = torch.rand(N, C, generator=make_generator(f"{reduction}-p"), dtype=torch.float64)
        probs = (probs / probs.sum(1, keepdim=True)).to(dtype=dtype, device=device)
        add(f"{reduction}-probabilities", target=probs, reduction=reduction, weight=weight)
        wk = randn(f"{reduction}-kdim-w", C, 2, D, dtype=dtype, device=device)
        xk = randn(f"{reduction}-kdim-x", N, D, dtype=dtype, device=device)
        yk = torch.randint(0, C, (N, 2), generator=make_generator(f"{reduction}-kdim")).to(device)
        out.append(SampleInput(f"{reduction}-kdim", (xk, wk, yk), {"reduction": reduction}))
        add(f"{reduction}-extreme-logits-1e4", reduction=reduction, scale=3e3, bias=True, kink=True)
        u8 = torch.tensor([0, 1, 2, 3, 4, 0], dtype=torch.uint8, device=device)
        out.append(SampleInput(f"{reduction}-uint8-target",
                               (randn(f"{reduction}-u8x", N, D, dtype=dtype, device=device),
                                randn(f"{reduction}-u8w", C, D, dtype=dtype, device=device), u8),
                               {"reduction": reduction}))
    # one row, so the target is not a constant vector; NaN loss: no numerical gradient (kink)
    add("mean-all-ignored", n=1, target=torch.tensor([-100]), kink=True)
    add("mean-all-ignored-options", n=1, target=torch.tensor([-100]), kink=True, options=LinearCrossEntropyOptions())
    add("elementwise-mean-legacy-string", reduction="elementwise_mean")
    return out


def errors() -> list[ErrorInput]:
    x, w, y = torch.randn(N, D), torch.randn(C, D), torch.tensor([0, 1, 2, 3, 4, 0])
    return [
        ErrorInput("input-3d", (torch.randn(2, N, D), w, y), {}, RuntimeError,
                   "expected input with dimensionality 1 or 2", "input"),
        ErrorInput("weight-1d", (x, torch.randn(D), y), {}, RuntimeError,
                   "expected linear_weight with dimensionality at least 2", "linear_weight"),
        ErrorInput("in-features-differ", (x, torch.randn(C, D + 1), y), {}, RuntimeError,
                   "expected equal input and linear_weight last dimensions", "linear_weight"),
        ErrorInput("bias-shape", (x, w, y), {"linear_bias": torch.randn(C + 1)}, RuntimeError,
                   "expected linear_bias shape", "linear_bias"),
        ErrorInput("kdim-unbatched", (torch.randn(D), torch.randn(C, 2, D), torch.tensor([0, 1])), {}, RuntimeError,
                   "requires batched input", "input"),
        ErrorInput("probabilities-with-ignore-index", (x, w, torch.rand(N, C)), {"ignore_index": -100}, RuntimeError,
                   "ignore_index cannot be specified when target contains probabilities", "ignore_index"),
        ErrorInput("dtypes-differ", (x, w.double(), y), {}, RuntimeError, "expected m1 and m2 to have the same dtype",
                   "linear_weight"),
        ErrorInput("bad-reduction", (x, w, y), {"reduction": "foo"}, ValueError, "is not a valid value for reduction",
                   "reduction"),
        ErrorInput("target-out-of-range", (x, w, torch.tensor([0, 1, 2, 3, 7, 0])), {}, IndexError,
                   "Target 7 is out of bounds", "target"),
        ErrorInput("weight-size", (x, w, y), {"weight": torch.ones(3)}, RuntimeError,
                   "weight tensor should be defined either for all 5 classes", "weight"),
        ErrorInput("int32-target", (x, w, y.int()), {}, RuntimeError, "expected target dtype to be Long or Byte",
                   "target"),
        ErrorInput("batch-differs", (x, w, y[:4]), {}, ValueError, "Expected input batch_size", "target"),
        ErrorInput("smoothing-above-1", (x, w, y), {"label_smoothing": 1.5}, RuntimeError,
                   "label_smoothing must be between 0.0 and 1.0", "label_smoothing"),
        ErrorInput("weight-requires-grad", (x, w, y), {"weight": torch.ones(C).requires_grad_()}, RuntimeError,
                   "is not differentiable with respect to argument 'weight'", "weight", category="requires_grad"),
    ]


def modules() -> list[ModuleInput]:
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(N, D, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 4, -100])
    base = {"in_features": D, "num_classes": C, "dtype": torch.float64}
    weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5], dtype=torch.float64)
    yk = torch.randint(0, C, (N, 2), generator=g)
    return [
        ModuleInput("default", base, (x, y), wrt=(0,)),
        ModuleInput("bias-weight-sum", {**base, "bias": True, "weight": weight, "reduction": "sum"}, (x, y), wrt=(0,)),
        ModuleInput("none-ignore-smoothing", {**base, "reduction": "none", "ignore_index": 1, "label_smoothing": 0.1},
                    (x, y.clamp(min=0)), wrt=(0,)),
        ModuleInput("out-features", {**base, "out_features": (2,), "bias": True}, (x, yk), wrt=(0,)),
        ModuleInput("options", {**base, "bias": True, "options": LinearCrossEntropyOptions(batch_chunk_size=2)},
                    (x, y), wrt=(0,)),
        ModuleInput("bad-reduction", {**base, "reduction": "foo"}, (x, y), wrt=(0,)),
    ]


_X = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
_W = torch.eye(2, dtype=torch.float64)
_L0 = 0.31326168751822286  # log(1 + e^-1): logits (1, 0), target 0
_L1 = 1.3132616875182228  # log(1 + e^1): logits (1, 0), target 1
KNOWN = [
    KnownValue("none", (_X, _W, torch.tensor([0, 1])), {"reduction": "none"}, [_L0, _L1]),
    KnownValue("mean", (_X, _W, torch.tensor([0, 1])), {}, (_L0 + _L1) / 2),
    KnownValue("weighted-mean", (_X, _W, torch.tensor([0, 1])),
               {"weight": torch.tensor([2.0, 1.0], dtype=torch.float64)}, (2 * _L0 + _L1) / 3),
    KnownValue("bias-sum", (_X, _W, torch.tensor([0, 1])),  # bias (0, 1) makes the logits (1, 1): log 2 each
               {"reduction": "sum", "linear_bias": torch.tensor([0.0, 1.0], dtype=torch.float64)},
               2 * 0.6931471805599453),
]


def hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
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
        hand = RF.linear_cross_entropy_grad(grad_output, x, w, y, bias, kw.get("weight"), reduction,
                                            kw.get("ignore_index"), smoothing)
    else:
        flat = w.reshape(-1, x.shape[-1])
        logits = x @ flat.T + (0 if bias is None else bias.reshape(-1))
        logits = logits.reshape(*x.shape[:-1], *w.shape[:-1])
        ignore = kw.get("ignore_index")
        g = cross_entropy_grad(grad_output, logits, y, kw.get("weight"), -100 if ignore is None else ignore,
                               reduction, smoothing)[0].reshape(-1, flat.shape[0])
        hand = (g @ flat, (g.T @ x.reshape(-1, x.shape[-1])).reshape(w.shape),
                None if bias is None else g.sum(0).reshape(bias.shape))
    return [h for h in hand if h is not None], list(expected)


LINEAR_CROSS_ENTROPY_CASES = [
    LossCase(
        name="linear_cross_entropy", part="large_output", chapter="linear_cross_entropy",
        torch_fn=F.linear_cross_entropy, ref_fn=RF.linear_cross_entropy,
        torch_module=torch.nn.LinearCrossEntropyLoss, ref_module=RN.LinearCrossEntropyLoss,
        samples=samples, errors=errors, modules=modules, known_values=KNOWN,
        dtypes={"cpu": FLOATING, "cuda": FLOATING}, hand_gradient=hand_gradient,
        # torch supports double backward on its reference path only; refimpl.fast's chunked Function precomputes
        # the gradient in the forward pass (as torch's chunked path, which supports no double backward). The
        # readable refimpl's gradient is differentiable, but this flag covers both implementations (issue 16)
        double_backward=False,
    ),
]
