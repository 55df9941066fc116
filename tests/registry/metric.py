"""Registry entries of the metric losses (book/metric/, refimpl/metric/).

Registry entries of the metric losses: triplet_margin_loss, triplet_margin_with_distance_loss (book/metric/).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN
from refimpl.metric._distance import cosine_distance

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
    randn,
)


def l1_distance(x1: Tensor, x2: Tensor) -> Tensor:
    """A user distance: the L1 norm of the difference over the last dimension (no eps)."""
    return (x1 - x2).abs().sum(-1)


def negative_distance(x1: Tensor, x2: Tensor) -> Tensor:
    """A "distance" that is negative: torch does not check the callable's output."""
    return -(x1 - x2).square().sum(-1)


def keepdim_distance(x1: Tensor, x2: Tensor) -> Tensor:
    """A distance of shape (N, 1): the unreduced loss keeps that shape."""
    return (x1 - x2).square().sum(-1, keepdim=True)


def _triple(desc: str, *shape: int, dtype, device, scale: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    t = dict(dtype=dtype, device=device, scale=scale)
    return randn(f"a{desc}", *shape, **t), randn(f"p{desc}", *shape, **t), randn(f"n{desc}", *shape, **t)


def _exact(rows: list[list[float]], dtype, device) -> Tensor:
    return torch.tensor(rows, dtype=torch.float64).to(dtype=dtype, device=device)


def _kink_triple(dtype, device) -> tuple[Tensor, Tensor, Tensor]:
    """With eps=0 and p=2: d(a,p) = 0.5 and d(a,n) = 1.5 in every row, so margin 1 puts z exactly at 0."""
    a = [[0.0, 0.0], [1.0, 2.0], [-1.0, 0.0]]
    p = [[0.5, 0.0], [1.0, 2.5], [-1.5, 0.0]]
    n = [[1.5, 0.0], [1.0, 0.5], [-1.0, 1.5]]
    return _exact(a, dtype, device), _exact(p, dtype, device), _exact(n, dtype, device)


def _tie_triple(dtype, device) -> tuple[Tensor, Tensor, Tensor]:
    """With eps=0: d(a,n) == d(p,n) in every row (n halfway between a and p), the swap's tie."""
    a = [[0.0, 0.0], [1.0, 1.0], [-2.0, 0.0]]
    p = [[2.0, 0.0], [1.0, 3.0], [0.0, 0.0]]
    n = [[1.0, 0.0], [1.0, 2.0], [-1.0, 0.0]]
    return _exact(a, dtype, device), _exact(p, dtype, device), _exact(n, dtype, device)


def _common_edges(device: str, dtype: torch.dtype, distance: dict) -> list[SampleInput]:
    """Edges both losses share; ``distance`` holds the options that select the p=2, eps=0 distance."""
    t = dict(dtype=dtype, device=device)
    out = []
    for reduction in REDUCTIONS:
        r = dict(reduction=reduction)
        out.append(SampleInput(f"unbatched-(4,)-{reduction}", _triple("u", 4, **t), r, wrt=(0, 1, 2)))
        out.append(SampleInput(f"K-dim-(2,3,4)-{reduction}", _triple("k", 2, 3, 4, **t), r, wrt=(0, 1, 2)))
        empty = tuple(torch.zeros(0, 4, **t) for _ in range(3))
        out.append(SampleInput(f"empty=(0,4)-{reduction}", empty, r, wrt=(0, 1, 2)))
        a, p, n = _triple("b", 4, 5, **t)
        out.append(SampleInput(f"broadcast-positive-(1,5)-{reduction}", (a, p[:1], n), r, wrt=(0, 1, 2)))
        out.append(
            SampleInput(
                f"kink-z=0-{reduction}",
                _kink_triple(dtype, device),
                dict(reduction=reduction, margin=1.0, **distance),
                wrt=(0, 1, 2),
                kink=True,
            )
        )
        out.append(
            SampleInput(
                f"swap-tie-{reduction}",
                _tie_triple(dtype, device),
                dict(reduction=reduction, margin=1.0, swap=True, **distance),
                wrt=(0, 1, 2),
                kink=True,
            )
        )
        a, p, n = _triple("c", 3, 4, **t)
        # a == p == n: distances of size eps (or 0); gradcheck's 1e-6 steps are as large as the distances themselves
        out.append(SampleInput(f"collapsed-a=p=n-{reduction}", (a, a.clone(), a.clone()), r, wrt=(0, 1, 2), kink=True))
        nan = a.clone()
        nan[1, 2] = math.nan
        out.append(SampleInput(f"nan-{reduction}", (nan, p, n), r, wrt=(0, 1, 2), kink=True))
    large = 1e2 if dtype in (torch.float16, torch.bfloat16) else 1e4
    out.append(SampleInput("large-1e4", _triple("l", 3, 4, scale=large, **t), dict(reduction="sum"), wrt=(0, 1, 2)))
    out.append(SampleInput("0-dim", tuple(x.reshape(()) for x in _triple("z", 1, **t)), {}, wrt=(0, 1, 2)))
    return out


def triplet_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    a, p, n = _triple("x", 5, 4, **t)
    for norm in (2.0, 1.0, 1.5, 3.0, 0.5, math.inf):
        for swap in (False, True):
            for reduction in REDUCTIONS:
                out.append(
                    SampleInput(
                        f"p={norm}-swap={swap}-{reduction}",
                        (a, p, n),
                        dict(p=norm, swap=swap, reduction=reduction, margin=1.5),
                        wrt=(0, 1, 2),
                    )
                )
    for reduction in REDUCTIONS:
        out.append(
            SampleInput(
                f"margin=0.3-eps=0.1-{reduction}",
                (a, p, n),
                dict(margin=0.3, eps=0.1, reduction=reduction),
                wrt=(0, 1, 2),
            )
        )
        out.append(
            SampleInput(
                f"p=0-{reduction}",
                (a, p, n),
                dict(p=0, reduction=reduction),
                wrt=(0, 1, 2),
                forward_only="torch's p=0 norm has no gradient at all (autograd reports it unused)",
            )
        )
        zero = (a, a.clone(), n)
        out.append(
            SampleInput(
                f"zero-distance-eps=0-{reduction}", zero, dict(eps=0.0, reduction=reduction), wrt=(0, 1, 2), kink=True
            )
        )
    out += _common_edges(device, dtype, dict(p=2.0, eps=0.0))
    out.append(SampleInput("elementwise_mean", (a, p, n), dict(reduction="elementwise_mean"), wrt=(0, 1, 2)))
    out.append(SampleInput("positional-all", (a, p, n, 0.7, 1.0, 1e-3, True, None, None, "sum"), wrt=(0, 1, 2)))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            out.append(
                SampleInput(
                    f"legacy-size_average={size_average}-reduce={reduce}",
                    (a, p, n),
                    dict(size_average=size_average, reduce=reduce, reduction="sum"),
                    wrt=(0, 1, 2),
                )
            )
    ints = tuple(torch.randint(-3, 4, (3, 4), generator=torch.Generator().manual_seed(i)).to(device) for i in range(3))
    out.append(SampleInput("int64-inputs", ints, {}, wrt=()))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        out.append(SampleInput(f"negative-{other}", (a, p, n.to(other)), {}, wrt=(0, 1, 2)))
    return out


def with_distance_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    a, p, n = _triple("x", 5, 4, **t)
    for fname, fn in (("default", None), ("cosine", cosine_distance), ("l1", l1_distance)):
        for swap in (False, True):
            for reduction in REDUCTIONS:
                kwargs = dict(swap=swap, reduction=reduction, margin=0.5)
                if fn is not None:
                    kwargs["distance_function"] = fn
                out.append(SampleInput(f"distance={fname}-swap={swap}-{reduction}", (a, p, n), kwargs, wrt=(0, 1, 2)))
    for reduction in REDUCTIONS:
        out.append(
            SampleInput(
                f"negative-distance-{reduction}",
                (a, p, n),
                dict(distance_function=negative_distance, reduction=reduction),
                wrt=(0, 1, 2),
            )
        )
        out.append(
            SampleInput(
                f"distance-(N,1)-{reduction}",
                (a, p, n),
                dict(distance_function=keepdim_distance, reduction=reduction, margin=2.0),
                wrt=(0, 1, 2),
            )
        )
        zero_a = a.clone()
        zero_a[0] = 0
        out.append(
            SampleInput(
                f"cosine-zero-vector-{reduction}",
                (zero_a, p, n),
                dict(distance_function=cosine_distance, reduction=reduction),
                wrt=(0, 1, 2),
                kink=True,
            )
        )  # the norm's clamp at eps: not differentiable at the zero vector
    out += _common_edges(device, dtype, dict(distance_function=_l2_no_eps))
    return out


def _l2_no_eps(x1: Tensor, x2: Tensor) -> Tensor:
    """Euclidean distance without eps (exact on the kink and tie samples); sqrt of a sum of squares."""
    return (x1 - x2).square().sum(-1).sqrt()


def _leaves(arguments: dict) -> dict:
    return {
        k: arguments[k].detach().clone().requires_grad_(True)
        for k in ("anchor", "positive", "negative")
        if arguments[k].is_floating_point()
    }


def triplet_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``triplet_margin_loss_grad`` on the differences, combined by the subtraction's chain rule, against torch."""
    arguments = bound_arguments(RF.triplet_margin_loss, sample)
    leaves = _leaves(arguments)
    expected = torch.autograd.grad(F.triplet_margin_loss(**{**arguments, **leaves}), list(leaves.values()), grad_output)
    a, p, n, eps = arguments["anchor"], arguments["positive"], arguments["negative"], float(arguments["eps"])
    swap = arguments["swap"]
    grad_u, grad_v, grad_s = RF.triplet_margin_loss_grad(
        grad_output,
        a - p + eps,
        a - n + eps,
        (p - n + eps) if swap else None,
        arguments["margin"],
        float(arguments["p"]),
        effective_reduction(arguments),
    )
    grad_s = 0 if grad_s is None else grad_s
    grads = {
        "anchor": (grad_u + grad_v).sum_to_size(a.shape).to(a.dtype),
        "positive": (grad_s - grad_u).sum_to_size(p.shape).to(p.dtype),
        "negative": (-grad_v - grad_s).sum_to_size(n.shape).to(n.dtype),
    }
    return [grads[k] for k in leaves], list(expected)


def with_distance_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """The hinge by hand (``triplet_margin_with_distance_loss_grad``), the user's distance by autograd."""
    arguments = bound_arguments(RF.triplet_margin_with_distance_loss, sample)
    leaves = _leaves(arguments)
    expected = torch.autograd.grad(
        F.triplet_margin_with_distance_loss(**{**arguments, **leaves}), list(leaves.values()), grad_output
    )
    distance = arguments["distance_function"] or RF.triplet_margin_with_distance_loss.__globals__["pairwise_distance"]
    a, p, n = (leaves.get(k, arguments[k]) for k in ("anchor", "positive", "negative"))
    dists = [distance(a, p), distance(a, n)] + ([distance(p, n)] if arguments["swap"] else [])
    hand = RF.triplet_margin_with_distance_loss_grad(
        grad_output,
        *(d.detach() for d in dists),
        *([None] if len(dists) == 2 else []),
        margin=arguments["margin"],
        reduction=arguments["reduction"],
    )
    grads = torch.autograd.grad(dists, list(leaves.values()), [g for g in hand if g is not None])
    return list(grads), list(expected)


def triplet_errors() -> list[ErrorInput]:
    a, p, n = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    return [
        ErrorInput(
            "reduction='foo'",
            (a, p, n),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "margin=0",
            (a, p, n),
            dict(margin=0.0),
            ValueError,
            "margin must be greater than 0, got 0.0",
            "margin",
            category="value",
        ),
        ErrorInput(
            "margin=-1",
            (a, p, n),
            dict(margin=-1.0),
            ValueError,
            "margin must be greater than 0",
            "margin",
            category="value",
        ),
        ErrorInput(
            "margin-str", (a, p, n), dict(margin="1"), TypeError, "'<=' not supported", "margin", category="dtype"
        ),
        ErrorInput(
            "ndim-mismatch",
            (a, p, n[0]),
            {},
            RuntimeError,
            "expected to have the same number of dimensions, but got: anchor 2D, positive 2D, and negative 1D",
            "negative",
            category="shape",
        ),
        ErrorInput(
            "not-broadcastable",
            (a, torch.randn(4, 4), n),
            {},
            RuntimeError,
            r"The size of tensor a \(3\) must match the size of tensor b \(4\)",
            "positive",
            category="shape",
        ),
        ErrorInput(
            "anchor-list",
            ([1.0, 2.0], p, n),
            {},
            TypeError,
            "argument 'anchor' .*must be Tensor, not list",
            "anchor",
            category="dtype",
        ),
        ErrorInput(
            "p-str", (a, p, n), dict(p="2"), TypeError, "argument 'p' .*must be float, not str", "'p'", category="dtype"
        ),
        ErrorInput(
            "eps-str",
            (a, p, n),
            dict(eps="0"),
            TypeError,
            "argument 'eps' .*must be float, not str",
            "eps",
            category="dtype",
        ),
        ErrorInput(
            "swap-int",
            (a, p, n),
            dict(swap=1),
            TypeError,
            "argument 'swap' .*must be bool, not int",
            "swap",
            category="dtype",
        ),
        ErrorInput(
            "bool-positive",
            (a, p > 0, n),
            {},
            RuntimeError,
            "Subtraction, the `-` operator, with .*bool tensor",
            "positive",
            category="dtype",
        ),
        ErrorInput(
            "inf-norm-of-empty-dim",
            tuple(torch.zeros(2, 0) for _ in range(3)),
            dict(p=math.inf),
            RuntimeError,
            "cannot compute the inf norm on the dimension",
            "dimension",
            category="shape",
        ),
    ]


def with_distance_errors() -> list[ErrorInput]:
    a, p, n = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    return [
        ErrorInput(
            "reduction='foo'",
            (a, p, n),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "reduction='elementwise_mean'",
            (a, p, n),
            dict(reduction="elementwise_mean"),
            ValueError,
            "elementwise_mean is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "margin=0",
            (a, p, n),
            dict(margin=0.0),
            ValueError,
            "margin must be greater than 0",
            "margin",
            category="value",
        ),
        ErrorInput(
            "margin=0-and-reduction='foo'",
            (a, p, n),
            dict(margin=0.0, reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "ndim-mismatch",
            (a, p[0], n),
            {},
            RuntimeError,
            "expected to have the same number of dimensions, but got: anchor 2D, positive 1D",
            "positive",
            category="shape",
        ),
        ErrorInput(
            "anchor-list",
            ([1.0], p, n),
            {},
            AttributeError,
            "'list' object has no attribute 'ndim'",
            "anchor",
            category="dtype",
        ),
        ErrorInput(
            "distance_function-positional",
            (a, p, n, cosine_distance),
            {},
            TypeError,
            "takes 3 positional arguments but 4 were given",
            "positional",
            category="dtype",
        ),
    ]


def _modules(extra: list[ModuleInput], legacy: bool) -> list[ModuleInput]:
    a, p, n = (torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(i)) for i in range(3))
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (a, p, n)) for r in REDUCTIONS]
    out += [
        ModuleInput("default", {}, (a, p, n)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (a, p, n)),
    ]
    out += [ModuleInput(m.desc, m.init_kwargs, (a, p, n)) for m in extra]
    if legacy:
        out += [
            ModuleInput("legacy-size_average=False", dict(size_average=False), (a, p, n)),
            ModuleInput("legacy-reduce=False", dict(reduce=False), (a, p, n)),
        ]
    return out


def _r(v):
    return torch.tensor([v], dtype=torch.float64)


E = 1e-6


_A, _P, _N = (
    torch.tensor([[0.0, 0.0]], dtype=torch.float64),
    torch.tensor([[3.0, 4.0]], dtype=torch.float64),
    torch.tensor([[6.0, 8.0]], dtype=torch.float64),
)


D_AP = math.hypot(-3 + E, -4 + E)  # eps is added to each component of a - p


D_AN = math.hypot(-6 + E, -8 + E)


D_PN = math.hypot(-3 + E, -4 + E)


COS = [[1.0, 0.0]], [[1.0, 1.0]], [[0.0, 1.0]]


TRIPLET_MARGIN_LOSS = LossCase(
    name="triplet_margin_loss",
    part="metric",
    chapter="triplet_margin",
    torch_fn=F.triplet_margin_loss,
    ref_fn=RF.triplet_margin_loss,
    torch_module=torch.nn.TripletMarginLoss,
    ref_module=RN.TripletMarginLoss,
    samples=triplet_samples,
    errors=triplet_errors,
    modules=lambda: _modules(
        [
            ModuleInput("margin=0.5", dict(margin=0.5), ()),
            ModuleInput("p=1", dict(p=1.0), ()),
            ModuleInput("p=1.5-eps=1e-3", dict(p=1.5, eps=1e-3), ()),
            ModuleInput("swap", dict(swap=True), ()),
        ],
        legacy=True,
    ),
    known_values=[
        KnownValue(
            "none: max(m + ||a-p+eps|| - ||a-n+eps||, 0)",
            (_A, _P, _N),
            dict(reduction="none", margin=6.0),
            [6.0 + D_AP - D_AN],
        ),
        KnownValue("hinge at 0 with margin 1", (_A, _P, _N), dict(reduction="sum"), 0.0),
        KnownValue(
            "swap: min(d(a,n), d(p,n))",
            (_A, _P, _N),
            dict(reduction="sum", swap=True, margin=2.0),
            2.0 + D_AP - min(D_AN, D_PN),
        ),
        KnownValue(
            "p=1: sum of |components + eps|",
            (_A, _P, _N),
            dict(p=1, margin=8.0),
            8.0 + (3 - E + 4 - E) - (6 - E + 8 - E),
        ),
        KnownValue("collapsed a=p=n: loss = margin exactly", (_A, _A, _A), dict(margin=0.7), 0.7),
    ],
    hand_gradient=triplet_hand_gradient,
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    fuzz=fuzz.triplet_margin(),
    mixed_precision=lambda r: (
        (
            mixed.normal("t-a", mixed.N, mixed.C),
            mixed.normal("t-p", mixed.N, mixed.C),
            mixed.normal("t-n", mixed.N, mixed.C),
        ),
        dict(reduction=r),
        (0, 1, 2),
    ),
    known_differences={**NO_JVP_YET},
)


TRIPLET_MARGIN_WITH_DISTANCE_LOSS = LossCase(
    name="triplet_margin_with_distance_loss",
    part="metric",
    chapter="triplet_margin_with_distance",
    torch_fn=F.triplet_margin_with_distance_loss,
    ref_fn=RF.triplet_margin_with_distance_loss,
    torch_module=torch.nn.TripletMarginWithDistanceLoss,
    ref_module=RN.TripletMarginWithDistanceLoss,
    samples=with_distance_samples,
    errors=with_distance_errors,
    modules=lambda: _modules(
        [
            ModuleInput("margin=0.5", dict(margin=0.5), ()),
            ModuleInput("cosine", dict(distance_function=cosine_distance), ()),
            ModuleInput("swap", dict(swap=True), ()),
        ],
        legacy=False,
    ),
    known_values=[
        KnownValue(
            "default distance = ||a-p+eps||_2", (_A, _P, _N), dict(reduction="none", margin=6.0), [6.0 + D_AP - D_AN]
        ),
        KnownValue(
            "cosine: m + (1 - 1/sqrt 2) - 1",
            tuple(torch.tensor(v, dtype=torch.float64) for v in COS),
            dict(distance_function=cosine_distance, margin=1.0, reduction="sum"),
            1 - 1 / math.sqrt(2),
        ),
        KnownValue(
            "cosine: satisfied margin gives 0",
            tuple(torch.tensor(v, dtype=torch.float64) for v in COS),
            dict(distance_function=cosine_distance, margin=0.2),
            0.0,
        ),
    ],
    hand_gradient=with_distance_hand_gradient,
    dtypes={"cpu": FLOATING, "cuda": FLOATING},
    fuzz=fuzz.triplet_margin_with_distance(),
    mixed_precision=lambda r: (
        (
            mixed.normal("td-a", mixed.N, mixed.C),
            mixed.normal("td-p", mixed.N, mixed.C),
            mixed.normal("td-n", mixed.N, mixed.C),
        ),
        dict(reduction=r),
        (0, 1, 2),
    ),
    known_differences={**NO_JVP_YET},
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [TRIPLET_MARGIN_LOSS, TRIPLET_MARGIN_WITH_DISTANCE_LOSS]
