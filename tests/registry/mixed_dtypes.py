"""Mixed-precision samples for every loss: a half-precision tensor (float16 or bfloat16) with float32 ones, both
ways, over at least 10^5 elements, for every reduction, wherever torch accepts the mix.

A large sum is where mixed dtypes go wrong: a float16 'mean' of 10^5 losses of size ~1 overflows if it is
rounded to float16 before it is divided (the bug of issue 14). Each loss has one maker of a large float64 call
per reduction; the variants convert its first floating argument to the half dtype and the other floating
arguments to float32, and the reverse. Class indices, lengths and labels keep their integer dtype.

Whether torch accepts a variant is found by calling torch, once per variant: a variant torch refuses is left out
(its refusal is the subject of tests/test_dtypes.py), and one whose backward torch refuses is compared forward
only, saying so. ``registry/__init__.py`` appends these samples to each case's float16 and bfloat16 samples.
"""

import dataclasses
import functools
import warnings

import torch

from .core import REDUCTIONS, LossCase, SampleInput, make_generator, randn

LARGE = 100_000  # elements of the largest argument
HALF = (torch.float16, torch.bfloat16)


def _normal(desc: str, *shape: int, scale: float = 1.0):
    return randn(desc, *shape, dtype=torch.float64, device="cpu", scale=scale)


def _uniform(desc: str, *shape: int, low: float = 0.0, high: float = 1.0):
    return low + (high - low) * torch.rand(shape, generator=make_generator(desc), dtype=torch.float64)


def _distributions(desc: str, rows: int, classes: int):
    """Rows of class probabilities (positive, summing to 1): cross_entropy's probability targets."""
    weights = _uniform(desc, rows, classes)
    return weights / weights.sum(1, keepdim=True)


def _signs(desc: str, *shape: int):
    return torch.where(_uniform(desc, *shape) < 0.5, -1.0, 1.0).to(torch.float64)


def _classes(desc: str, n: int, classes: int):
    return torch.randint(0, classes, (n,), generator=make_generator(desc))


N, C = 1000, 100  # rows and classes (or features) of the two-dimensional losses: N * C = LARGE


def _makers() -> dict:
    """loss name -> (reduction -> (args, kwargs, wrt)) in float64 on the CPU."""
    return {
        "poisson_nll_loss": lambda r: (
            (_normal("p-x", LARGE), _uniform("p-y", LARGE, high=4.0)),
            dict(reduction=r),
            (0, 1),
        ),
        "gaussian_nll_loss": lambda r: (
            (_normal("g-x", LARGE), _normal("g-y", LARGE), _uniform("g-v", LARGE, low=0.5, high=2.0)),
            dict(reduction=r),
            (0, 1, 2),
        ),
        "kl_div": lambda r: ((_normal("k-x", LARGE), _uniform("k-y", LARGE)), dict(reduction=r), (0, 1)),
        "binary_cross_entropy": lambda r: (
            (_uniform("b-x", LARGE, low=0.05, high=0.95), _uniform("b-y", LARGE)),
            dict(reduction=r),
            (0, 1),
        ),
        "binary_cross_entropy_with_logits": lambda r: (
            (_normal("bl-x", LARGE, scale=2.0), _uniform("bl-y", LARGE)),
            dict(reduction=r),
            (0, 1),
        ),
        "nll_loss": lambda r: (
            (_normal("n-x", N, C), _classes("n-y", N, C)),
            dict(reduction=r, weight=_uniform("n-w", C, low=0.5, high=2.0)),
            (0,),
        ),
        "cross_entropy": lambda r: (
            (_normal("c-x", N, C, scale=3.0), _distributions("c-y", N, C)),
            dict(reduction=r),
            (0, 1),
        ),
        "soft_margin_loss": lambda r: (
            (_normal("s-x", LARGE, scale=2.0), _signs("s-y", LARGE)),
            dict(reduction=r),
            (0,),
        ),
        "multilabel_soft_margin_loss": lambda r: (
            (_normal("ms-x", N, C, scale=2.0), _uniform("ms-y", N, C)),
            dict(reduction=r),
            (0, 1),
        ),
        "adaptive_log_softmax": lambda r: (
            (
                _normal("a-x", N, C),
                _classes("a-y", N, 12),
                _normal("a-h", 5, C, scale=0.1),
                _normal("a-t0", 10, C, scale=0.1),
                _normal("a-t1", 4, 10, scale=0.1),
                _normal("a-t2", 10, C, scale=0.1),
                _normal("a-t3", 3, 10, scale=0.1),
            ),
            dict(reduction=r),
            (0, 2, 3, 4, 5, 6),
        ),
        "linear_cross_entropy": lambda r: (
            (_normal("l-x", N, C, scale=0.3), _normal("l-w", 10, C, scale=0.3), _classes("l-y", N, 10)),
            dict(reduction=r),
            (0, 1),
        ),
        "hinge_embedding_loss": lambda r: (
            (_normal("h-x", LARGE, scale=2.0), _signs("h-y", LARGE)),
            dict(reduction=r),
            (0,),
        ),
        "margin_ranking_loss": lambda r: (
            (_normal("m-a", LARGE), _normal("m-b", LARGE), _signs("m-y", LARGE)),
            dict(reduction=r),
            (0, 1),
        ),
        "multi_margin_loss": lambda r: (
            (_normal("mm-x", N, C), _classes("mm-y", N, C)),
            dict(reduction=r, weight=_uniform("mm-w", C, low=0.5, high=2.0)),
            (0,),
        ),
        "multilabel_margin_loss": None,  # one floating argument: no mix to make
        "cosine_embedding_loss": lambda r: (
            (_normal("ce-a", N, C), _normal("ce-b", N, C), _signs("ce-y", N)),
            dict(reduction=r),
            (0, 1),
        ),
        "triplet_margin_loss": lambda r: (
            (_normal("t-a", N, C), _normal("t-p", N, C), _normal("t-n", N, C)),
            dict(reduction=r),
            (0, 1, 2),
        ),
        "triplet_margin_with_distance_loss": lambda r: (
            (_normal("td-a", N, C), _normal("td-p", N, C), _normal("td-n", N, C)),
            dict(reduction=r),
            (0, 1, 2),
        ),
        "ctc_loss": None,  # one floating argument (log_probs): no mix to make
    }


MAKERS = _makers()
NO_SECOND_FLOATING_ARGUMENT = frozenset(name for name, maker in MAKERS.items() if maker is None)
# the regression losses carry their own large mixed samples (registry/regression.py)
OWN_SAMPLES = frozenset({"l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"})


def _convert(value, dtype: torch.dtype, device: str):
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype) if value.is_floating_point() else value.to(device)
    return value


def _variants(name: str, dtype: torch.dtype, device: str):
    """(desc, args, kwargs, wrt) for each reduction and direction: the first floating argument in ``dtype`` and
    the other floating tensors (positional and keyword) in float32, then the reverse."""
    for reduction in REDUCTIONS:
        args, kwargs, wrt = MAKERS[name](reduction)
        half = str(dtype).removeprefix("torch.")
        for desc, first, rest in (
            (f"large-input-{half}-others-float32", dtype, torch.float32),
            (f"large-input-float32-others-{half}", torch.float32, dtype),
        ):
            converted = [_convert(a, first if i == 0 else rest, device) for i, a in enumerate(args)]
            converted_kwargs = {k: _convert(v, rest, device) for k, v in kwargs.items()}
            yield f"{desc}-{reduction}", tuple(converted), converted_kwargs, _compared(name, first, wrt)


def _compared(name: str, first: torch.dtype, wrt: tuple) -> tuple:
    """The arguments whose gradients are compared. One expected difference, kept as data: gaussian_nll_loss with a
    half-precision ``var`` and float32 ``input``. torch's Python composite takes ``log(var)`` in var's dtype and
    adds its gradient 1/var to the float32 gradient of r^2/var rounded to half precision, so where the two cancel
    torch's var gradient is off by a few half-precision ulps of the addends (0.0117 against the 0.01 bfloat16
    tolerance on one element in 10^5); refimpl computes the sum in float32 and rounds once."""
    if name == "gaussian_nll_loss" and first == torch.float32:
        return tuple(w for w in wrt if w != 2)
    return wrt


def _torch_accepts(fn, args, kwargs, wrt) -> tuple[bool, str]:
    """(torch computes the forward, reason the gradients cannot be compared or ''): by calling torch."""
    leaves = [
        a.detach().clone().requires_grad_(i in wrt) if isinstance(a, torch.Tensor) and a.is_floating_point() else a
        for i, a in enumerate(args)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(*leaves, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            return False, ""
        try:
            out.sum().backward()
        except RuntimeError as exc:
            return True, f"torch's backward raises for this mix of dtypes ({str(exc).splitlines()[0][:80]})"
    return True, ""


def _tried(name: str) -> bool:
    """Whether loss ``name`` gets mixed-precision variants here (a second floating argument, no samples of its own)."""
    return MAKERS.get(name) is not None and name not in OWN_SAMPLES


@functools.cache
def _probed(name: str, torch_fn, device: str, dtype: torch.dtype) -> tuple[tuple, ...]:
    """Every variant of loss ``name`` with torch's answer: (desc, args, kwargs, wrt, accepted, backward refused).
    Cached: the 10^5-element tensors are built and torch is called once per loss, device and dtype."""
    if dtype not in HALF or not _tried(name):
        return ()
    return tuple(
        (desc, args, kwargs, wrt, *_torch_accepts(torch_fn, args, kwargs, wrt))
        for desc, args, kwargs, wrt in _variants(name, dtype, device)
    )


def mixed_samples(name: str, torch_fn, device: str, dtype: torch.dtype) -> list[SampleInput]:
    """The large mixed-precision samples of loss ``name`` that torch accepts."""
    return [
        SampleInput(desc, args, kwargs, wrt=wrt, forward_only=backward_refused)
        for desc, args, kwargs, wrt, accepted, backward_refused in _probed(name, torch_fn, device, dtype)
        if accepted
    ]


def refused_variants(name: str, torch_fn, device: str, dtype: torch.dtype) -> list[tuple[str, tuple, dict]]:
    """The mixed-precision variants of loss ``name`` whose forward torch refuses: (desc, args, kwargs)."""
    return [
        (desc, args, kwargs)
        for desc, args, kwargs, _, accepted, _ in _probed(name, torch_fn, device, dtype)
        if not accepted
    ]


def with_mixed_samples(case: LossCase) -> LossCase:
    """``case`` whose float16 and bfloat16 samples end with its large mixed-precision samples."""
    if not _tried(case.name):
        return case
    samples = case.samples

    def samples_with_mixed(device: str, dtype: torch.dtype) -> list[SampleInput]:
        return samples(device, dtype) + mixed_samples(case.name, case.torch_fn, device, dtype)

    return dataclasses.replace(case, samples=samples_with_mixed)
