"""Registry entries of the two pairwise hinge losses: hinge_embedding_loss and margin_ranking_loss
(book/margin/hinge_embedding.ipynb, book/margin/margin_ranking.ipynb).

Both are built on ``clamp_min``, so their kink (x == margin for HingeEmbedding with y = -1, z = 0 for
MarginRanking) counts as active: those samples are marked ``kink=True`` (out of gradcheck) but their gradients
are still compared with torch's. Neither checks its target: labels 0, 2, 0.5 and NaN have samples of their own.
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
            out.append(SampleInput(f"legacy-size_average={size_average}-reduce={reduce}", args,
                                   dict(size_average=size_average, reduce=reduce, reduction="sum"), wrt=wrt))
    return out


# ----------------------------------------------------------------------------------------------------
# hinge_embedding_loss


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
                out.append(SampleInput(f"{desc}-margin={margin}-{reduction}", (x, y),
                                       dict(margin=margin, reduction=reduction), wrt=(0,)))
    for reduction in REDUCTIONS:
        # the kink: x == margin for y = -1 (and y = 0, where both terms meet) is active; ties at margin 1 and 0.5
        x = torch.tensor([1.0, 1.0, 0.5, 0.5, 1.0, 0.25], **t)
        y = torch.tensor([-1.0, 0.0, -1.0, 1.0, 2.0, -1.0], **t)
        out.append(SampleInput(f"kink-x=margin-1-{reduction}", (x, y), dict(reduction=reduction), wrt=(0,), kink=True))
        out.append(SampleInput(f"kink-x=margin-0.5-{reduction}", (x, y), dict(margin=0.5, reduction=reduction),
                               wrt=(0,), kink=True))
        # labels that are not -1/+1: both terms are added (0, 2, -2, 0.5), a NaN label too
        out.append(SampleInput(f"labels-0/1-instead-of-±1-{reduction}", (_distances("hx01", 3, 4, **t),
                               _labels("hy01", 3, 4, **t).clamp_min(0)), dict(reduction=reduction), wrt=(0,)))
        out.append(SampleInput(f"labels-2,-2,0.5-{reduction}", (randn("hxl", 6, scale=2.0, **t),
                               torch.tensor([2.0, -2.0, 0.5, 2.0, -2.0, 0.5], **t)), dict(reduction=reduction),
                               wrt=(0,)))
        out.append(SampleInput(f"extreme-1e4-{reduction}", (torch.tensor([1e4, -1e4, 1e4, -1e4, 0.5], **t),
                               torch.tensor([1.0, 1.0, -1.0, -1.0, -1.0], **t)), dict(reduction=reduction), wrt=(0,)))
        x_nonfinite = torch.tensor([math.inf, -math.inf, math.nan, math.inf, -math.inf, math.nan, 0.5, 0.5], **t)
        y_nonfinite = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, -1.0, math.nan, math.inf], **t)
        out.append(SampleInput(f"inf-nan-{reduction}", (x_nonfinite, y_nonfinite), dict(reduction=reduction),
                               wrt=(0,), kink=True))
    x, y = _distances("hxe", 3, 4, **t), _labels("hye", 3, 4, **t)
    out += _legacy_samples((x, y), wrt=(0,))
    out.append(SampleInput("positional-margin-and-reduction", (x, y, 0.75, None, None, "sum"), wrt=(0,)))
    out.append(SampleInput("margin-int-2", (x, y), dict(margin=2), wrt=(0,)))
    out.append(SampleInput("margin-bool-True", (x, y), dict(margin=True), wrt=(0,)))
    out.append(SampleInput("margin-0-dim-tensor", (x, y), dict(margin=torch.tensor(1.5)), wrt=(0,)))
    out.append(SampleInput("margin-0.1-rounded-to-dtype", (torch.tensor([0.0, 0.03, 0.1, 0.2], **t),
                           torch.tensor([-1.0, -1.0, -1.0, 0.0], **t)), dict(margin=0.1, reduction="none"), wrt=(0,),
                           kink=True))  # x = 0.1 sits on the kink
    out.append(SampleInput("target-requires-grad-gets-none", (x, y), {}, wrt=(0, 1)))
    out.append(SampleInput("target-int64", (x, y.long()), {}, wrt=(0,)))
    out.append(SampleInput("target-bool", (x, y > 0), dict(reduction="none"), wrt=(0,)))
    other = {torch.float64: torch.float32, torch.float32: torch.float64}.get(dtype, torch.float32)
    out.append(SampleInput(f"target-{str(other)[6:]}-loss-in-input-dtype", (x, y.to(other)), {}, wrt=(0,)))
    xi = torch.tensor([0, 0, 3, -2, 5, 1], device=device)
    yi = torch.tensor([-1, 0, 0, 1, -1, 2], device=device)
    for reduction in ("none", "sum"):  # integer loss; 'mean' of it raises (see the errors)
        out.append(SampleInput(f"int64-input-margin-1.7-truncated-{reduction}", (xi, yi),
                               dict(margin=1.7, reduction=reduction), wrt=()))
        out.append(SampleInput(f"int32-input-float-target-{reduction}", (xi.int(), yi.to(dtype)),
                               dict(margin=2.5, reduction=reduction), wrt=()))
    return out


def hinge_embedding_errors() -> list[ErrorInput]:
    x, y = torch.rand(3, 4), torch.ones(3, 4)
    return [
        ErrorInput("reduction='foo'", (x, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction='batchmean'", (x, y), dict(reduction="batchmean"), ValueError,
                   "batchmean is not a valid value for reduction", "reduction"),
        ErrorInput("bad-reduction-before-bad-input", ([1.0], y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("input-list", ([1.0, 2.0], torch.ones(2)), {}, TypeError,
                   r"argument 'input' \(position 1\) must be Tensor, not list", "input"),
        ErrorInput("target-list", (torch.rand(2), [1.0, -1.0]), {}, TypeError,
                   r"argument 'target' \(position 2\) must be Tensor, not list", "target"),
        ErrorInput("margin-str", (x, y), dict(margin="1"), TypeError,
                   r"argument 'margin' \(position 3\) must be float, not str", "margin"),
        ErrorInput("margin-None", (x, y), dict(margin=None), TypeError,
                   r"argument 'margin' \(position 3\) must be float, not NoneType", "margin"),
        ErrorInput("margin-tensor-of-2", (x, y), dict(margin=torch.ones(2)), TypeError,
                   r"argument 'margin' \(position 3\) must be float, not Tensor", "margin"),
        ErrorInput("not-broadcastable", (torch.rand(3), torch.ones(4)), {}, RuntimeError,
                   r"The size of tensor a \(4\) must match the size of tensor b \(3\)", "target"),
        ErrorInput("input-bool", (torch.tensor([True, False]), torch.ones(2)), {}, RuntimeError,
                   "Subtraction, the `-` operator, with two bool tensors is not supported", "input"),
        ErrorInput("input-complex", (torch.ones(2, dtype=torch.complex64), torch.ones(2)), {}, NotImplementedError,
                   "clamp is not supported for complex types", "input"),
        ErrorInput("int64-mean", (torch.tensor([1, 2]), torch.tensor([1, -1])), {}, RuntimeError,
                   r"mean\(\): could not infer output dtype", "reduction"),
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
    expected = torch.autograd.grad(F.hinge_embedding_loss(leaf, y, margin=margin, reduction=reduction), leaf,
                                   grad_output)
    rounded = torch.tensor(margin, dtype=x.dtype).item()  # the margin as torch uses it: in input's dtype
    return [RF.hinge_embedding_loss_grad(grad_output, x, y, rounded, reduction)], list(expected)


def _f64(values: list) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


HE_X, HE_Y = [0.5, 1.0, 1.5, -0.3, 2.0, 0.7], [1.0, -1.0, -1.0, 1.0, 0.0, 2.0]
HE_L = [0.5, 0.0, 0.0, -0.3, 2.0 + 0.0, 0.7 + 0.3]  # margin 1: x; max(0, 1 - x); both terms for y = 0 and 2
HE_L2 = [0.5, 1.0, 0.5, -0.3, 2.0 + 0.0, 0.7 + 1.3]  # margin 2


# ----------------------------------------------------------------------------------------------------
# margin_ranking_loss


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
        ("broadcast-target-(3,4)-enlarges-(3,1)", randn("md1", 3, 1, **t), randn("md2", 3, 1, **t),
         _labels("mdy", 3, 4, **t)),
    ]
    for margin in (0.0, 0.5, 1.0, -1.0):
        for desc, x1, x2, y in shaped:
            for reduction in REDUCTIONS:
                out.append(SampleInput(f"{desc}-margin={margin}-{reduction}", (x1, x2, y),
                                       dict(margin=margin, reduction=reduction), wrt=(0, 1, 2)))
    for reduction in REDUCTIONS:
        # ties x1 == x2 with margin 0, and z = -y (x1 - x2) + m == 0 with margin 0.5: the kink, active
        x1 = torch.tensor([1.0, -2.0, 0.5, 1.5, 0.0, 3.0], **t)
        x2 = torch.tensor([1.0, -2.0, 0.0, 2.0, 0.5, 1.0], **t)
        y = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0], **t)
        out.append(SampleInput(f"ties-x1=x2-margin-0-{reduction}", (x1, x2, y), dict(reduction=reduction),
                               wrt=(0, 1, 2), kink=True))
        out.append(SampleInput(f"kink-z=0-margin-0.5-{reduction}", (x1, x2, y), dict(margin=0.5, reduction=reduction),
                               wrt=(0, 1, 2), kink=True))
        x1, x2 = _scores("mt", 6, **t)
        out.append(SampleInput(f"targets-0,2,0.5,-3-{reduction}", (x1, x2, torch.tensor([0.0, 2.0, 0.5, -3.0, 0.0, 2.0],
                               **t)), dict(margin=0.25, reduction=reduction), wrt=(0, 1, 2)))
        out.append(SampleInput(f"extreme-1e4-{reduction}", (torch.tensor([1e4, -1e4, 1e4, 0.0], **t),
                               torch.tensor([-1e4, 1e4, 0.0, 1e4], **t), torch.tensor([1.0, 1.0, -1.0, -1.0], **t)),
                               dict(margin=1.0, reduction=reduction), wrt=(0, 1, 2)))
        inf, nan = math.inf, math.nan
        out.append(SampleInput(f"inf-nan-{reduction}", (torch.tensor([inf, inf, nan, 1.0, 1.0, -inf], **t),
                               torch.tensor([0.0, inf, 0.0, 1.0, nan, 0.0], **t),
                               torch.tensor([1.0, 1.0, 1.0, nan, 1.0, -1.0], **t)), dict(reduction=reduction),
                               wrt=(0, 1, 2), kink=True))
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
        out.append(SampleInput(f"int64-inputs-float32-loss-{reduction}", (x1i, x2i, yi),
                               dict(margin=0.5, reduction=reduction), wrt=()))
        out.append(SampleInput(f"int64-inputs-float-target-{reduction}", (x1i, x2i, yi.to(dtype)),
                               dict(reduction=reduction), wrt=(2,)))
    return out


def margin_ranking_errors() -> list[ErrorInput]:
    a, b, y = torch.randn(4), torch.randn(4), torch.ones(4)
    return [
        ErrorInput("reduction='foo'", (a, b, y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("reduction='batchmean'", (a, b, y), dict(reduction="batchmean"), ValueError,
                   "batchmean is not a valid value for reduction", "reduction"),
        ErrorInput("bad-reduction-before-bad-ndim", (a, b[0], y), dict(reduction="foo"), ValueError,
                   "foo is not a valid value for reduction", "reduction"),
        ErrorInput("input2-0-dim", (a, b[0], y), {}, RuntimeError,
                   "All input tensors should have same dimension but got sizes", "input2"),
        ErrorInput("target-0-dim", (a, b, y[0]), {}, RuntimeError,
                   "All input tensors should have same dimension but got sizes", "target"),
        ErrorInput("target-(4,1)-for-(4,)", (a, b, y[:, None]), {}, RuntimeError,
                   "All input tensors should have same dimension but got sizes", "target"),
        ErrorInput("input1-list", ([1.0], b[:1], y[:1]), {}, AttributeError,
                   "'list' object has no attribute 'dim'", "input1"),
        ErrorInput("target-list", (a[:1], b[:1], [1.0]), {}, AttributeError,
                   "'list' object has no attribute 'dim'", "target"),
        ErrorInput("margin-str", (a, b, y), dict(margin="0"), TypeError,
                   r"argument 'margin' \(position 4\) must be float, not str", "margin"),
        ErrorInput("margin-None", (a, b, y), dict(margin=None), TypeError,
                   r"argument 'margin' \(position 4\) must be float, not NoneType", "margin"),
        ErrorInput("input2-not-broadcastable", (a, b[:3], y), {}, RuntimeError,
                   r"The size of tensor a \(4\) must match the size of tensor b \(3\)", "input2"),
        ErrorInput("target-not-broadcastable", (a, b, y[:3]), {}, RuntimeError,
                   r"The size of tensor a \(3\) must match the size of tensor b \(4\)", "target"),
        ErrorInput("inputs-bool", (a > 0, b > 0, y), {}, RuntimeError,
                   "Subtraction, the `-` operator, with two bool tensors is not supported", "input1"),
        ErrorInput("input1-bool", (a > 0, b, y), {}, RuntimeError,
                   "Subtraction, the `-` operator, with a bool tensor is not supported", "input1"),
        ErrorInput("target-bool", (a, b, y > 0), {}, RuntimeError,
                   "Negation, the `-` operator, on a bool tensor is not supported", "target"),
        ErrorInput("input1-complex", (a.to(torch.complex64), b, y), {}, NotImplementedError,
                   "clamp is not supported for complex types", "input1"),
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
    leaves = {name: t.detach().clone().requires_grad_(True)
              for name, t in (("input1", x1), ("input2", x2), ("target", y)) if t.is_floating_point()}
    torch_call = {**arguments, **leaves, "size_average": None, "reduce": None, "reduction": reduction}
    expected = torch.autograd.grad(F.margin_ranking_loss(**torch_call), list(leaves.values()), grad_output)
    grad_diff, grad_target = RF.margin_ranking_loss_grad(grad_output, x1 - x2, y, margin, reduction)
    grads = {"input1": grad_diff.sum_to_size(x1.shape).to(x1.dtype),
             "input2": torch.neg(grad_diff).sum_to_size(x2.shape).to(x2.dtype),
             "target": grad_target.sum_to_size(y.shape).to(y.dtype)}
    return [grads[name] for name in leaves], list(expected)


MR_X1, MR_X2, MR_Y = [1.0, 2.0, 0.5, 0.0], [0.0, 3.0, 0.5, 0.0], [1.0, 1.0, -1.0, 1.0]
MR_L = [0.0, 1.5, 0.5, 0.5]  # margin 0.5: max(0, -y (x1 - x2) + 0.5) with x1 - x2 = 1, -1, 0, 0


HINGE_RANKING_CASES = [
    LossCase(
        name="hinge_embedding_loss", part="margin", chapter="hinge_embedding",
        torch_fn=F.hinge_embedding_loss, ref_fn=RF.hinge_embedding_loss,
        torch_module=torch.nn.HingeEmbeddingLoss, ref_module=RN.HingeEmbeddingLoss,
        samples=hinge_embedding_samples,
        errors=hinge_embedding_errors,
        modules=hinge_embedding_modules,
        known_values=[
            KnownValue("none, margin 1: x for y=1, max(0, m-x) for y=-1, both otherwise", (_f64(HE_X), _f64(HE_Y)),
                       dict(reduction="none"), HE_L),
            KnownValue("none, margin 2", (_f64(HE_X), _f64(HE_Y)), dict(margin=2.0, reduction="none"), HE_L2),
            KnownValue("mean: sum / n", (_f64(HE_X), _f64(HE_Y)), {}, sum(HE_L) / 6),
            KnownValue("sum", (_f64(HE_X), _f64(HE_Y)), dict(reduction="sum"), sum(HE_L)),
            KnownValue("broadcast (3,1) x (2,): mean over the 6 elements",
                       (_f64([[0.5], [1.5], [0.25]]), _f64([1.0, -1.0])), {},
                       (0.5 + 0.5 + 1.5 + 0.0 + 0.25 + 0.75) / 6),
        ],
        dtypes={"cpu": FLOATING, "cuda": FLOATING},
        hand_gradient=hinge_embedding_hand_gradient,
    ),
    LossCase(
        name="margin_ranking_loss", part="margin", chapter="margin_ranking",
        torch_fn=F.margin_ranking_loss, ref_fn=RF.margin_ranking_loss,
        torch_module=torch.nn.MarginRankingLoss, ref_module=RN.MarginRankingLoss,
        samples=margin_ranking_samples,
        errors=margin_ranking_errors,
        modules=margin_ranking_modules,
        known_values=[
            KnownValue("none, margin 0.5: max(0, -y (x1 - x2) + m)", (_f64(MR_X1), _f64(MR_X2), _f64(MR_Y)),
                       dict(margin=0.5, reduction="none"), MR_L),
            KnownValue("mean", (_f64(MR_X1), _f64(MR_X2), _f64(MR_Y)), dict(margin=0.5), sum(MR_L) / 4),
            KnownValue("sum, margin 0 (default)", (_f64(MR_X1), _f64(MR_X2), _f64(MR_Y)), dict(reduction="sum"), 1.0),
            KnownValue("target 0 gives max(0, m) whatever the scores", (_f64(MR_X1), _f64(MR_X2), _f64([0.0] * 4)),
                       dict(margin=0.3, reduction="none"), [0.3] * 4),
        ],
        dtypes={"cpu": FLOATING, "cuda": FLOATING},
        hand_gradient=margin_ranking_hand_gradient,
    ),
]
