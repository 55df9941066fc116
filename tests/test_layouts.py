"""Memory layouts: every registry sample (float32, CPU) called with its tensors in other layouts gives what the
contiguous call gives, value and gradients, and what torch gives on the same strided tensors.

Layouts (each applied to every tensor argument it fits, class-index targets and lengths included):

* ``sliced``: every other element of a twice-as-long last dimension (stride 2);
* ``transposed``: a transposed copy transposed back (the last two strides swapped; 2-D and up);
* ``channels_last``: ``torch.channels_last`` memory format (4-D tensors);
* ``expanded``: the first entry along dimension 0 expanded over the batch (stride 0). The values change, so
  this layout is compared with the same values made contiguous, not with the sample itself.

Gradient leaves keep the layout (``detach`` does not copy), so refimpl's backward receives strided tensors too.
"""

import pytest
import torch
from fuzz_compare import assert_same_outcome, outcome

from registry import CASES, SampleInput

DTYPE = torch.float32
SLACK = 4.0  # times the float32 tolerances (results in float64 from mixed float32/float64 inputs included)


def _sliced(t: torch.Tensor) -> torch.Tensor:
    if t.numel() == 0 or t.dim() == 0 or t.shape[-1] < 2:
        return t
    wide = t.new_zeros(*t.shape[:-1], 2 * t.shape[-1])
    wide[..., ::2] = t
    return wide[..., ::2]


def _transposed(t: torch.Tensor) -> torch.Tensor:
    if t.numel() == 0 or t.dim() < 2 or t.shape[-1] < 2 or t.shape[-2] < 2:
        return t
    return t.transpose(-1, -2).contiguous().transpose(-1, -2)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    if t.numel() == 0 or t.dim() != 4 or t.shape[1] < 2 or t.shape[2] * t.shape[3] < 2:
        return t
    return t.contiguous(memory_format=torch.channels_last)


def _expanded(t: torch.Tensor) -> torch.Tensor:
    if t.numel() == 0 or t.dim() == 0 or t.shape[0] < 2:
        return t
    return t[:1].expand(t.shape)


LAYOUTS = {"sliced": _sliced, "transposed": _transposed, "channels_last": _channels_last, "expanded": _expanded}


def _apply(layout, sample: SampleInput) -> tuple[tuple, dict] | None:
    """The sample's arguments in ``layout`` (None when the layout changes no tensor's strides)."""
    changed = False

    def convert(v):
        nonlocal changed
        if not isinstance(v, torch.Tensor):
            return v
        out = layout(v)
        changed |= out.stride() != v.stride()
        return out

    args = tuple(convert(a) for a in sample.args)
    kwargs = {k: convert(v) for k, v in sample.kwargs.items()}
    return (args, kwargs) if changed else None


def _contiguous(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    def convert(v):
        return v.contiguous() if isinstance(v, torch.Tensor) else v

    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


def _ill_conditioned(sample: SampleInput, layout: str) -> bool:
    """Expanding a sample of 1e4-scale logits over the batch makes every row (and for linear_cross_entropy every
    class) equal, so the exact gradient is a cancellation of 1e4-sized float32 terms: torch's and refimpl's
    differ in rounding (1e-3 absolute) though both equal their contiguous calls."""
    return layout == "expanded" and ("extreme" in sample.desc or "1e4" in sample.desc)


def _params():
    for case in CASES:
        if DTYPE not in case.dtypes["cpu"]:
            continue
        for impl in case.implementations():
            for sample in case.samples_under_test(impl, "cpu", DTYPE):
                if any(_apply(layout, sample) for layout in LAYOUTS.values()):
                    yield pytest.param(case, impl, sample, id=case.test_id(impl, sample.desc))


@pytest.mark.parametrize("case, impl, sample", list(_params()))
def test_layouts_match_contiguous_and_torch(case, impl, sample):
    wrt = () if sample.forward_only else sample.wrt
    for name, layout in LAYOUTS.items():
        strided = _apply(layout, sample)
        if strided is None:
            continue
        args, kwargs = strided
        assert name == "channels_last" or any(
            isinstance(a, torch.Tensor) and not a.is_contiguous() for a in (*args, *kwargs.values())
        )
        contiguous = outcome(case.implementation(impl), *_contiguous(args, kwargs), wrt)
        actual = outcome(case.implementation(impl), args, kwargs, wrt)
        # other strides change the order of torch's reductions: rounding differs by a few ulp, hence the slack
        assert_same_outcome(actual, contiguous, f"{case.name} {name} against contiguous", SLACK, DTYPE)
        if _ill_conditioned(sample, name):
            continue
        if f"layout:{name}" in case.known_differences:  # torch gets it wrong: compare with its contiguous call
            expected = outcome(case.torch_fn, *_contiguous(args, kwargs), wrt)
        else:
            expected = outcome(case.torch_fn, args, kwargs, wrt)
        assert_same_outcome(actual, expected, f"{case.name} {name} against torch", SLACK, DTYPE)
