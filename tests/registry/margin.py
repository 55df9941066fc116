"""Registry entries of the margin losses (book/margin/, refimpl/margin/).

Registry entries of the two pairwise hinge losses: hinge_embedding_loss and margin_ranking_loss
(book/margin/hinge_embedding.ipynb, book/margin/margin_ranking.ipynb).

Both are built on ``clamp_min``, so their kink (x == margin for HingeEmbedding with y = -1, z = 0 for
MarginRanking) counts as active: those samples are marked ``kink=True`` (out of gradcheck) but their gradients
are still compared with torch's. Neither checks its target: labels 0, 2, 0.5 and NaN have samples of their own.

Registry entries of the two multi-class margin losses: multi_margin_loss and multilabel_margin_loss
(book/margin/multi_margin.ipynb, book/margin/multilabel_margin.ipynb).

Both have float32/float64 kernels only on the CPU (torch raises NotImplementedError for float16/bfloat16 there:
an error case), no double backward, and the strict hinge ``z > 0`` (gradient 0 exactly at the margin). On an
empty batch torch's 'mean' and 'sum' return uninitialised memory, so the parity samples hold the empty batch
with 'none' only; tests/test_empty_multi_margin.py checks refimpl's defined values (NaN for 'mean', 0 for
'sum') instead.

Registry entry of cosine_embedding_loss (book/margin/cosine_embedding.ipynb).

Every reduction x margin, the kinks (a dissimilar pair whose cosine equals the margin exactly, computed in the
sample's dtype), targets other than +-1, zero vectors, 1-D pairs, empty batches, the broadcasts torch allows
(input2 against input1 and the other way round, the target against the cosines), integer and bool inputs,
mixed dtypes, and the legacy arguments. Only input1 and input2 are differentiable: ``wrt=(0, 1)`` throughout.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl.margin.cosine_embedding import EPS, cosine_parts

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
# hinge ranking


def _labels(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded labels -1/+1."""
    signs = torch.randint(0, 2, shape, generator=make_generator(desc), dtype=torch.int64) * 2 - 1
    return signs.to(dtype=dtype, device=device)


def _distances(desc: str, *shape: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded non-negative distances, mostly around the default margin 1."""
    return randn(desc, *shape, dtype=torch.float64, device="cpu", scale=1.5).abs().to(dtype=dtype, device=device)


def _legacy_samples(args: tuple, wrt: tuple) -> list[SampleInput]:
    out = [SampleInput("elementwise_mean", args, dict(reduction="elementwise_mean"), wrt=wrt)]
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(
                SampleInput(
                    f"legacy-size_average={size_average}-reduce={reduce}",
                    args,
                    dict(size_average=size_average, reduce=reduce, reduction="sum"),
                    wrt=wrt,
                )
            )
    return out


def hinge_embedding_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Every shape x reduction x margin, the silent broadcasts, the kink x == margin, labels other than -1/+1,
    extreme and non-finite distances, legacy arguments, integer and mixed dtypes. Only the input is
    differentiable (``wrt=(0,)``); one sample shows that a target requiring grad gets none."""
    t = dict(dtype=dtype, device=device)
    out = []
    shaped = [
        ("shape=(3,4)", _distances("hx34", 3, 4, **t), _labels("hy34", 3, 4, **t)),
        ("shape=(2,3,4,5)", _distances("hx2345", 2, 3, 4, 5, **t), _labels("hy2345", 2, 3, 4, 5, **t)),
        ("unbatched=(7,)", _distances("hx7", 7, **t), _labels("hy7", 7, **t)),
        ("0-dim", torch.tensor(0.375, **t), torch.tensor(-1.0, **t)),
        ("empty=(0,)", torch.zeros(0, **t), torch.zeros(0, **t)),
        ("empty=(0,3)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t)),
        # silent broadcasting: the loss takes the broadcast shape, 'mean' divides by its size
        ("broadcast-input-(3,1)-target-(4,)", _distances("hxb", 3, 1, **t), _labels("hyb", 4, **t)),
        ("broadcast-target-(2,1,4)-enlarges-input-(3,4)", _distances("hxc", 3, 4, **t), _labels("hyc", 2, 1, 4, **t)),
        ("broadcast-target-0-dim", _distances("hxd", 5, **t), torch.tensor(-1.0, **t)),
        ("scores-of-both-signs", randn("hxs", 3, 4, scale=2.0, **t), _labels("hys", 3, 4, **t)),
    ]
    for margin in (1.0, 0.5, 2.0, 0.0, -1.0):
        for desc, x, y in shaped:
            for reduction in REDUCTIONS:
                out.append(
                    SampleInput(
                        f"{desc}-margin={margin}-{reduction}",
                        (x, y),
                        dict(margin=margin, reduction=reduction),
                        wrt=(0,),
                    )
                )
    for reduction in REDUCTIONS:
        # the kink: x == margin for y = -1 (and y = 0, where both terms meet) is active; ties at margin 1 and 0.5
        x = torch.tensor([1.0, 1.0, 0.5, 0.5, 1.0, 0.25], **t)
        y = torch.tensor([-1.0, 0.0, -1.0, 1.0, 2.0, -1.0], **t)
        out.append(SampleInput(f"kink-x=margin-1-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,), kink=True))
        out.append(
            SampleInput(
                f"kink-x=margin-0.5-{reduction}", (x, y), dict(margin=0.5, reduction=reduction), wrt=(0,), kink=True
            )
        )
        # labels that are not -1/+1: both terms are added (0, 2, -2, 0.5), a NaN label too
        out.append(
            SampleInput(
                f"labels-0/1-instead-of-±1-{reduction}",
                (_distances("hx01", 3, 4, **t), _labels("hy01", 3, 4, **t).clamp_min(0)),
                dict(reduction=reduction),
                wrt=(0,),
            )
        )
        out.append(
            SampleInput(
                f"labels-2,-2,0.5-{reduction}",
                (randn("hxl", 6, scale=2.0, **t), torch.tensor([2.0, -2.0, 0.5, 2.0, -2.0, 0.5], **t)),
                dict(reduction=reduction),
                wrt=(0,),
            )
        )
        out.append(
            SampleInput(
                f"extreme-1e4-{reduction}",
                (torch.tensor([1e4, -1e4, 1e4, -1e4, 0.5], **t), torch.tensor([1.0, 1.0, -1.0, -1.0, -1.0], **t)),
                dict(reduction=reduction),
                wrt=(0,),
            )
        )
        x_nonfinite = torch.tensor([math.inf, -math.inf, math.nan, math.inf, -math.inf, math.nan, 0.5, 0.5], **t)
        y_nonfinite = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, -1.0, math.nan, math.inf], **t)
        out.append(
            SampleInput(
                f"inf-nan-{reduction}", (x_nonfinite, y_nonfinite), dict(reduction=reduction), wrt=(0,), kink=True
            )
        )
    x, y = _distances("hxe", 3, 4, **t), _labels("hye", 3, 4, **t)
    out += _legacy_samples((x, y), wrt=(0,))
    out.append(SampleInput("positional-margin-and-reduction", (x, y, 0.75, None, None, "sum"), wrt=(0,)))
    out.append(SampleInput("margin-int-2", (x, y), dict(margin=2), wrt=(0,)))
    out.append(SampleInput("margin-bool-True", (x, y), dict(margin=True), wrt=(0,)))
    out.append(SampleInput("margin-0-dim-tensor", (x, y), dict(margin=torch.tensor(1.5)), wrt=(0,)))
    out.append(
        SampleInput(
            "margin-0.1-rounded-to-dtype",
            (torch.tensor([0.0, 0.03, 0.1, 0.2], **t), torch.tensor([-1.0, -1.0, -1.0, 0.0], **t)),
            dict(margin=0.1, reduction="none"),
            wrt=(0,),
            kink=True,
        )
    )  # x = 0.1 sits on the kink
    out.append(SampleInput("target-requires-grad-gets-none", (x, y), {}, wrt=(0, 1)))
    out.append(SampleInput("target-int64", (x, y.long()), {}, wrt=(0,)))
    out.append(SampleInput("target-bool", (x, y > 0), dict(reduction="none"), wrt=(0,)))
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"target-{str(other)[6:]}-loss-in-input-dtype", (x, y.to(other)), {}, wrt=(0,)))
    xi = torch.tensor([0, 0, 3, -2, 5, 1], device=device)
    yi = torch.tensor([-1, 0, 0, 1, -1, 2], device=device)
    for reduction in ("none", "sum"):  # integer loss; 'mean' of it raises (see the errors)
        out.append(
            SampleInput(
                f"int64-input-margin-1.7-truncated-{reduction}", (xi, yi), dict(margin=1.7, reduction=reduction), wrt=()
            )
        )
        out.append(
            SampleInput(
                f"int32-input-float-target-{reduction}",
                (xi.int(), yi.to(dtype)),
                dict(margin=2.5, reduction=reduction),
                wrt=(),
            )
        )
    return out


def hinge_embedding_errors() -> list[ErrorInput]:
    x, y = torch.rand(3, 4), torch.ones(3, 4)
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
            "bad-reduction-before-bad-input",
            ([1.0], y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
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
            (torch.rand(2), [1.0, -1.0]),
            {},
            TypeError,
            r"argument 'target' \(position 2\) must be Tensor, not list",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "margin-str",
            (x, y),
            dict(margin="1"),
            TypeError,
            r"argument 'margin' \(position 3\) must be float, not str",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "margin-None",
            (x, y),
            dict(margin=None),
            TypeError,
            r"argument 'margin' \(position 3\) must be float, not NoneType",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "margin-tensor-of-2",
            (x, y),
            dict(margin=torch.ones(2)),
            TypeError,
            r"argument 'margin' \(position 3\) must be float, not Tensor",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "not-broadcastable",
            (torch.rand(3), torch.ones(4)),
            {},
            RuntimeError,
            r"The size of tensor a \(4\) must match the size of tensor b \(3\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input-bool",
            (torch.tensor([True, False]), torch.ones(2)),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with two bool tensors is not supported",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-complex",
            (torch.ones(2, dtype=torch.complex64), torch.ones(2)),
            {},
            NotImplementedError,
            "clamp is not supported for complex types",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "int64-mean",
            (torch.tensor([1, 2]), torch.tensor([1, -1])),
            {},
            RuntimeError,
            r"mean\(\): could not infer output dtype",
            "reduction",
            category="reduction",
        ),
    ]


def hinge_embedding_modules() -> list[ModuleInput]:
    x = _distances("hmx", 3, 4, dtype=torch.float64, device="cpu")
    y = _labels("hmy", 3, 4, dtype=torch.float64, device="cpu")
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y), wrt=(0,)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x, y), wrt=(0,)))
    out += [ModuleInput(f"margin={m}", dict(margin=m), (x, y), wrt=(0,)) for m in (0.5, 2, 0.0)]
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x, y), wrt=(0,)))
    out.append(ModuleInput("legacy-reduce=False", dict(reduce=False), (x, y), wrt=(0,)))
    return out


def hinge_embedding_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``hinge_embedding_loss_grad`` against torch's backward, for the input (the only differentiable argument)."""
    arguments = bound_arguments(RF.hinge_embedding_loss, sample)
    reduction = effective_reduction(arguments)
    x, y, margin = arguments["input"], arguments["target"], float(arguments["margin"])
    leaf = x.detach().clone().requires_grad_(True)
    expected = torch.autograd.grad(
        F.hinge_embedding_loss(leaf, y, margin=margin, reduction=reduction), leaf, grad_output
    )
    rounded = torch.tensor(margin, dtype=x.dtype).item()  # the margin as torch uses it: in input's dtype
    return [RF.hinge_embedding_loss_grad(grad_output, x, y, rounded, reduction)], list(expected)


def _f64(values: list) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


HE_X, HE_Y = [0.5, 1.0, 1.5, -0.3, 2.0, 0.7], [1.0, -1.0, -1.0, 1.0, 0.0, 2.0]


HE_L = [0.5, 0.0, 0.0, -0.3, 2.0 + 0.0, 0.7 + 0.3]  # margin 1: x; max(0, 1 - x); both terms for y = 0 and 2


HE_L2 = [0.5, 1.0, 0.5, -0.3, 2.0 + 0.0, 0.7 + 1.3]  # margin 2


def _scores(desc: str, *shape: int, dtype: torch.dtype, device: str) -> tuple[Tensor, Tensor]:
    return randn(desc + "1", *shape, dtype=dtype, device=device), randn(desc + "2", *shape, dtype=dtype, device=device)


def margin_ranking_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    """Every shape x reduction x margin, broadcasts between tensors of equal ndim, ties and the kink z = 0,
    targets other than -1/+1, extreme and non-finite scores, legacy arguments, integer and mixed dtypes.
    All three arguments are differentiable (``wrt=(0, 1, 2)``)."""
    t = dict(dtype=dtype, device=device)
    out = []
    shaped = [
        ("shape=(3,4)", *_scores("m34", 3, 4, **t), _labels("my34", 3, 4, **t)),
        ("shape=(2,3,4,5)", *_scores("m2345", 2, 3, 4, 5, **t), _labels("my2345", 2, 3, 4, 5, **t)),
        ("unbatched=(7,)", *_scores("m7", 7, **t), _labels("my7", 7, **t)),
        ("0-dim", torch.tensor(0.75, **t), torch.tensor(-0.5, **t), torch.tensor(-1.0, **t)),
        ("empty=(0,)", torch.zeros(0, **t), torch.zeros(0, **t), torch.zeros(0, **t)),
        ("empty=(0,3)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t), torch.zeros(0, 3, **t)),
        # broadcasting between tensors of the same ndim
        ("broadcast-(4,)-(1,)-(4,)", randn("mb1", 4, **t), randn("mb2", 1, **t), _labels("mby", 4, **t)),
        ("broadcast-(4,1)-(1,3)-(1,1)", randn("mc1", 4, 1, **t), randn("mc2", 1, 3, **t), torch.tensor([[-1.0]], **t)),
        (
            "broadcast-target-(3,4)-enlarges-(3,1)",
            randn("md1", 3, 1, **t),
            randn("md2", 3, 1, **t),
            _labels("mdy", 3, 4, **t),
        ),
    ]
    for margin in (0.0, 0.5, 1.0, -1.0):
        for desc, x1, x2, y in shaped:
            for reduction in REDUCTIONS:
                out.append(
                    SampleInput(
                        f"{desc}-margin={margin}-{reduction}",
                        (x1, x2, y),
                        dict(margin=margin, reduction=reduction),
                        wrt=(0, 1, 2),
                    )
                )
    for reduction in REDUCTIONS:
        # ties x1 == x2 with margin 0, and z = -y (x1 - x2) + m == 0 with margin 0.5: the kink, active
        x1 = torch.tensor([1.0, -2.0, 0.5, 1.5, 0.0, 3.0], **t)
        x2 = torch.tensor([1.0, -2.0, 0.0, 2.0, 0.5, 1.0], **t)
        y = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0], **t)
        out.append(
            SampleInput(
                f"ties-x1=x2-margin-0-{reduction}", (x1, x2, y), dict(reduction=reduction), wrt=(0, 1, 2), kink=True
            )
        )
        out.append(
            SampleInput(
                f"kink-z=0-margin-0.5-{reduction}",
                (x1, x2, y),
                dict(margin=0.5, reduction=reduction),
                wrt=(0, 1, 2),
                kink=True,
            )
        )
        x1, x2 = _scores("mt", 6, **t)
        out.append(
            SampleInput(
                f"targets-0,2,0.5,-3-{reduction}",
                (x1, x2, torch.tensor([0.0, 2.0, 0.5, -3.0, 0.0, 2.0], **t)),
                dict(margin=0.25, reduction=reduction),
                wrt=(0, 1, 2),
            )
        )
        out.append(
            SampleInput(
                f"extreme-1e4-{reduction}",
                (
                    torch.tensor([1e4, -1e4, 1e4, 0.0], **t),
                    torch.tensor([-1e4, 1e4, 0.0, 1e4], **t),
                    torch.tensor([1.0, 1.0, -1.0, -1.0], **t),
                ),
                dict(margin=1.0, reduction=reduction),
                wrt=(0, 1, 2),
            )
        )
        inf, nan = math.inf, math.nan
        out.append(
            SampleInput(
                f"inf-nan-{reduction}",
                (
                    torch.tensor([inf, inf, nan, 1.0, 1.0, -inf], **t),
                    torch.tensor([0.0, inf, 0.0, 1.0, nan, 0.0], **t),
                    torch.tensor([1.0, 1.0, 1.0, nan, 1.0, -1.0], **t),
                ),
                dict(reduction=reduction),
                wrt=(0, 1, 2),
                kink=True,
            )
        )
    x1, x2 = _scores("me", 3, 4, **t)
    y = _labels("mye", 3, 4, **t)
    out += _legacy_samples((x1, x2, y), wrt=(0, 1, 2))
    out.append(SampleInput("positional-margin-and-reduction", (x1, x2, y, 0.3, None, None, "sum"), wrt=(0, 1, 2)))
    out.append(SampleInput("margin-int-1", (x1, x2, y), dict(margin=1), wrt=(0, 1, 2)))
    out.append(SampleInput("margin-0-dim-tensor", (x1, x2, y), dict(margin=torch.tensor(0.5)), wrt=(0, 1, 2)))
    out.append(SampleInput("target-int64", (x1, x2, y.long()), dict(margin=0.1), wrt=(0, 1)))
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"input2-{str(other)[6:]}-promotes", (x1, x2.to(other), y), {}, wrt=(0, 1, 2)))
    out.append(SampleInput(f"target-{str(other)[6:]}-promotes", (x1, x2, y.to(other)), {}, wrt=(0, 1, 2)))
    x1i = torch.tensor([1, 2, -3, 0], device=device)
    x2i = torch.tensor([2, 0, 1, 0], device=device)
    yi = torch.tensor([1, -1, -1, 1], device=device)
    for reduction in REDUCTIONS:  # integers promote to float32 (the default dtype) with the float margin
        out.append(
            SampleInput(
                f"int64-inputs-float32-loss-{reduction}", (x1i, x2i, yi), dict(margin=0.5, reduction=reduction), wrt=()
            )
        )
        out.append(
            SampleInput(
                f"int64-inputs-float-target-{reduction}", (x1i, x2i, yi.to(dtype)), dict(reduction=reduction), wrt=(2,)
            )
        )
    return out


def margin_ranking_errors() -> list[ErrorInput]:
    a, b, y = torch.randn(4), torch.randn(4), torch.ones(4)
    return [
        ErrorInput(
            "reduction='foo'",
            (a, b, y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='batchmean'",
            (a, b, y),
            dict(reduction="batchmean"),
            ValueError,
            "batchmean is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "bad-reduction-before-bad-ndim",
            (a, b[0], y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "input2-0-dim",
            (a, b[0], y),
            {},
            RuntimeError,
            "All input tensors should have same dimension but got sizes",
            "input2",
            category="shape",
        ),
        ErrorInput(
            "target-0-dim",
            (a, b, y[0]),
            {},
            RuntimeError,
            "All input tensors should have same dimension but got sizes",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-(4,1)-for-(4,)",
            (a, b, y[:, None]),
            {},
            RuntimeError,
            "All input tensors should have same dimension but got sizes",
            "target",
            category="shape",
        ),
        ErrorInput(
            "input1-list",
            ([1.0], b[:1], y[:1]),
            {},
            AttributeError,
            "'list' object has no attribute 'dim'",
            "input1",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (a[:1], b[:1], [1.0]),
            {},
            AttributeError,
            "'list' object has no attribute 'dim'",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "margin-str",
            (a, b, y),
            dict(margin="0"),
            TypeError,
            r"argument 'margin' \(position 4\) must be float, not str",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "margin-None",
            (a, b, y),
            dict(margin=None),
            TypeError,
            r"argument 'margin' \(position 4\) must be float, not NoneType",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "input2-not-broadcastable",
            (a, b[:3], y),
            {},
            RuntimeError,
            r"The size of tensor a \(4\) must match the size of tensor b \(3\)",
            "input2",
            category="shape",
        ),
        ErrorInput(
            "target-not-broadcastable",
            (a, b, y[:3]),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "inputs-bool",
            (a > 0, b > 0, y),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with two bool tensors is not supported",
            "input1",
            category="dtype",
        ),
        ErrorInput(
            "input1-bool",
            (a > 0, b, y),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with a bool tensor is not supported",
            "input1",
            category="dtype",
        ),
        ErrorInput(
            "target-bool",
            (a, b, y > 0),
            {},
            RuntimeError,
            "Negation, the `-` operator, on a bool tensor is not supported",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "input1-complex",
            (a.to(torch.complex64), b, y),
            {},
            NotImplementedError,
            "clamp is not supported for complex types",
            "input1",
            category="dtype",
        ),
    ]


def margin_ranking_modules() -> list[ModuleInput]:
    x1, x2 = _scores("mm", 3, 4, dtype=torch.float64, device="cpu")
    y = _labels("mmy", 3, 4, dtype=torch.float64, device="cpu")
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x1, x2, y)) for r in REDUCTIONS]
    out.append(ModuleInput("default", {}, (x1, x2, y)))
    out += [ModuleInput(f"margin={m}", dict(margin=m), (x1, x2, y)) for m in (0.5, 1, -0.5)]
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x1, x2, y)))
    out.append(ModuleInput("legacy-size_average=False", dict(size_average=False), (x1, x2, y)))
    out.append(ModuleInput("legacy-reduce=False", dict(reduce=False), (x1, x2, y)))
    return out


def margin_ranking_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``margin_ranking_loss_grad`` against torch's backward: its d-gradient summed to each input's shape is
    input1's, its negative input2's, and its target gradient the target's."""
    arguments = bound_arguments(RF.margin_ranking_loss, sample)
    reduction = effective_reduction(arguments)
    x1, x2, y, margin = arguments["input1"], arguments["input2"], arguments["target"], float(arguments["margin"])
    leaves = {
        name: t.detach().clone().requires_grad_(True)
        for name, t in (("input1", x1), ("input2", x2), ("target", y))
        if t.is_floating_point()
    }
    torch_call = {**arguments, **leaves, "size_average": None, "reduce": None, "reduction": reduction}
    expected = torch.autograd.grad(F.margin_ranking_loss(**torch_call), list(leaves.values()), grad_output)
    grad_diff, grad_target = RF.margin_ranking_loss_grad(grad_output, x1 - x2, y, margin, reduction)
    grads = {
        "input1": grad_diff.sum_to_size(x1.shape).to(x1.dtype),
        "input2": torch.neg(grad_diff).sum_to_size(x2.shape).to(x2.dtype),
        "target": grad_target.sum_to_size(y.shape).to(y.dtype),
    }
    return [grads[name] for name in leaves], list(expected)


MR_X1, MR_X2, MR_Y = [1.0, 2.0, 0.5, 0.0], [0.0, 3.0, 0.5, 0.0], [1.0, 1.0, -1.0, 1.0]


MR_L = [0.0, 1.5, 0.5, 0.5]  # margin 0.5: max(0, -y (x1 - x2) + 0.5) with x1 - x2 = 1, -1, 0, 0


HINGE_EMBEDDING_LOSS = LossCase(
    name="hinge_embedding_loss",
    part="margin",
    chapter="hinge_embedding",
    torch_fn=F.hinge_embedding_loss,
    ref_fn=RF.hinge_embedding_loss,
    torch_module=torch.nn.HingeEmbeddingLoss,
    ref_module=RN.HingeEmbeddingLoss,
    samples=hinge_embedding_samples,
    errors=hinge_embedding_errors,
    modules=hinge_embedding_modules,
    known_values=[
        KnownValue(
            "none, margin 1: x for y=1, max(0, m-x) for y=-1, both otherwise",
            (_f64(HE_X), _f64(HE_Y)),
            dict(reduction="none"),
            HE_L,
        ),
        KnownValue("none, margin 2", (_f64(HE_X), _f64(HE_Y)), dict(margin=2.0, reduction="none"), HE_L2),
        KnownValue("mean: sum / n", (_f64(HE_X), _f64(HE_Y)), {}, sum(HE_L) / 6),
        KnownValue("sum", (_f64(HE_X), _f64(HE_Y)), dict(reduction="sum"), sum(HE_L)),
        KnownValue(
            "broadcast (3,1) x (2,): mean over the 6 elements",
            (_f64([[0.5], [1.5], [0.25]]), _f64([1.0, -1.0])),
            {},
            (0.5 + 0.5 + 1.5 + 0.0 + 0.25 + 0.75) / 6,
        ),
    ],
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=hinge_embedding_hand_gradient,
    fuzz=fuzz.hinge_embedding(),
    mixed_precision=lambda r: (
        (mixed.normal("h-x", mixed.LARGE, scale=2.0), mixed.signs("h-y", mixed.LARGE)),
        dict(reduction=r),
        (0,),
    ),
)


MARGIN_RANKING_LOSS = LossCase(
    name="margin_ranking_loss",
    part="margin",
    chapter="margin_ranking",
    torch_fn=F.margin_ranking_loss,
    ref_fn=RF.margin_ranking_loss,
    torch_module=torch.nn.MarginRankingLoss,
    ref_module=RN.MarginRankingLoss,
    samples=margin_ranking_samples,
    errors=margin_ranking_errors,
    modules=margin_ranking_modules,
    known_values=[
        KnownValue(
            "none, margin 0.5: max(0, -y (x1 - x2) + m)",
            (_f64(MR_X1), _f64(MR_X2), _f64(MR_Y)),
            dict(margin=0.5, reduction="none"),
            MR_L,
        ),
        KnownValue("mean", (_f64(MR_X1), _f64(MR_X2), _f64(MR_Y)), dict(margin=0.5), sum(MR_L) / 4),
        KnownValue("sum, margin 0 (default)", (_f64(MR_X1), _f64(MR_X2), _f64(MR_Y)), dict(reduction="sum"), 1.0),
        KnownValue(
            "target 0 gives max(0, m) whatever the scores",
            (_f64(MR_X1), _f64(MR_X2), _f64([0.0] * 4)),
            dict(margin=0.3, reduction="none"),
            [0.3] * 4,
        ),
    ],
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=margin_ranking_hand_gradient,
    fuzz=fuzz.margin_ranking(),
    large_sum_check=True,
    mixed_precision=lambda r: (
        (mixed.normal("m-a", mixed.LARGE), mixed.normal("m-b", mixed.LARGE), mixed.signs("m-y", mixed.LARGE)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


# --------------------------------------------------------------------------------------------------------------
# multi margin


CPU_DTYPES = (torch.float64, torch.float32)


def _classes(desc: str, n: int, c: int, device: str) -> Tensor:
    return torch.randint(0, c, (n,), generator=make_generator(desc)).to(device)


def _legacy(out: list, x: Tensor, y: Tensor, prefix: str = "") -> None:
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(
                SampleInput(
                    f"{prefix}legacy-size_average={size_average}-reduce={reduce}",
                    (x, y),
                    dict(size_average=size_average, reduce=reduce, reduction="sum"),
                    wrt=(0,),
                )
            )


def _kink_scores(device: str, dtype: torch.dtype, margin: float) -> tuple[Tensor, Tensor]:
    """Rows whose wrong-class scores sit exactly at the margin (z = 0), inside it, tied with the true class and
    far below it; all values exact in every dtype."""
    x = torch.tensor(
        [
            [2.0, 2.0 - margin, 0.5, 2.0],  # z = 0 for class 1, tie (z = margin) for class 3
            [-1.0, 0.0, -1.0 - margin, 3.0],  # z = 0 for class 2 (target 0)
            [0.0, 1.0, 1.0 + margin, -4.0],
        ],
        dtype=torch.float64,
    )  # z = 0 for class 1 (target 2)
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
                    out.append(
                        SampleInput(
                            f"(4,5)-p={p}-margin={margin}-weight={weighted}-{reduction}", (x, y), kwargs, wrt=(0,)
                        )
                    )
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
        (
            "all-classes-below-margin",
            torch.tensor([[5.0, 0.0, 1.0], [0.0, -3.0, 2.5]], **t),
            torch.tensor([0, 2], device=device),
        ),
    ]
    for desc, xs, ys in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (xs, ys), dict(reduction=reduction), wrt=(0,)))
            out.append(
                SampleInput(
                    f"{desc}-p=2-weight-{reduction}",
                    (xs, ys),
                    dict(
                        p=2,
                        reduction=reduction,
                        weight=torch.linspace(
                            0.5, 2.0, max(1, xs.shape[-1] if xs.dim() else 1), dtype=torch.float64
                        ).to(**t),
                    ),
                    wrt=(0,),
                )
            )
    # the empty batch: 'none' only (torch's 'mean'/'sum' are uninitialised memory)
    out.append(
        SampleInput(
            "empty-(0,5)-none",
            (torch.zeros(0, 5, **t), torch.zeros(0, dtype=torch.int64, device=device)),
            dict(reduction="none"),
            wrt=(0,),
        )
    )
    for margin in (1.0, 0.5):
        xk, yk = _kink_scores(device, dtype, margin)
        for p in (1, 2):
            for reduction in REDUCTIONS:
                out.append(
                    SampleInput(
                        f"kink-z=0-margin={margin}-p={p}-{reduction}",
                        (xk, yk),
                        dict(p=p, margin=margin, reduction=reduction),
                        wrt=(0,),
                        kink=True,
                    )
                )
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
    out.append(
        SampleInput(
            "weight-with-zeros",
            (x, y),
            dict(weight=torch.tensor([0.0, 1.0, 0.0, 2.0, 0.5], **t), reduction="none"),
            wrt=(0,),
        )
    )
    out.append(SampleInput("elementwise_mean", (x, y), dict(reduction="elementwise_mean"), wrt=(0,)))
    out.append(SampleInput("positional-all", (x, y, 2, 0.5, w, None, None, "sum"), wrt=(0,)))
    _legacy(out, x, y)
    return out


def multi_margin_errors() -> list[ErrorInput]:
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 4])
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
            "reduction-before-p",
            (x, y),
            dict(p=3, reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput("p=3", (x, y), dict(p=3), ValueError, "only p == 1 and p == 2 supported", "p=", category="value"),
        ErrorInput(
            "p=1.5", (x, y), dict(p=1.5), ValueError, "only p == 1 and p == 2 supported", "p=", category="value"
        ),
        ErrorInput(
            "weight-2-D",
            (x, y),
            dict(weight=torch.ones(1, 5)),
            ValueError,
            "weight must be one-dimensional",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-0-dim",
            (x, y),
            dict(weight=torch.tensor(1.0)),
            ValueError,
            "weight must be one-dimensional",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-wrong-length",
            (x, y),
            dict(weight=torch.ones(4)),
            RuntimeError,
            r"inconsistent weight size, expected 5 but got \[4\]",
            "weight",
            category="shape",
        ),
        ErrorInput(
            "weight-float64-input-float32",
            (x, y),
            dict(weight=torch.ones(5, dtype=torch.float64)),
            RuntimeError,
            "expected scalar type Float but found Double",
            "weight",
            category="dtype",
        ),
        ErrorInput(
            "weight-int64",
            (x, y),
            dict(weight=torch.ones(5, dtype=torch.int64)),
            RuntimeError,
            "expected scalar type Float but found Long",
            "weight",
            category="dtype",
        ),
        ErrorInput(
            "weight-requires-grad",
            (x, y),
            dict(weight=torch.ones(5, requires_grad=True)),
            RuntimeError,
            "is not differentiable with respect to argument 'weight'",
            "weight",
            category="requires_grad",
        ),
        ErrorInput(
            "input-3-D",
            (torch.randn(2, 3, 4), torch.tensor([1, 1])),
            {},
            RuntimeError,
            r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[2, 3, 4\]",
            "input",
            category="shape",
        ),
        ErrorInput(
            "C=0",
            (torch.randn(3, 0), torch.tensor([0, 0, 0])),
            {},
            RuntimeError,
            r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[3, 0\]",
            "input",
            category="shape",
        ),
        ErrorInput(
            "empty-vector",
            (torch.randn(0), torch.tensor(0)),
            {},
            RuntimeError,
            r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[0\]",
            "input",
            category="shape",
        ),
        ErrorInput(
            "target-(4,1)",
            (x, y[:, None]),
            {},
            RuntimeError,
            r"target tensor should be 1-D with size equal to the number of input samples",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-too-short",
            (x, y[:3]),
            {},
            RuntimeError,
            r"Expected target size \[4\], but got \[3\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-0-dim-for-batch-of-4",
            (x, torch.tensor(1)),
            {},
            RuntimeError,
            r"Expected target size \[4\], but got \[\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "unbatched-target-(2,)",
            (torch.randn(5), torch.tensor([1, 2])),
            {},
            RuntimeError,
            r"Expected target size \[1\], but got \[2\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-out-of-range",
            (x, torch.tensor([0, 1, 2, 5])),
            {},
            RuntimeError,
            "target out of range",
            "target",
            category="index",
        ),
        ErrorInput(
            "target-negative",
            (x, torch.tensor([0, 1, 2, -1])),
            {},
            RuntimeError,
            "target out of range",
            "target",
            category="index",
        ),
        ErrorInput(
            "target-minus-100",
            (x, torch.tensor([0, 1, 2, -100])),
            {},
            RuntimeError,
            "target out of range",
            "target",
            category="index",
        ),
        ErrorInput(
            "target-float",
            (x, y.double()),
            {},
            RuntimeError,
            "expected scalar type Long but found Double",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-int32",
            (x, y.int()),
            {},
            RuntimeError,
            "expected scalar type Long but found Int",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "input-float16-cpu",
            (x.half(), y),
            {},
            NotImplementedError,
            "\"multi_margin_loss_cpu_kernel\" not implemented for 'Half'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-bfloat16-cpu",
            (x.bfloat16(), y),
            {},
            NotImplementedError,
            "\"multi_margin_loss_cpu_kernel\" not implemented for 'BFloat16'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-int64",
            (torch.ones(4, 5, dtype=torch.int64), y),
            {},
            NotImplementedError,
            "not implemented for 'Long'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-bool",
            (torch.ones(4, 5, dtype=torch.bool), y),
            {},
            NotImplementedError,
            "not implemented for 'Bool'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-complex",
            (torch.ones(4, 5, dtype=torch.complex64), y),
            {},
            NotImplementedError,
            "not implemented for 'ComplexFloat'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "margin-str",
            (x, y),
            dict(margin="a"),
            TypeError,
            r"argument 'margin' \(position 4\) must be Number, not str",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "input-list",
            ([1.0, 2.0], y),
            {},
            TypeError,
            r"argument 'input' \(position 1\) must be Tensor, not list",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (x, [0, 1, 2, 3]),
            {},
            TypeError,
            r"argument 'target' \(position 2\) must be Tensor, not list",
            "target",
            category="dtype",
        ),
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


def multi_margin_by_hand(
    x: list[list[float]], y: list[int], p: int = 1, margin: float = 1.0, w: list[float] | None = None
) -> list[float]:
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


def _label_lists(device: str) -> Tensor:
    """Rows for a (6, 5) batch: two labels, duplicates, every class a label (no -1), no label (-1 first), valid
    entries after the -1 (ignored), a multi-hot 0/1 row (read as the class indices 0 and 1)."""
    return torch.tensor(
        [[1, 3, -1, -1, -1], [2, 2, 0, -1, -1], [4, 0, 1, 2, 3], [-1, 0, 1, 2, 3], [0, -1, 4, 4, -1], [0, 1, 1, 0, 1]],
        device=device,
    )


def multilabel_margin_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    x = randn("mlx", 6, 5, **t)
    y = _label_lists(device)
    shaped = [
        ("(6,5)-label-lists", x, y),
        (
            "(3,4)-one-label",
            randn("mlx34", 3, 4, **t),
            torch.tensor([[0, -1, 0, 0], [3, -1, 1, 1], [2, -1, -1, -1]], device=device),
        ),
        ("unbatched-(5,)", randn("mlx5", 5, **t), torch.tensor([3, 0, -1, 1, 1], device=device)),
        ("0-dim-input", randn("mlx0", **t).reshape(()), torch.tensor(0, device=device)),
        ("0-dim-input-target-(1,)", randn("mlx0b", **t).reshape(()), torch.tensor([-1], device=device)),
        ("non-contiguous", randn("mlxnc", 5, 6, **t).t(), y),
        ("scores-1e4", randn("mlxl", 6, 5, scale=1e4, **t), y),
        (
            "(8,40)-wide",
            randn("mlxw", 8, 40, **t),
            torch.cat([torch.randint(0, 40, (8, 6), generator=make_generator("mlyw")), torch.full((8, 34), -1)], 1).to(
                device
            ),
        ),
    ]
    for desc, xs, ys in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", (xs, ys), dict(reduction=reduction), wrt=(0,)))
    out.append(
        SampleInput(
            "empty-(0,5)-none",
            (torch.zeros(0, 5, **t), torch.zeros(0, 5, dtype=torch.int64, device=device)),
            dict(reduction="none"),
            wrt=(0,),
        )
    )
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
            "reduction-before-shape",
            (torch.randn(1, 1, 4), y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "input-3-D",
            (torch.randn(2, 2, 4), torch.zeros(2, 2, 4, dtype=torch.int64)),
            {},
            RuntimeError,
            r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[2, 2, 4\]",
            "input",
            category="shape",
        ),
        ErrorInput(
            "C=0",
            (torch.randn(3, 0), torch.zeros(3, 0, dtype=torch.int64)),
            {},
            RuntimeError,
            r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: \[3, 0\]",
            "input",
            category="shape",
        ),
        ErrorInput(
            "target-(2,3)",
            (x, y[:, :3]),
            {},
            RuntimeError,
            r"inconsistent target size: \[2, 3\] for input of size: \[2, 4\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "unbatched-target-2-D",
            (torch.randn(4), y[:1]),
            {},
            RuntimeError,
            r"inconsistent target size: \[1, 4\] for input of size: \[4\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "batched-(1,4)-target-1-D",
            (torch.randn(1, 4), y[0]),
            {},
            RuntimeError,
            r"inconsistent target size: \[4\] for input of size: \[1, 4\]",
            "target",
            category="shape",
        ),
        ErrorInput(
            "target-equal-C",
            (x, torch.tensor([[4, -1, 0, 0], [0, 0, 0, 0]])),
            {},
            RuntimeError,
            oob,
            "target",
            category="index",
        ),
        ErrorInput(
            "target-minus-2",
            (x, torch.tensor([[-2, -1, 0, 0], [0, 0, 0, 0]])),
            {},
            RuntimeError,
            oob,
            "target",
            category="index",
        ),
        ErrorInput(
            "target-out-of-range-after-the--1",
            (x, torch.tensor([[0, -1, 9, 0], [0, 0, 0, 0]])),
            {},
            RuntimeError,
            oob,
            "target",
            category="index",
        ),
        ErrorInput(
            "target-float",
            (x, y.double()),
            {},
            RuntimeError,
            "expected scalar type Long but found Double",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "target-int32",
            (x, y.int()),
            {},
            RuntimeError,
            "expected scalar type Long but found Int",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "input-float16-cpu",
            (x.half(), y),
            {},
            NotImplementedError,
            "\"multilabel_margin_loss_forward_out_frame\" not implemented for 'Half'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-bfloat16-cpu",
            (x.bfloat16(), y),
            {},
            NotImplementedError,
            "not implemented for 'BFloat16'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-int64",
            (torch.ones(2, 4, dtype=torch.int64), y),
            {},
            NotImplementedError,
            "not implemented for 'Long'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-bool",
            (torch.ones(2, 4, dtype=torch.bool), y),
            {},
            NotImplementedError,
            "not implemented for 'Bool'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-complex",
            (torch.ones(2, 4, dtype=torch.complex64), y),
            {},
            NotImplementedError,
            "not implemented for 'ComplexFloat'",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "input-list",
            ([1.0, 2.0], y),
            {},
            TypeError,
            r"argument 'input' \(position 1\) must be Tensor, not list",
            "input",
            category="dtype",
        ),
        ErrorInput(
            "target-list",
            (x, [0, 1, 2, 3]),
            {},
            TypeError,
            r"argument 'target' \(position 2\) must be Tensor, not list",
            "target",
            category="dtype",
        ),
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


MULTI_MARGIN_LOSS = LossCase(
    name="multi_margin_loss",
    part="margin",
    chapter="multi_margin",
    torch_fn=F.multi_margin_loss,
    ref_fn=RF.multi_margin_loss,
    torch_module=torch.nn.MultiMarginLoss,
    ref_module=RN.MultiMarginLoss,
    samples=multi_margin_samples,
    errors=multi_margin_errors,
    modules=multi_margin_modules,
    known_values=[
        KnownValue(
            "none: sum over wrong classes / C",
            (_f64(MM_X), torch.tensor(MM_Y)),
            dict(reduction="none"),
            multi_margin_by_hand(MM_X, MM_Y),
        ),
        KnownValue(
            "doc example 0.3250",
            (_f64([[0.1, 0.2, 0.4, 0.8]]), torch.tensor([3])),
            {},
            (1 - 0.8 + 0.1 + 1 - 0.8 + 0.2 + 1 - 0.8 + 0.4) / 4,
        ),
        KnownValue(
            "p=2, margin=0.5: squared hinge",
            (_f64(MM_X), torch.tensor(MM_Y)),
            dict(p=2, margin=0.5, reduction="none"),
            multi_margin_by_hand(MM_X, MM_Y, 2, 0.5),
        ),
        KnownValue(
            "weight w[y] after the power",
            (_f64(MM_X), torch.tensor(MM_Y)),
            dict(p=2, weight=_f64(MM_W), reduction="none"),
            multi_margin_by_hand(MM_X, MM_Y, 2, 1.0, MM_W),
        ),
        KnownValue(
            "mean over N (already / C)", (_f64(MM_X), torch.tensor(MM_Y)), {}, sum(multi_margin_by_hand(MM_X, MM_Y)) / 2
        ),
        KnownValue(
            "sum", (_f64(MM_X), torch.tensor(MM_Y)), dict(reduction="sum"), sum(multi_margin_by_hand(MM_X, MM_Y))
        ),
        KnownValue(
            "exactly at the margin: 0", (_f64([[2.0, 1.0, 0.0]]), torch.tensor([0])), dict(reduction="none"), [0.0]
        ),
    ],
    dtypes={"cpu": CPU_DTYPES, "cuda": FLOATING},
    hand_gradient=multi_margin_hand_gradient,
    error_categories=frozenset({"shape", "dtype", "reduction", "index", "device"}),
    fuzz=fuzz.multi_margin(),
    mixed_precision=lambda r: (
        (mixed.normal("mm-x", mixed.N, mixed.C), mixed.classes("mm-y", mixed.N, mixed.C)),
        dict(reduction=r, weight=mixed.uniform("mm-w", mixed.C, low=0.5, high=2.0)),
        (0,),
    ),
    known_differences={**NO_JVP_YET},
)


MULTILABEL_MARGIN_LOSS = LossCase(
    name="multilabel_margin_loss",
    part="margin",
    chapter="multilabel_margin",
    torch_fn=F.multilabel_margin_loss,
    ref_fn=RF.multilabel_margin_loss,
    torch_module=torch.nn.MultiLabelMarginLoss,
    ref_module=RN.MultiLabelMarginLoss,
    samples=multilabel_margin_samples,
    errors=multilabel_margin_errors,
    modules=multilabel_margin_modules,
    known_values=[
        KnownValue("doc example 0.85", (_f64(ML_X), torch.tensor([[3, 0, -1, 1]])), {}, 0.85),
        KnownValue(
            "labels {1, 2}",
            (_f64(ML_X), torch.tensor([[1, 2, -1, -1]])),
            dict(reduction="none"),
            multilabel_margin_by_hand(ML_X, [[1, 2, -1, -1]]),
        ),
        KnownValue(
            "duplicate label counts twice",
            (_f64(ML_X), torch.tensor([[1, 1, 2, -1]])),
            dict(reduction="none"),
            multilabel_margin_by_hand(ML_X, [[1, 1, 2, -1]]),
        ),
        KnownValue(
            "multi-hot 0/1 row read as indices 0, 1, 1, 0",
            (_f64(ML_X), torch.tensor([[0, 1, 1, 0]])),
            dict(reduction="none"),
            [2.9],
        ),
        KnownValue(
            "first entry -1: no labels, 0", (_f64(ML_X), torch.tensor([[-1, 1, 2, 3]])), dict(reduction="none"), [0.0]
        ),
        KnownValue("every class a label: 0", (_f64(ML_X), torch.tensor([[3, 1, 2, 0]])), dict(reduction="none"), [0.0]),
        KnownValue(
            "sum of two rows",
            (_f64([ML_X[0], [1.0, 0.0, 0.0, 0.0]]), torch.tensor([[3, -1, 0, 0], [0, -1, 0, 0]])),
            dict(reduction="sum"),
            sum(multilabel_margin_by_hand([ML_X[0], [1.0, 0.0, 0.0, 0.0]], [[3, -1], [0, -1]])),
        ),
    ],
    dtypes={"cpu": CPU_DTYPES, "cuda": FLOATING},
    hand_gradient=multilabel_margin_hand_gradient,
    error_categories=frozenset({"shape", "dtype", "reduction", "index", "device"}),
    fuzz=fuzz.multilabel_margin(),
    known_differences={
        **NO_JVP_YET,
        "mixed-precision": "one floating argument (the target holds class indices): no mix to make",
    },
)


# --------------------------------------------------------------------------------------------------------------
# cosine embedding


FN = "cosine_embedding_loss"


def _row_labels(desc: str, n: int, dtype: torch.dtype, device: str) -> Tensor:
    """Seeded labels -1/+1, both present."""
    signs = torch.randint(0, 2, (n,), generator=make_generator(desc), dtype=torch.int64) * 2 - 1
    signs[0], signs[1] = 1, -1
    return signs.to(dtype=dtype, device=device)


def _cos_in(x1: Tensor, x2: Tensor) -> float:
    """The cosine of a single pair as torch computes it in the pair's dtype: a margin equal to it is a kink."""
    return float(cosine_parts(x1, x2, x1.dim() - 1)[0].reshape(-1)[0])


def cosine_embedding_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    x1, x2, y = randn("cx1", 6, 5, **t), randn("cx2", 6, 5, **t), _row_labels("cy", 6, dtype, device)
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
        (
            "empty-features=(3,0)",
            (torch.zeros(3, 0, **t), torch.zeros(3, 0, **t), torch.tensor([1.0, -1.0, 1.0], **t)),
            {},
            False,
        ),
        ("targets-0-2-nan-and--2", (x1[:4], x2[:4], torch.tensor([0.0, 2.0, math.nan, -2.0], **t)), {}, False),
        ("kink-cos-equals-margin", (k1, k2, torch.tensor([-1.0], **t)), dict(margin=_cos_in(k1, k2)), True),
        ("kink-orthogonal-margin-0", (orthogonal1, orthogonal2, torch.tensor([-1.0], **t)), {}, True),
        # a zero vector: cos = 0 / sqrt(E (|x|^2 + E)) = 0 (NaN in float16, where E rounds to 0, as in torch); the
        # gradient is of size 1/sqrt(E) and the cosine varies on the scale sqrt(E): no finite differences
        ("zero-vectors", (zero_rows1, zero_rows2, torch.tensor([1.0, 1.0, -1.0], **t)), dict(margin=-0.5), True),
        ("identical-and-opposite", (x1[:2], torch.stack([x1[0], -x1[1]]), torch.tensor([1.0, -1.0], **t)), {}, False),
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
            out.append(
                SampleInput(
                    f"legacy-size_average={size_average}-reduce={reduce}",
                    (x1, x2, y),
                    dict(size_average=size_average, reduce=reduce, reduction="sum"),
                )
            )
    out.append(SampleInput("legacy-overrides-an-invalid-reduction", (x1, x2, y), dict(reduce=False, reduction="bad")))
    out.append(SampleInput("margin-int", (x1, x2, y), dict(margin=-1)))
    out.append(SampleInput("margin-bool", (x1, x2, y), dict(margin=True)))
    out.append(SampleInput("margin-0-dim-tensor", (x1, x2, y), dict(margin=torch.tensor(0.25))))
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"input2-{str(other)[6:]}", (x1, x2.to(other), y), dict(reduction="none")))
    ints1 = torch.tensor([[1, 2, 0], [3, -1, 2], [0, 0, 0]], device=device)
    ints2 = torch.tensor([[2, 1, 1], [-3, 1, 2], [1, 0, 4]], device=device)
    out.append(
        SampleInput(
            "inputs-int64-give-float32",
            (ints1, ints2, torch.tensor([1, -1, 1], device=device)),
            dict(reduction="none"),
            wrt=(),
        )
    )
    out.append(
        SampleInput(
            "inputs-bool-give-float32",
            (ints1 > 0, ints2 > 0, torch.tensor([1, -1, 1], device=device)),
            dict(reduction="none"),
            wrt=(),
        )
    )
    out.append(
        SampleInput(
            "input1-int64-input2-float",
            (ints1, ints2.to(dtype), torch.tensor([1, -1, 1], **t)),
            dict(reduction="none"),
            wrt=(1,),
        )
    )
    return out


def cosine_embedding_errors() -> list[ErrorInput]:
    x1, x2, y = torch.randn(4, 5), torch.randn(4, 5), torch.tensor([1.0, -1.0, 1.0, -1.0])
    return [
        ErrorInput(
            "reduction='foo'",
            (x1, x2, y),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='batchmean'",
            (x1, x2, y),
            dict(reduction="batchmean"),
            ValueError,
            "batchmean is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction=None",
            (x1, x2, y),
            dict(reduction=None),
            ValueError,
            "None is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "bad-reduction-before-bad-shapes",
            (x1, x2, y[:, None]),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "input1-list",
            ([1.0, 2.0], x2[0], y[0]),
            {},
            TypeError,
            r"argument 'input1' \(position 1\) must be Tensor, not list",
            "input1",
            category="dtype",
        ),
        ErrorInput(
            "input2-list",
            (x1[0], [1.0] * 5, y[0]),
            {},
            TypeError,
            r"argument 'input2' \(position 2\) must be Tensor, not list",
            "input2",
            category="dtype",
        ),
        ErrorInput(
            "target-float",
            (x1[0], x2[0], 1.0),
            {},
            TypeError,
            r"argument 'target' \(position 3\) must be Tensor, not float",
            "target",
            category="dtype",
        ),
        ErrorInput(
            "margin-str",
            (x1, x2, y),
            dict(margin="a"),
            TypeError,
            r"argument 'margin' \(position 4\) must be float, not str",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "margin-None",
            (x1, x2, y),
            dict(margin=None),
            TypeError,
            r"argument 'margin' \(position 4\) must be float, not NoneType",
            "margin",
            category="dtype",
        ),
        ErrorInput(
            "target-2-D",
            (x1, x2, y[:, None]),
            {},
            RuntimeError,
            "0D or 1D target tensor expected, multi-target not supported",
            "target",
            category="shape",
        ),
        ErrorInput(
            "3-D-inputs",
            (torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.ones(2)),
            {},
            RuntimeError,
            r"1D target tensor expects 2D input tensors, but found inputs with sizes \[2, 3, 4\] and "
            r"\[2, 3, 4\]",
            "input1",
            category="shape",
        ),
        ErrorInput(
            "3-D-inputs-0-dim-target",
            (torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.tensor(1.0)),
            {},
            RuntimeError,
            r"0D target tensor expects 1D input tensors",
            "input1",
            category="shape",
        ),
        ErrorInput(
            "1-D-inputs-1-D-target",
            (x1[0], x2[0], y[:1]),
            {},
            RuntimeError,
            r"1D target tensor expects 2D input tensors, but found inputs with sizes \[5\] and \[5\]",
            "input2",
            category="shape",
        ),
        ErrorInput(
            "2-D-inputs-0-dim-target",
            (x1, x2, y[0]),
            {},
            RuntimeError,
            r"0D target tensor expects 1D input tensors, but found inputs with sizes \[4, 5\] and \[4, 5\]",
            "input1",
            category="shape",
        ),
        ErrorInput(
            "0-dim-inputs",
            (x1[0, 0], x2[0, 0], y[0]),
            {},
            RuntimeError,
            r"0D target tensor expects 1D input tensors, but found inputs with sizes \[\] and \[\]",
            "input1",
            category="shape",
        ),
        ErrorInput(
            "input1-2-D-input2-1-D",
            (x1, x2[0], y),
            {},
            RuntimeError,
            r"1D target tensor expects 2D input tensors, but found inputs with sizes \[4, 5\] and \[5\]",
            "input2",
            category="shape",
        ),
        ErrorInput(
            "feature-mismatch-(4,5)-(4,3)",
            (x1, x2[:, :3], y),
            {},
            RuntimeError,
            r"The size of tensor a \(5\) must match the size of tensor b \(3\) at non-singleton dimension 1",
            "input2",
            category="shape",
        ),
        ErrorInput(
            "batch-mismatch-(4,5)-(3,5)",
            (x1, x2[:3], y),
            {},
            RuntimeError,
            r"The size of tensor a \(4\) must match the size of tensor b \(3\) at non-singleton dimension 0",
            "input2",
            category="shape",
        ),
        ErrorInput(
            "target-(3,)-for-4-pairs",
            (x1, x2, y[:3]),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "empty-target-for-4-pairs",
            (x1, x2, y[:0]),
            {},
            RuntimeError,
            r"The size of tensor a \(0\) must match the size of tensor b \(4\)",
            "target",
            category="shape",
        ),
        ErrorInput(
            "complex-inputs",
            (x1.to(torch.complex64), x2.to(torch.complex64), y),
            {},
            NotImplementedError,
            "clamp is not supported for complex types",
            "input1",
            category="dtype",
        ),
    ]


def cosine_embedding_modules() -> list[ModuleInput]:
    x1 = torch.randn(5, 4, dtype=torch.float64, generator=make_generator("cmx1"))
    x2 = torch.randn(5, 4, dtype=torch.float64, generator=make_generator("cmx2"))
    y = _row_labels("cmy", 5, torch.float64, "cpu")
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


# by hand: x1 = (3, 4), x2 = (4, 3): <x1, x2> = 24, |x1|^2 = |x2|^2 = 25, so cos = 24 / (25 + E)
COS_34 = 24 / (25 + EPS)


COSINE_EMBEDDING_LOSS = LossCase(
    name=FN,
    part="margin",
    chapter="cosine_embedding",
    torch_fn=F.cosine_embedding_loss,
    ref_fn=RF.cosine_embedding_loss,
    torch_module=torch.nn.CosineEmbeddingLoss,
    ref_module=RN.CosineEmbeddingLoss,
    samples=cosine_embedding_samples,
    errors=cosine_embedding_errors,
    modules=cosine_embedding_modules,
    known_values=[
        KnownValue(
            "similar: 1 - 24 / (25 + E)",
            (_f64([[3.0, 4.0]]), _f64([[4.0, 3.0]]), _f64([1.0])),
            dict(reduction="none"),
            [1 - COS_34],
        ),
        KnownValue(
            "dissimilar: max(0, cos - margin)",
            (_f64([[3.0, 4.0], [1.0, 0.0]]), _f64([[4.0, 3.0], [0.0, 2.0]]), _f64([-1.0, -1.0])),
            dict(margin=0.5, reduction="none"),
            [COS_34 - 0.5, 0.0],
        ),
        KnownValue(
            "mean over N, target 0 counts as 0",
            (_f64([[3.0, 4.0], [1.0, 0.0]]), _f64([[4.0, 3.0], [0.0, 2.0]]), _f64([1.0, 0.0])),
            {},
            (1 - COS_34) / 2,
        ),
        KnownValue(
            "zero vector: cos 0, loss 1 for y = 1",
            (_f64([[0.0, 0.0]]), _f64([[1.0, 2.0]]), _f64([1.0])),
            dict(reduction="sum"),
            1.0,
        ),
        KnownValue(
            "1-D pair, 0-dim target: a 0-dim loss",
            (_f64([3.0, 4.0]), _f64([-4.0, -3.0]), _f64(1.0)),
            dict(reduction="none"),
            1 + COS_34,
        ),
        KnownValue(
            "E matters below norm 1e-6: cos of (1e-6, 0) with itself",
            (_f64([1e-6, 0.0]), _f64([1e-6, 0.0]), _f64(1.0)),
            dict(reduction="none"),
            1 - 1e-12 / (1e-12 + EPS),
        ),
    ],
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    hand_gradient=cosine_embedding_hand_gradient,
    fuzz=fuzz.cosine_embedding(),
    large_sum_check=True,
    mixed_precision=lambda r: (
        (mixed.normal("ce-a", mixed.N, mixed.C), mixed.normal("ce-b", mixed.N, mixed.C), mixed.signs("ce-y", mixed.N)),
        dict(reduction=r),
        (0, 1),
    ),
    known_differences={**NO_JVP_YET},
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [HINGE_EMBEDDING_LOSS, MARGIN_RANKING_LOSS, MULTI_MARGIN_LOSS, MULTILABEL_MARGIN_LOSS, COSINE_EMBEDDING_LOSS]
