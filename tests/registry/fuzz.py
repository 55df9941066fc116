"""Hypothesis strategies for the fuzzed parity test (tests/test_fuzz.py): one per loss family.

Each strategy draws a whole call, ``FuzzCall(args, kwargs, wrt)``: shapes (empty batches, size one, unbatched,
K-dimensional), options and reductions, and values in one of five modes:

* ``normal``: standard normal numbers;
* ``grid``: numbers from a small set of halves and integers, so that ties at kinks and margins happen exactly
  (a residual equal to ``delta``, ``x1 - x2 == margin``, equal logits, a probability of exactly 0 or 1);
* ``large``: magnitudes up to 1e4 (logits that overflow ``exp``);
* ``tiny``: subnormal numbers of the dtype;
* ``special``: normal numbers with some entries replaced by inf, -inf, NaN, +-0 and subnormals.

The numbers come from a torch generator seeded by a drawn integer, so a failing example is reproduced exactly
from hypothesis's printout and shrinking stays cheap. ``wrt`` is a drawn subset of the floating point tensor
arguments: where torch refuses a gradient (``weight`` of nll_loss, ``target`` of soft_margin_loss), the test
checks that refimpl refuses it the same way.
"""

import math
from dataclasses import dataclass, field

import torch
from hypothesis import strategies as st
from torch import Tensor

from refimpl.guide.inputs import typical_inputs

DTYPES = st.sampled_from([torch.float64, torch.float32])
REDUCTION = st.sampled_from(["none", "mean", "sum"])
MODES = ("normal", "grid", "large", "tiny", "special")
GRID = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], dtype=torch.float64)
TINY = {torch.float64: 1e-310, torch.float32: 1e-40}  # subnormal in each dtype


@dataclass
class FuzzCall:
    """``fn(*args, **kwargs)``; gradients are taken for ``wrt`` (positions of ``args`` or keys of ``kwargs``)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    wrt: tuple = ()

    def __repr__(self) -> str:
        def show(v):
            if isinstance(v, Tensor):
                body = v.tolist() if v.numel() <= 24 else f"<{v.numel()} elements>"
                return f"tensor({body}, dtype={v.dtype}, shape={tuple(v.shape)})"
            return repr(v)

        args = ", ".join(show(a) for a in self.args)
        kwargs = ", ".join(f"{k}={show(v)}" for k, v in self.kwargs.items())
        return f"FuzzCall(({args}), {{{kwargs}}}, wrt={self.wrt})"


def _generator(draw) -> torch.Generator:
    return torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))


def _special(x: Tensor, g: torch.Generator, dtype: torch.dtype) -> Tensor:
    """Replace about a third of the entries by inf, -inf, NaN, +-0 or a subnormal."""
    specials = torch.tensor([math.inf, -math.inf, math.nan, 0.0, -0.0, TINY[dtype]], dtype=torch.float64)
    mask = torch.rand(x.shape, generator=g, dtype=torch.float64) < 0.35
    pick = specials[torch.randint(len(specials), x.shape, generator=g)]
    return torch.where(mask, pick, x)


@st.composite
def values(draw, shape, dtype, modes=MODES, kind="real", large=1e4) -> Tensor:
    """A tensor of ``shape``. ``kind``: 'real' (any sign), 'nonneg' (absolute values), 'unit' (in [0, 1]:
    probabilities), 'sign' (+-1, sometimes other values: torch's margin losses read only the sign or equality)."""
    mode = draw(st.sampled_from(modes))
    g = _generator(draw)
    shape = tuple(shape)
    if mode == "grid":
        x = GRID[torch.randint(len(GRID), shape, generator=g)]
    else:
        scale = {"normal": 1.0, "large": draw(st.sampled_from([1e2, large])), "tiny": TINY[dtype], "special": 1.0}
        x = scale[mode] * torch.randn(shape, generator=g, dtype=torch.float64)
    if kind == "nonneg":
        x = x.abs()
    elif kind == "unit":
        x = x.abs() / 2 if mode == "grid" else (torch.sigmoid(x) if mode in ("normal", "large") else x.abs())
    elif kind == "sign":
        x = torch.where(x >= 0, 1.0, -1.0) if mode != "special" else torch.sign(x) + (x == 0).double() * 0.5
    if mode == "special":
        x = _special(x, g, dtype)
    return x.to(dtype)


def shapes(min_dims=0, max_dims=4, max_side=4, min_side=0):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcast_of(draw, shape):
    """The same shape, or one that broadcasts to it (some sides 1, leading dimensions dropped)."""
    if not shape or draw(st.booleans()):
        return shape
    drop = draw(st.integers(0, len(shape)))
    tail = shape[drop:]
    return tuple(1 if draw(st.booleans()) else s for s in tail)


@st.composite
def wrt_subset(draw, args, kwargs, candidates, refused=()):
    """A subset of ``candidates`` that are floating point tensors: each in 3 draws of 4; those torch refuses to
    differentiate (``refused``: then it raises, and refimpl must too) in 1 draw of 8, so most calls compute."""
    chosen = []
    for c in (*candidates, *refused):
        v = args[c] if isinstance(c, int) else kwargs.get(c)
        if isinstance(v, Tensor) and v.is_floating_point() and draw(st.integers(0, 7)) >= (7 if c in refused else 2):
            chosen.append(c)
    return tuple(chosen)


def _call(draw, args, kwargs, candidates, refused=()):
    return FuzzCall(tuple(args), kwargs, draw(wrt_subset(args, kwargs, candidates, refused)))


# ------------------------------------------------------------------------------------------------------------
# regression and probabilistic


@st.composite
def regression(draw, name):
    dtype, shape = draw(DTYPES), draw(shapes())
    target_shape = draw(broadcast_of(shape))
    x, y = draw(values(shape, dtype)), draw(values(target_shape, dtype))
    kwargs = {"reduction": draw(REDUCTION)}
    if name == "huber_loss":
        kwargs["delta"] = draw(st.sampled_from([0.5, 1.0, 2.0, 1e-3, 1e4]))
    if name == "smooth_l1_loss":
        kwargs["beta"] = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 1e-3]))
    if name != "smooth_l1_loss" and target_shape == shape and draw(st.booleans()):
        kwargs["weight"] = draw(values(shape, dtype, modes=("normal", "grid", "special"), kind="nonneg"))
    return _call(draw, (x, y), kwargs, (0, 1, "weight"))


@st.composite
def poisson_nll(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    log_input = draw(st.booleans())
    x = draw(values(shape, dtype, kind="real" if log_input else "nonneg"))
    y = draw(values(shape, dtype, kind="nonneg"))
    kwargs = dict(
        log_input=log_input,
        full=draw(st.booleans()),
        eps=draw(st.sampled_from([1e-8, 1e-3, 1.0])),
        reduction=draw(REDUCTION),
    )
    return _call(draw, (x, y), kwargs, (0, 1))


@st.composite
def gaussian_nll(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    x, y = draw(values(shape, dtype)), draw(values(shape, dtype))
    var_kind = draw(st.sampled_from(["same", "last-1", "drop-last", "float", "negative"]))
    if var_kind == "float":
        var = draw(st.sampled_from([0.0, 0.5, 2.0, 1e-8]))
    else:
        var_shape = shape
        if var_kind == "last-1" and shape:
            var_shape = shape[:-1] + (1,)
        elif var_kind == "drop-last" and shape:
            var_shape = shape[:-1]
        var = draw(values(var_shape, dtype, kind="real" if var_kind == "negative" else "nonneg"))
    kwargs = dict(full=draw(st.booleans()), eps=draw(st.sampled_from([1e-6, 1e-2, 0.5])), reduction=draw(REDUCTION))
    return _call(draw, (x, y, var), kwargs, (0, 1, 2))


@st.composite
def kl_div(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    log_target = draw(st.booleans())
    x = draw(values(shape, dtype))
    y = draw(values(shape, dtype, kind="real" if log_target or draw(st.integers(0, 4)) == 0 else "unit"))
    kwargs = dict(reduction=draw(st.sampled_from(["none", "mean", "sum", "batchmean"])), log_target=log_target)
    return _call(draw, (x, y), kwargs, (0, 1))


# ------------------------------------------------------------------------------------------------------------
# classification


@st.composite
def binary_cross_entropy(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    in_range = draw(st.integers(0, 5)) > 0  # otherwise inputs outside [0, 1]: torch raises
    x = draw(values(shape, dtype, kind="unit" if in_range else "real"))
    y = draw(values(shape, dtype, kind="unit"))
    kwargs = {"reduction": draw(REDUCTION)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(values(draw(broadcast_of(shape)), dtype, modes=("normal", "grid"), kind="nonneg"))
    return _call(draw, (x, y), kwargs, (0, 1), refused=("weight",))


@st.composite
def binary_cross_entropy_with_logits(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    x = draw(values(shape, dtype))
    y = draw(values(shape, dtype, kind="unit" if draw(st.integers(0, 3)) else "real"))
    kwargs = {"reduction": draw(REDUCTION)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(values(draw(broadcast_of(shape)), dtype, modes=("normal", "grid"), kind="nonneg"))
    if draw(st.booleans()):
        pos_shape = shape[-1:] if draw(st.booleans()) else draw(broadcast_of(shape))
        kwargs["pos_weight"] = draw(values(pos_shape, dtype, modes=("normal", "grid", "special"), kind="nonneg"))
    return _call(draw, (x, y), kwargs, (0, 1), refused=("weight", "pos_weight"))


@st.composite
def class_shapes(draw, min_classes=1):
    """(N, C, d1..dK) or unbatched (C,): batch 0..4, classes, 0..2 extra dimensions; and the target's shape."""
    c = draw(st.integers(min_classes, 5))
    if draw(st.integers(0, 4)) == 0:
        return (c,), ()
    n = draw(st.integers(0, 4))
    extra = draw(shapes(0, 2, 3))
    return (n, c, *extra), (n, *extra)


@st.composite
def class_targets(draw, target_shape, classes, ignore_index, device="cpu"):
    g = _generator(draw)
    y = torch.randint(0, classes, target_shape, generator=g)
    if ignore_index is not None and draw(st.booleans()):
        y = torch.where(torch.rand(target_shape, generator=g) < 0.3, ignore_index, y)
    return y


@st.composite
def nll_like(draw, name):
    dtype = draw(DTYPES)
    shape, target_shape = draw(class_shapes())
    c = shape[0] if len(shape) == 1 else shape[1]
    x = draw(values(shape, dtype))
    ignore_index = draw(st.sampled_from([-100, 0, c - 1, 7]))
    kwargs = {"reduction": draw(REDUCTION)}
    if ignore_index != -100:
        kwargs["ignore_index"] = ignore_index
    if draw(st.booleans()):
        kwargs["weight"] = draw(values((c,), dtype, modes=("normal", "grid"), kind="nonneg"))
    probabilities = name == "cross_entropy" and draw(st.integers(0, 2)) == 0
    if probabilities:
        kwargs.pop("ignore_index", None)
        y = draw(values(shape, dtype, kind="unit" if draw(st.integers(0, 3)) else "real"))
    else:
        y = draw(class_targets(target_shape, c, ignore_index))
    if name == "cross_entropy" and draw(st.booleans()):
        kwargs["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    if name == "nll_loss" and draw(st.booleans()):  # log-probabilities, as nll_loss expects
        x = (x.double() - x.double().logsumexp(1 if len(shape) > 1 else 0, keepdim=True)).to(dtype)
    return _call(draw, (x, y), kwargs, (0, 1), refused=("weight",))


@st.composite
def soft_margin(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    x = draw(values(shape, dtype))
    y = draw(values(shape, dtype, kind="sign" if draw(st.integers(0, 3)) else "real"))
    return _call(draw, (x, y), {"reduction": draw(REDUCTION)}, (0,), refused=(1,))


@st.composite
def multilabel_soft_margin(draw):
    dtype = draw(DTYPES)
    shape = (draw(st.integers(1, 5)),) if draw(st.integers(0, 4)) == 0 else draw(shapes(2, 2))
    x = draw(values(shape, dtype))
    y = draw(values(shape, dtype, kind="unit"))
    if draw(st.booleans()):
        y = (y > 0.5).to(dtype)
    kwargs = {"reduction": draw(REDUCTION)}
    if draw(st.booleans()):
        kwargs["weight"] = draw(values(shape[-1:], dtype, modes=("normal", "grid"), kind="nonneg"))
    return _call(draw, (x, y), kwargs, (0, 1, "weight"))


# ------------------------------------------------------------------------------------------------------------
# large output


@st.composite
def adaptive_log_softmax(draw):
    """The functional form of AdaptiveLogSoftmaxWithLoss (``refimpl.testing.torch_functional``): the module run
    with explicit head and tail weights, so every parameter's gradient is compared."""
    dtype = draw(DTYPES)
    n_in = draw(st.integers(1, 5))
    shortlist = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    hidden = [draw(st.integers(1, 3)) for _ in sizes]
    unbatched = draw(st.integers(0, 4)) == 0
    n = 1 if unbatched else draw(st.integers(0, 5))
    x = draw(values((n, n_in), dtype, modes=("normal", "grid", "large", "special")))
    g = _generator(draw)
    target = torch.randint(0, shortlist + sum(sizes), (n,), generator=g)
    if unbatched:
        x, target = x[0], target[0]
    head = draw(values((shortlist + len(sizes), n_in), dtype, modes=("normal", "grid")))
    tails = []
    for h, size in zip(hidden, sizes, strict=True):
        tails += [
            draw(values((h, n_in), dtype, modes=("normal", "grid"))),
            draw(values((size, h), dtype, modes=("normal", "grid"))),
        ]
    kwargs = {"reduction": draw(REDUCTION)}
    if draw(st.booleans()):
        kwargs["head_bias"] = draw(values((shortlist + len(sizes),), dtype, modes=("normal", "grid")))
    args = (x, target, head, *tails)
    return _call(draw, args, kwargs, (0, *range(2, len(args)), "head_bias"))


@st.composite
def linear_cross_entropy(draw):
    dtype = draw(DTYPES)
    d, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    batch = () if draw(st.integers(0, 4)) == 0 else draw(shapes(1, 2 if draw(st.integers(0, 5)) == 0 else 1, 4))
    x = draw(values((*batch, d), dtype, modes=("normal", "grid", "large", "special")))
    w = draw(values((c, d), dtype, modes=("normal", "grid")))
    ignore_index = draw(st.sampled_from([None, -100, 0, 3]))
    kwargs = {"reduction": draw(REDUCTION)}
    if ignore_index is not None:
        kwargs["ignore_index"] = ignore_index
    y = draw(class_targets(batch, c, -100 if ignore_index is None else ignore_index))
    if draw(st.booleans()):
        kwargs["linear_bias"] = draw(values((c,), dtype, modes=("normal", "grid")))
    if draw(st.booleans()):
        kwargs["weight"] = draw(values((c,), dtype, modes=("normal", "grid"), kind="nonneg"))
    if draw(st.booleans()):
        kwargs["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    return _call(draw, (x, w, y), kwargs, (0, 1, "linear_bias"), refused=("weight",))


# ------------------------------------------------------------------------------------------------------------
# margin and metric


MARGINS = st.sampled_from([1.0, 0.5, 2.0, 0.0, -0.5])  # triplet losses refuse margins <= 0 (ValueError)


@st.composite
def hinge_embedding(draw):
    dtype, shape = draw(DTYPES), draw(shapes())
    x = draw(values(shape, dtype))
    y = draw(values(draw(broadcast_of(shape)), dtype, kind="sign" if draw(st.integers(0, 3)) else "real"))
    kwargs = dict(margin=draw(MARGINS), reduction=draw(REDUCTION))
    return _call(draw, (x, y), kwargs, (0, 1))


@st.composite
def margin_ranking(draw):
    dtype, shape = draw(DTYPES), draw(shapes(0, 2))
    x1, x2 = draw(values(shape, dtype)), draw(values(draw(broadcast_of(shape)), dtype))
    y = draw(values(draw(broadcast_of(shape)), dtype, kind="sign" if draw(st.integers(0, 3)) else "real"))
    kwargs = dict(margin=draw(MARGINS), reduction=draw(REDUCTION))
    return _call(draw, (x1, x2, y), kwargs, (0, 1, 2))


@st.composite
def multi_margin(draw):
    dtype = draw(DTYPES)
    c = draw(st.integers(1, 5))
    unbatched = draw(st.integers(0, 4)) == 0
    # an empty batch is left out for 'mean' and 'sum': torch returns uninitialised memory there
    # (tests/test_empty_multi_margin.py checks refimpl's defined values instead)
    reduction = draw(REDUCTION)
    n = draw(st.integers(0 if reduction == "none" else 1, 4))
    shape = (c,) if unbatched else (n, c)
    x = draw(values(shape, dtype))
    g = _generator(draw)
    y = torch.randint(0, c, () if unbatched else (n,), generator=g)
    kwargs = dict(p=draw(st.sampled_from([1, 2])), margin=draw(MARGINS), reduction=reduction)
    if draw(st.booleans()):
        kwargs["weight"] = draw(values((c,), dtype, modes=("normal", "grid"), kind="nonneg"))
    return _call(draw, (x, y), kwargs, (0,), refused=("weight",))


@st.composite
def multilabel_margin(draw):
    dtype = draw(DTYPES)
    c = draw(st.integers(1, 5))
    unbatched = draw(st.integers(0, 4)) == 0
    reduction = draw(REDUCTION)
    n = draw(st.integers(0 if reduction == "none" else 1, 4))  # empty 'mean'/'sum': uninitialised in torch
    shape = (c,) if unbatched else (n, c)
    x = draw(values(shape, dtype))
    g = _generator(draw)
    y = torch.randint(-1, c, shape, generator=g)  # labels up to the first -1; entries after it are ignored
    return _call(draw, (x, y), {"reduction": reduction}, (0,))


@st.composite
def cosine_embedding(draw):
    dtype = draw(DTYPES)
    d = draw(st.integers(1, 4))
    unbatched = draw(st.integers(0, 4)) == 0
    n = draw(st.integers(0, 4))
    shape = (d,) if unbatched else (n, d)
    x1 = draw(values(shape, dtype))
    x2 = x1.clone() if draw(st.integers(0, 4)) == 0 else draw(values(shape, dtype))  # cosine exactly 1
    y = draw(values(() if unbatched else (n,), dtype, kind="sign" if draw(st.integers(0, 3)) else "real"))
    kwargs = dict(margin=draw(st.sampled_from([0.0, 0.5, -0.5, 1.0])), reduction=draw(REDUCTION))
    return _call(draw, (x1, x2, y), kwargs, (0, 1, 2))


@st.composite
def _triple(draw, dtype):
    d = draw(st.integers(1, 4))
    shape = (d,) if draw(st.integers(0, 4)) == 0 else (draw(st.integers(0, 4)), d)
    a = draw(values(shape, dtype))
    p = a.clone() if draw(st.integers(0, 5)) == 0 else draw(values(shape, dtype))  # zero distance
    n = draw(values(shape, dtype))
    return a, p, n


@st.composite
def triplet_margin(draw):
    dtype = draw(DTYPES)
    a, p, n = draw(_triple(dtype))
    kwargs = dict(
        margin=draw(MARGINS),
        p=draw(st.sampled_from([1.0, 2.0, 3.0, 0.5])),
        eps=draw(st.sampled_from([1e-6, 0.0, 0.1])),
        swap=draw(st.booleans()),
        reduction=draw(REDUCTION),
    )
    return _call(draw, (a, p, n), kwargs, (0, 1, 2))


def _l1_distance(x, y):
    return (x - y).abs().sum(-1)


def _cosine_distance(x, y):
    return 1 - (x * y).sum(-1) / (x.norm(dim=-1) * y.norm(dim=-1)).clamp_min(1e-8)


@st.composite
def triplet_margin_with_distance(draw):
    dtype = draw(DTYPES)
    a, p, n = draw(_triple(dtype))
    kwargs = dict(margin=draw(MARGINS), swap=draw(st.booleans()), reduction=draw(REDUCTION))
    distance = draw(st.sampled_from([None, _l1_distance, _cosine_distance]))
    if distance is not None:
        kwargs["distance_function"] = distance
    return _call(draw, (a, p, n), kwargs, (0, 1, 2))


# ------------------------------------------------------------------------------------------------------------
# sequence


@st.composite
def ctc(draw):
    dtype = draw(DTYPES)
    t_max, c = draw(st.integers(1, 6)), draw(st.integers(2, 5))
    unbatched = draw(st.integers(0, 4)) == 0
    n = 1 if unbatched else draw(st.integers(1, 3))
    blank = draw(st.sampled_from([0, c - 1]))
    logits = draw(values((t_max, n, c), dtype, modes=("normal", "grid", "large", "special")))
    log_probs = (
        logits
        if draw(st.integers(0, 4)) == 0
        else (logits.double() - logits.double().logsumexp(-1, keepdim=True)).to(dtype)
    )
    # +inf is no log-probability: torch's recursion turns it into NaN (inf - inf), refimpl's logaddexp into -inf
    # losses; reported, left out here
    log_probs = log_probs.masked_fill(log_probs == math.inf, 1e4)
    g = _generator(draw)
    s = draw(st.integers(0, 4))
    labels = [lab for lab in range(c) if lab != blank]
    targets = torch.tensor(labels)[torch.randint(len(labels), (n, s), generator=g)]
    target_lengths = torch.randint(0, s + 1, (n,), generator=g)
    input_lengths = torch.randint(0, t_max + 1, (n,), generator=g)
    if draw(st.booleans()):
        targets = torch.cat([targets[b, : target_lengths[b]] for b in range(n)])
    if unbatched:
        log_probs = log_probs[:, 0]
        targets = targets if targets.dim() == 1 else targets[0]
        input_lengths, target_lengths = input_lengths[0], target_lengths[0]
    kwargs = dict(blank=blank, reduction=draw(REDUCTION), zero_infinity=draw(st.booleans()))
    return _call(draw, (log_probs, targets, input_lengths, target_lengths), kwargs, (0,))


@st.composite
def typical(draw, name):
    """A call on the package's typical inputs of ``name`` (``refimpl.guide.inputs``, the makers the benchmarks and
    the convexity probes use) at a small drawn size, seed and dtype: the common case, beside the edge cases the
    loss's own strategy draws. Only the input is differentiated."""
    n, d = draw(st.integers(1, 6)), draw(st.integers(5, 8))  # d >= 5: multilabel_margin's maker sets 5 labels
    args, kwargs = typical_inputs(name, n, d, generator=_generator(draw), dtype=draw(DTYPES))
    return FuzzCall(args, kwargs, (0,))
