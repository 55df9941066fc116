"""Registry entry of cosine_embedding_loss (book/margin/cosine_embedding.ipynb).

Every reduction x margin, the kinks (a dissimilar pair whose cosine equals the margin exactly, computed in the
sample's dtype), targets other than +-1, zero vectors, 1-D pairs, empty batches, the broadcasts torch allows
(input2 against input1 and the other way round, the target against the cosines), integer and bool inputs,
mixed dtypes, and the legacy arguments. Only input1 and input2 are differentiable: ``wrt=(0, 1)`` throughout.
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
from refimpl.margin.cosine_embedding import EPS, cosine_parts

FN = "cosine_embedding_loss"


def _labels(desc: str, n: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded labels -1/+1, both present."""
    signs = torch.randint(0, 2, (n,), generator=make_generator(desc), dtype=torch.int64) * 2 - 1
    signs[0], signs[1] = 1, -1
    return signs.to(dtype=dtype, device=device)


def _cos_in(x1: Tensor, x2: Tensor) -> float:
    """The cosine of a single pair as torch computes it in the pair's dtype: a margin equal to it is a kink."""
    return float(cosine_parts(x1, x2, x1.dim() - 1)[0].reshape(-1)[0])


def cosine_embedding_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    x1, x2, y = randn("cx1", 6, 5, **t), randn("cx2", 6, 5, **t), _labels("cy", 6, dtype, device)
    pair1, pair2 = randn("cp1", 5, **t), randn("cp2", 5, **t)
    # a kink: the dissimilar pair's cosine equals the margin exactly in this dtype (clamp_min: gradient flows)
    k1, k2 = torch.tensor([[1.0, 2.0, 3.0]], **t), torch.tensor([[2.0, 1.0, 0.5]], **t)
    orthogonal1, orthogonal2 = torch.tensor([[1.0, 0.0, 2.0]], **t), torch.tensor([[0.0, 3.0, 0.0]], **t)
    zero_rows1 = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.0, 0.0, 0.0]], **t)
    zero_rows2 = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], **t)
    shaped = [
        # (desc, args, extra kwargs, kink)
        ("shape=(6,5)", (x1, x2, y), {}, False),
        ("margin=0.3", (x1, x2, y), dict(margin=0.3), False),
        ("margin=-0.5", (x1, x2, y), dict(margin=-0.5), False),
        ("margin=1-no-dissimilar-loss", (x1, x2, y), dict(margin=1.0), False),
        ("margin=-1-every-dissimilar-pair-active", (x1, x2, y), dict(margin=-1.0), False),
        ("1-D-pair-target-1", (pair1, pair2, torch.tensor(1.0, **t)), {}, False),
        ("1-D-pair-target--1", (pair1, pair2, torch.tensor(-1.0, **t)), dict(margin=-0.9), False),
        ("empty=(0,5)", (torch.zeros(0, 5, **t), torch.zeros(0, 5, **t), torch.zeros(0, **t)), {}, False),
        ("empty-features=(3,0)", (torch.zeros(3, 0, **t), torch.zeros(3, 0, **t), torch.tensor([1.0, -1.0, 1.0], **t)),
         {}, False),
        ("targets-0-2-nan-and--2", (x1[:4], x2[:4], torch.tensor([0.0, 2.0, math.nan, -2.0], **t)), {}, False),
        ("kink-cos-equals-margin", (k1, k2, torch.tensor([-1.0], **t)), dict(margin=_cos_in(k1, k2)), True),
        ("kink-orthogonal-margin-0", (orthogonal1, orthogonal2, torch.tensor([-1.0], **t)), {}, True),
        # a zero vector: cos = 0 / sqrt(E (|x|^2 + E)) = 0 (NaN in float16, where E rounds to 0, as in torch); the
        # gradient is of size 1/sqrt(E) and the cosine varies on the scale sqrt(E): no finite differences
        ("zero-vectors", (zero_rows1, zero_rows2, torch.tensor([1.0, 1.0, -1.0], **t)), dict(margin=-0.5), True),
        ("identical-and-opposite", (x1[:2], torch.stack([x1[0], -x1[1]]), torch.tensor([1.0, -1.0], **t)), {},
         False),
        # broadcasting: a row of input1 or input2 against a batch, a target of size 1, one pair with N targets
        ("input1-row-(1,5)", (x1[:1], x2, y), {}, False),
        ("input2-row-(1,5)", (x1, x2[:1], y), dict(margin=-0.2), False),
        # a one-column input: the cosine is scale-invariant in that column, so its gradient is 0 up to rounding;
        # refimpl's backward rounds in torch's order, so even that rounding noise matches in float16
        ("input2-column-(6,1)", (x1, x2[:, :1], y), {}, False),
        ("input1-column-(6,1)", (x1[:, :1], x2, y), dict(margin=-0.3), False),
        ("target-(1,)", (x1, x2, y[:1]), {}, False),
        ("one-pair-(1,5)-six-targets", (x1[:1], x2[:1], y), dict(margin=-0.3), False),
        ("target-int64", (x1, x2, y.long()), {}, False),
        ("target-bool", (x1, x2, y > 0), {}, False),
    ]
    if dtype in (torch.float32, torch.float64):
        # magnitudes 1e4 square to 1e8: beyond float16's 65504
        shaped.append(("magnitude-1e4", (x1 * 1e4, x2 * 1e4, y), dict(margin=0.1), False))
        # norms below sqrt(E) = 1e-6: E is no longer negligible and shrinks the cosine towards 0; the cosine
        # changes on the scale of gradcheck's step 1e-6, so it is left out of gradcheck (kink=True)
        shaped.append(("magnitude-1e-7", (x1 * 1e-7, x2 * 1e-7, y), dict(margin=-0.1), True))
    out = []
    for desc, args, kwargs, kink in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", args, dict(kwargs, reduction=reduction), kink=kink))
    out.append(SampleInput("elementwise_mean", (x1, x2, y), dict(reduction="elementwise_mean")))
    out.append(SampleInput("positional-margin-and-reduction", (x1, x2, y, 0.2, None, None, "sum")))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", (x1, x2, y),
                                   dict(size_average=size_average, reduce=reduce, reduction="sum")))
    out.append(SampleInput("legacy-overrides-an-invalid-reduction", (x1, x2, y), dict(reduce=False, reduction="bad")))
    out.append(SampleInput("margin-int", (x1, x2, y), dict(margin=-1)))
    out.append(SampleInput("margin-bool", (x1, x2, y), dict(margin=True)))
    out.append(SampleInput("margin-0-dim-tensor", (x1, x2, y), dict(margin=torch.tensor(0.25))))
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"input2-{str(other)[6:]}", (x1, x2.to(other), y), dict(reduction="none")))
    ints1 = torch.tensor([[1, 2, 0], [3, -1, 2], [0, 0, 0]], device=device)
    ints2 = torch.tensor([[2, 1, 1], [-3, 1, 2], [1, 0, 4]], device=device)
    out.append(SampleInput("inputs-int64-give-float32", (ints1, ints2, torch.tensor([1, -1, 1], device=device)),
                           dict(reduction="none"), wrt=()))
    out.append(SampleInput("inputs-bool-give-float32", (ints1 > 0, ints2 > 0, torch.tensor([1, -1, 1], device=device)),
                           dict(reduction="none"), wrt=()))
    out.append(SampleInput("input1-int64-input2-float", (ints1, ints2.to(dtype), torch.tensor([1, -1, 1], **t)),
                           dict(reduction="none"), wrt=(1,)))
    return out


def cosine_embedding_errors() -> list[ErrorInput]:
    x1, x2, y = torch.randn(4, 5), torch.randn(4, 5), torch.tensor([1.0, -1.0, 1.0, -1.0])
    return [
        ErrorInput("reduction='foo'", (x1, x2, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction='batchmean'", (x1, x2, y), dict(reduction="batchmean"), ValueError,
                   "batchmean is not a valid value for reduction", "reduction"),
        ErrorInput("reduction=None", (x1, x2, y), dict(reduction=None), ValueError,
                   "None is not a valid value for reduction", "reduction"),
        ErrorInput("bad-reduction-before-bad-shapes", (x1, x2, y[:, None]), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("input1-list", ([1.0, 2.0], x2[0], y[0]), {}, TypeError,
                   r"argument 'input1' \(position 1\) must be Tensor, not list", "input1"),
        ErrorInput("input2-list", (x1[0], [1.0] * 5, y[0]), {}, TypeError,
                   r"argument 'input2' \(position 2\) must be Tensor, not list", "input2"),
        ErrorInput("target-float", (x1[0], x2[0], 1.0), {}, TypeError,
                   r"argument 'target' \(position 3\) must be Tensor, not float", "target"),
        ErrorInput("margin-str", (x1, x2, y), dict(margin="a"), TypeError,
                   r"argument 'margin' \(position 4\) must be float, not str", "margin"),
        ErrorInput("margin-None", (x1, x2, y), dict(margin=None), TypeError,
                   r"argument 'margin' \(position 4\) must be float, not NoneType", "margin"),
        ErrorInput("target-2-D", (x1, x2, y[:, None]), {}, RuntimeError,
                   "0D or 1D target tensor expected, multi-target not supported", "target"),
        ErrorInput("3-D-inputs", (torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.ones(2)), {}, RuntimeError,
                   r"1D target tensor expects 2D input tensors, but found inputs with sizes \[2, 3, 4\] and "
                   r"\[2, 3, 4\]", "input1"),
        ErrorInput("3-D-inputs-0-dim-target", (torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.tensor(1.0)), {},
                   RuntimeError, r"0D target tensor expects 1D input tensors", "input1"),
        ErrorInput("1-D-inputs-1-D-target", (x1[0], x2[0], y[:1]), {}, RuntimeError,
                   r"1D target tensor expects 2D input tensors, but found inputs with sizes \[5\] and \[5\]", "input2"),
        ErrorInput("2-D-inputs-0-dim-target", (x1, x2, y[0]), {}, RuntimeError,
                   r"0D target tensor expects 1D input tensors, but found inputs with sizes \[4, 5\] and \[4, 5\]",
                   "input1"),
        ErrorInput("0-dim-inputs", (x1[0, 0], x2[0, 0], y[0]), {}, RuntimeError,
                   r"0D target tensor expects 1D input tensors, but found inputs with sizes \[\] and \[\]", "input1"),
        ErrorInput("input1-2-D-input2-1-D", (x1, x2[0], y), {}, RuntimeError,
                   r"1D target tensor expects 2D input tensors, but found inputs with sizes \[4, 5\] and \[5\]",
                   "input2"),
        ErrorInput("feature-mismatch-(4,5)-(4,3)", (x1, x2[:, :3], y), {}, RuntimeError,
                   r"The size of tensor a \(5\) must match the size of tensor b \(3\) at non-singleton dimension 1",
                   "input2"),
        ErrorInput("batch-mismatch-(4,5)-(3,5)", (x1, x2[:3], y), {}, RuntimeError,
                   r"The size of tensor a \(4\) must match the size of tensor b \(3\) at non-singleton dimension 0",
                   "input2"),
        ErrorInput("target-(3,)-for-4-pairs", (x1, x2, y[:3]), {}, RuntimeError,
                   r"The size of tensor a \(3\) must match the size of tensor b \(4\)", "target"),
        ErrorInput("empty-target-for-4-pairs", (x1, x2, y[:0]), {}, RuntimeError,
                   r"The size of tensor a \(0\) must match the size of tensor b \(4\)", "target"),
        ErrorInput("complex-inputs", (x1.to(torch.complex64), x2.to(torch.complex64), y), {}, NotImplementedError,
                   "clamp is not supported for complex types", "input1"),
    ]


def cosine_embedding_modules() -> list[ModuleInput]:
    x1 = torch.randn(5, 4, dtype=torch.float64, generator=make_generator("cmx1"))
    x2 = torch.randn(5, 4, dtype=torch.float64, generator=make_generator("cmx2"))
    y = _labels("cmy", 5, torch.float64, "cpu")
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x1, x2, y), wrt=(0, 1)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x1, x2, y), wrt=(0, 1)))
    out.append(ModuleInput("margin=0.5", dict(margin=0.5), (x1, x2, y), wrt=(0, 1)))
    out.append(ModuleInput("margin=-0.3-reduction=sum", dict(margin=-0.3, reduction="sum"), (x1, x2, y), wrt=(0, 1)))
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x1, x2, y), wrt=(0, 1)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x1, x2, y), wrt=(0, 1)))
    out.append(ModuleInput("legacy-reduce=False", dict(margin=0.2, reduce=False), (x1, x2, y), wrt=(0, 1)))
    out.append(ModuleInput("1-D-pair", {}, (x1[0], x2[0], y[0]), wrt=(0, 1)))
    return out




def cosine_embedding_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``cosine_embedding_loss_grad`` against torch's backward, for input1 and input2 where they are float."""
    arguments = bound_arguments(RF.cosine_embedding_loss, sample)
    reduction = effective_reduction(arguments)
    x1, x2, y, margin = arguments["input1"], arguments["input2"], arguments["target"], float(arguments["margin"])
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in (x1, x2)]
    value = F.cosine_embedding_loss(*leaves, y, margin=margin, reduction=reduction)
    wanted = [leaf for leaf in leaves if leaf.requires_grad]
    expected = torch.autograd.grad(value, wanted, grad_output)
    hand = RF.cosine_embedding_loss_grad(grad_output, x1, x2, y, margin, reduction)
    return [g for g, leaf in zip(hand, leaves, strict=True) if leaf.requires_grad], list(expected)


def _f64(values: list) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


# by hand: x1 = (3, 4), x2 = (4, 3): <x1, x2> = 24, |x1|^2 = |x2|^2 = 25, so cos = 24 / (25 + E)
COS_34 = 24 / (25 + EPS)

COSINE_EMBEDDING_CASES = [
    LossCase(
        name=FN, part="margin", chapter="cosine_embedding",
        torch_fn=F.cosine_embedding_loss, ref_fn=RF.cosine_embedding_loss,
        torch_module=torch.nn.CosineEmbeddingLoss, ref_module=RN.CosineEmbeddingLoss,
        samples=cosine_embedding_samples,
        errors=cosine_embedding_errors,
        modules=cosine_embedding_modules,
        known_values=[
            KnownValue("similar: 1 - 24 / (25 + E)", (_f64([[3.0, 4.0]]), _f64([[4.0, 3.0]]), _f64([1.0])),
                       dict(reduction="none"), [1 - COS_34]),
            KnownValue("dissimilar: max(0, cos - margin)", (_f64([[3.0, 4.0], [1.0, 0.0]]),
                                                           _f64([[4.0, 3.0], [0.0, 2.0]]), _f64([-1.0, -1.0])),
                       dict(margin=0.5, reduction="none"), [COS_34 - 0.5, 0.0]),
            KnownValue("mean over N, target 0 counts as 0", (_f64([[3.0, 4.0], [1.0, 0.0]]),
                                                            _f64([[4.0, 3.0], [0.0, 2.0]]), _f64([1.0, 0.0])),
                       {}, (1 - COS_34) / 2),
            KnownValue("zero vector: cos 0, loss 1 for y = 1", (_f64([[0.0, 0.0]]), _f64([[1.0, 2.0]]), _f64([1.0])),
                       dict(reduction="sum"), 1.0),
            KnownValue("1-D pair, 0-dim target: a 0-dim loss", (_f64([3.0, 4.0]), _f64([-4.0, -3.0]), _f64(1.0)),
                       dict(reduction="none"), 1 + COS_34),
            KnownValue("E matters below norm 1e-6: cos of (1e-6, 0) with itself", (_f64([1e-6, 0.0]),
                                                                                   _f64([1e-6, 0.0]), _f64(1.0)),
                       dict(reduction="none"), 1 - 1e-12 / (1e-12 + EPS)),
        ],
        dtypes={"cpu": FLOATING, "cuda": FLOATING},
        hand_gradient=cosine_embedding_hand_gradient,
    ),
]
