"""Registry case for AdaptiveLogSoftmaxWithLoss (book/large_output/adaptive_log_softmax.ipynb).

torch has the loss as a module only, and the generic tests are functional. So both callables are the
module run with explicit weights (``call_with_weights``): ``fn(input, target, head.weight,
tail.0.0.weight, tail.0.1.weight, ..., head_bias=None, cutoffs=None, reduction='mean')``. The weights are
ordinary arguments, so the parity and gradient tests differentiate every parameter. ``reduction='mean'``
is the module's ``loss``; ``'none'`` is the per-sample loss ``-output`` and ``'sum'`` its sum, so the
``output`` field is compared too. ``modules()`` compares the modules themselves (both fields of the named
tuple, ``state_dict`` loading) through ``LossCase.module_result``; log_prob, predict, the named-tuple type
and the state_dict round trip are in tests/test_adaptive_log_softmax.py.
"""

import itertools
import math

import torch
from cases_core import FLOATING, ErrorInput, KnownValue, LossCase, ModuleInput, SampleInput, make_generator
from torch import Tensor

from refimpl.large_output import adaptive_log_softmax as ALS
from refimpl.testing import torch_functional

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


def _sample(desc, device, dtype, target, *, n_in=6, shortlist=3, sizes=(3, 4), hidden=(3, 1), head_bias=False,
            reduction="mean", scale=1.0, unbatched=False, kink=False):
    target = torch.tensor(target, dtype=torch.int64, device=device)
    n = 1 if unbatched else target.numel()
    generator = make_generator(desc)
    x = (scale * torch.randn(n, n_in, generator=generator, dtype=torch.float64)).to(dtype=dtype, device=device)
    if unbatched:
        x = x[0]
    head, tails, bias = _weights(desc, n_in, shortlist, list(sizes), list(hidden), head_bias=head_bias,
                                 dtype=dtype, device=device)
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


def samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    out = []
    for reduction in ("none", "mean", "sum"):
        out.append(_sample(f"cutoffs=[3,6]-reduction={reduction}", device, dtype, MIXED, reduction=reduction))
        out.append(_sample(f"empty-batch-reduction={reduction}", device, dtype, [], reduction=reduction))
    out += [
        _sample("three-tails-cutoffs=[2,5,9]", device, dtype, [0, 1, 2, 4, 5, 8, 9, 11, 3],
                shortlist=2, sizes=(3, 4, 3), hidden=(4, 2, 1)),
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
    out.append(SampleInput(infinite.desc, (x, *infinite.args[1:]), infinite.kwargs, wrt=infinite.wrt, kink=True,
                           forward_only=infinite.forward_only))
    return out


def _errors_base(target, n=None):
    x = torch.randn(len(target) if n is None else n, 6, generator=make_generator("errors"), dtype=torch.float64)
    head, tails, _ = _weights("errors", 6, 3, [3, 4], [3, 1], head_bias=False, dtype=torch.float64, device="cpu")
    return x, head, tails


def errors() -> list[ErrorInput]:
    x, head, tails = _errors_base([0, 1, 2])
    t = torch.tensor([0, 4, 7])
    cut = "cutoffs should be a sequence of unique, positive integers sorted in an increasing order"
    return [
        ErrorInput("cutoffs-empty", (x, t, head, *tails), {"cutoffs": []}, ValueError,
                   "cutoffs should be a sequence of length larger than 0", "cutoffs"),
        ErrorInput("cutoffs-unsorted", (x, t, head, *tails), {"cutoffs": [6, 3]}, ValueError, cut, "cutoffs"),
        ErrorInput("cutoffs-duplicate", (x, t, head, *tails), {"cutoffs": [3, 3]}, ValueError, cut, "cutoffs"),
        ErrorInput("cutoff-equals-n_classes", (x, t, head, *tails), {"cutoffs": [3, 10]}, ValueError, cut,
                   "cutoffs"),
        ErrorInput("cutoff-zero", (x, t, head, *tails), {"cutoffs": [0, 3]}, ValueError, cut, "cutoffs"),
        ErrorInput("cutoff-negative", (x, t, head, *tails), {"cutoffs": [-1, 3]}, ValueError, cut, "cutoffs"),
        # integer input: torch's log_softmax refuses the integer logits (found by tests/test_dtypes.py)
        ErrorInput("input-int64", (x.long(), t, head.long(), *(w.long() for w in tails)), {}, NotImplementedError,
                   "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'", "logits"),
        ErrorInput("target-out-of-range", (x, torch.tensor([0, 4, 10]), head, *tails), {}, RuntimeError,
                   r"Target values should be in \[0, 9\], but values in range \[0, 10\] were found", "target_"),
        ErrorInput("target-negative", (x, torch.tensor([0, -1, 3]), head, *tails), {}, RuntimeError,
                   r"Target values should be in \[0, 9\], but values in range \[-1, 3\] were found", "target_"),
        ErrorInput("batch-size-mismatch", (x, torch.tensor([0, 4]), head, *tails), {}, RuntimeError,
                   "Input and target should have the same size in the batch dimension", "target_"),
        ErrorInput("1d-target-1d-input", (x[0], torch.tensor([0]), head, *tails), {}, RuntimeError,
                   "Input and target should have the same size in the batch dimension", "input_"),
        ErrorInput("1d-target-3d-input", (x[None], torch.tensor([0]), head, *tails), {}, RuntimeError,
                   "1D target tensor expects 2D input tensors", "input_"),
        ErrorInput("0d-target-2d-input", (x, torch.tensor(0), head, *tails), {}, RuntimeError,
                   "0D target tensor expects 1D input tensors", "input_"),
        ErrorInput("2d-target", (x, t[:, None], head, *tails), {}, RuntimeError,
                   "0D or 1D target tensor expected, multi-target not supported", "target_"),
        ErrorInput("float-target", (x, t.double(), head, *tails), {}, RuntimeError,
                   "Expected dtype int32/int64 for index", "target_"),
    ]


def modules() -> list[ModuleInput]:
    generator = make_generator("modules")
    x = torch.randn(10, 8, generator=generator)
    t = torch.tensor(MIXED)
    return [
        ModuleInput("cutoffs=[3,6]", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]}, (x, t), wrt=(0,)),
        ModuleInput("div_value=2-head_bias", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6],
                                              "div_value": 2.0, "head_bias": True}, (x, t), wrt=(0,)),
        ModuleInput("three-tails", {"in_features": 8, "n_classes": 12, "cutoffs": (2, 5, 9)},
                    (x[:9], torch.tensor([0, 1, 2, 4, 5, 8, 9, 11, 3])), wrt=(0,)),
        ModuleInput("div_value=8-zero-width-tails", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6],
                                                     "div_value": 8.0}, (x, t), wrt=(0,)),
        ModuleInput("unbatched", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]}, (x[0], t[1]), wrt=(0,)),
        ModuleInput("empty-batch", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]}, (x[:0], t[:0]),
                    wrt=(0,)),
        ModuleInput("target-out-of-range", {"in_features": 8, "n_classes": 10, "cutoffs": [3, 6]},
                    (x[:2], torch.tensor([0, 10])), wrt=(0,)),
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


def hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The whole gradient by hand: ``target_log_prob_grad`` for each log-softmax-and-gather, then the chain
    rule through the linear maps (dW = G^T x, dx = G W), against torch's module's autograd."""
    x, target, head, *tails = sample.args
    bias, reduction = sample.kwargs.get("head_bias"), sample.kwargs.get("reduction", "mean")
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, head, *tails)]
    leaf_bias = None if bias is None else bias.detach().clone().requires_grad_(True)
    value = TORCH_FN(leaves[0], target, *leaves[1:], head_bias=leaf_bias, reduction=reduction)
    found = torch.autograd.grad(value, leaves + ([leaf_bias] if bias is not None else []), grad_output,
                                allow_unused=True)
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


ADAPTIVE_LOG_SOFTMAX_CASES = [
    LossCase(
        name=NAME, part="large_output", chapter="adaptive_log_softmax",
        torch_fn=TORCH_FN, ref_fn=ALS.adaptive_log_softmax,
        torch_module=torch.nn.AdaptiveLogSoftmaxWithLoss, ref_module=ALS.AdaptiveLogSoftmaxWithLoss,
        samples=samples, errors=errors, modules=modules, known_values=_known(),
        dtypes={"cpu": FLOATING, "cuda": FLOATING}, hand_gradient=hand_gradient,
        module_result=module_result,
    ),
]
