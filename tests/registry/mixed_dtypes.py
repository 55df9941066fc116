"""Mixed-precision samples for every loss: a half-precision tensor (float16 or bfloat16) with float32 ones, both
ways, over at least 10^5 elements, for every reduction, wherever torch accepts the mix.

A large sum is where mixed dtypes go wrong: a float16 'mean' of 10^5 losses of size ~1 overflows if it is
rounded to float16 before it is divided (the bug of issue 14). Each loss's record has one maker of a large
float64 call per reduction (``LossCase.mixed_precision``, built from the helpers here); the variants convert its
first floating argument to the half dtype and the other floating arguments to float32, and the reverse. Class
indices, lengths and labels keep their integer dtype.

Whether torch accepts a variant is found by calling torch, once per variant: a variant torch refuses is left out
(its refusal is the subject of tests/test_dtypes.py), and one whose backward torch refuses is compared forward
only, saying so. ``registry/__init__.py`` appends these samples to each case's float16 and bfloat16 samples.
"""

import dataclasses
import warnings

import torch

from .core import REDUCTIONS, LossCase, SampleInput, make_generator, randn

LARGE = 100_000  # elements of the largest argument
HALF = (torch.float16, torch.bfloat16)


def normal(desc: str, *shape: int, scale: float = 1.0):
    return randn(desc, *shape, dtype=torch.float64, device="cpu", scale=scale)


def uniform(desc: str, *shape: int, low: float = 0.0, high: float = 1.0):
    return low + (high - low) * torch.rand(shape, generator=make_generator(desc), dtype=torch.float64)


def distributions(desc: str, rows: int, classes: int):
    """Rows of class probabilities (positive, summing to 1): cross_entropy's probability targets."""
    weights = uniform(desc, rows, classes)
    return weights / weights.sum(1, keepdim=True)


def signs(desc: str, *shape: int):
    return torch.where(uniform(desc, *shape) < 0.5, -1.0, 1.0).to(torch.float64)


def classes(desc: str, n: int, classes: int):
    return torch.randint(0, classes, (n,), generator=make_generator(desc))


N, C = 1000, 100  # rows and classes (or features) of the two-dimensional losses: N * C = LARGE


def _convert(value, dtype: torch.dtype, device: str):
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=dtype) if value.is_floating_point() else value.to(device)
    return value


def _variants(case: LossCase, dtype: torch.dtype, device: str):
    """(desc, args, kwargs, wrt) for each reduction and direction: the first floating argument in ``dtype`` and
    the other floating tensors (positional and keyword) in float32, then the reverse."""
    for reduction in REDUCTIONS:
        args, kwargs, wrt = case.mixed_precision(reduction)
        half = str(dtype).removeprefix("torch.")
        for desc, first, rest in (
            (f"large-input-{half}-others-float32", dtype, torch.float32),
            (f"large-input-float32-others-{half}", torch.float32, dtype),
        ):
            converted = [_convert(a, first if i == 0 else rest, device) for i, a in enumerate(args)]
            converted_kwargs = {k: _convert(v, rest, device) for k, v in kwargs.items()}
            yield f"{desc}-{reduction}", tuple(converted), converted_kwargs, _compared(case, first, wrt)


def _compared(case: LossCase, first: torch.dtype, wrt: tuple) -> tuple:
    """The arguments whose gradients are compared: all of ``wrt``, except where the record declares that torch's
    gradient of a half-precision argument next to a float32 input is off (``known_differences``: the key
    ``"mixed-precision:no-gradient:<position>"``, with the reason)."""
    if first != torch.float32:
        return wrt
    prefix = "mixed-precision:no-gradient:"
    skipped = {int(key.removeprefix(prefix)) for key in case.known_differences if key.startswith(prefix)}
    return tuple(w for w in wrt if w not in skipped)


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


_PROBED: dict[tuple[str, str, torch.dtype], tuple[tuple, ...]] = {}


def _probed(case: LossCase, device: str, dtype: torch.dtype) -> tuple[tuple, ...]:
    """Every variant of ``case`` with torch's answer: (desc, args, kwargs, wrt, accepted, backward refused).
    Cached: the 10^5-element tensors are built and torch is called once per loss, device and dtype."""
    if dtype not in HALF or case.mixed_precision is None:
        return ()
    key = (case.name, device, dtype)
    if key not in _PROBED:
        _PROBED[key] = _probe(case, device, dtype)
    return _PROBED[key]


def _probe(case: LossCase, device: str, dtype: torch.dtype) -> tuple[tuple, ...]:
    return tuple(
        (desc, args, kwargs, wrt, *_torch_accepts(case.torch_fn, args, kwargs, wrt))
        for desc, args, kwargs, wrt in _variants(case, dtype, device)
    )


def mixed_samples(case: LossCase, device: str, dtype: torch.dtype) -> list[SampleInput]:
    """The large mixed-precision samples of ``case`` that torch accepts."""
    return [
        SampleInput(desc, args, kwargs, wrt=wrt, forward_only=backward_refused)
        for desc, args, kwargs, wrt, accepted, backward_refused in _probed(case, device, dtype)
        if accepted
    ]


def refused_variants(case: LossCase, device: str, dtype: torch.dtype) -> list[tuple[str, tuple, dict]]:
    """The mixed-precision variants of ``case`` whose forward torch refuses: (desc, args, kwargs)."""
    return [(desc, args, kwargs) for desc, args, kwargs, _, accepted, _ in _probed(case, device, dtype) if not accepted]


def with_mixed_samples(case: LossCase) -> LossCase:
    """``case`` whose float16 and bfloat16 samples end with its large mixed-precision samples."""
    if case.mixed_precision is None:
        return case
    samples = case.samples

    def samples_with_mixed(device: str, dtype: torch.dtype) -> list[SampleInput]:
        return samples(device, dtype) + mixed_samples(case, device, dtype)

    return dataclasses.replace(case, samples=samples_with_mixed)
