"""torch's function transforms and forward-mode AD: refimpl behaves as torch does, decided per sample by calling
torch, not from a list.

For each registry sample (in float64; the 'ci' profile takes ``LossCase.option_samples``, a subset that uses every
option value, the 'long' profile every sample) and each transform, torch and refimpl (readable and fast) are run
the same way:

- ``grad``: ``torch.func.grad`` of the summed loss with respect to the first argument;
- ``vmap``: ``torch.func.vmap`` over a batch of two first arguments (the sample's and half of it);
- ``vmap(grad)``: per-sample gradients, the two composed;
- ``jvp``: ``torch.func.jvp`` along a seeded tangent of the first argument;
- ``forward_ad``: the same tangent through ``torch.autograd.forward_ad``'s dual tensors.

Where torch raises, refimpl raises the same exception type; elsewhere the results agree. Where refimpl knowingly
differs, the record says so in ``known_differences`` under the key ``"transforms:<transform>"`` or
``"transforms:<transform>:<description fragment>"``, with the reason, and those samples are not compared. Today
that covers the losses whose forward-mode derivative is not derived yet (``NO_JVP_YET``).
"""

import pytest
import torch
from torch.autograd import forward_ad
from torch.func import grad, jvp, vmap

from conftest import LONG
from refimpl.testing import assert_close
from registry import CASES

TRANSFORMS = ("grad", "vmap", "vmap(grad)", "jvp", "forward_ad")


def _tangent(x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(x.dtype)


def _run(transform: str, fn, args: tuple, kwargs: dict):
    """``fn`` on the sample under ``transform``, as a function of its first argument."""
    x, rest = args[0], args[1:]

    def loss(first):
        return fn(first, *rest, **kwargs)

    if transform == "grad":
        return grad(lambda first: loss(first).sum())(x)
    if transform == "vmap":
        return vmap(loss)(torch.stack([x, x / 2]))
    if transform == "vmap(grad)":
        return vmap(grad(lambda first: loss(first).sum()))(torch.stack([x, x / 2]))
    if transform == "jvp":
        return jvp(loss, (x,), (_tangent(x),))[1]
    with forward_ad.dual_level():
        return forward_ad.unpack_dual(loss(forward_ad.make_dual(x, _tangent(x)))).tangent


def _outcome(transform: str, fn, args: tuple, kwargs: dict) -> tuple:
    try:
        return "ok", _run(transform, fn, args, kwargs)
    except Exception as exc:  # the exception type is the result under test
        return "raises", exc


def _params():
    for case in CASES:
        samples = case.samples("cpu", torch.float64) if LONG else case.option_samples("cpu", torch.float64)
        for impl in case.implementations():
            for sample in samples:
                if not (isinstance(sample.args[0], torch.Tensor) and sample.args[0].is_floating_point()):
                    continue
                yield pytest.param(case, impl, sample, id=case.test_id(impl, sample.desc))


def _known_difference(case, sample, transform: str) -> str | None:
    """The record's reason why refimpl behaves otherwise under ``transform`` for this sample, if it states one:
    the key ``transforms:<transform>`` (every sample) or ``transforms:<transform>:<fragment>`` (the samples whose
    description contains the fragment)."""
    for key, reason in case.known_differences.items():
        kind, _, rest = key.partition(":")
        name, _, fragment = rest.partition(":")
        if kind == "transforms" and name == transform and fragment in sample.desc:
            return reason
    return None


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("case, impl, sample", list(_params()))
def test_transform_behaves_like_torch(case, impl, sample, transform):
    expected = _outcome(transform, case.torch_fn, sample.args, sample.kwargs)
    actual = _outcome(transform, case.implementation(impl), sample.args, sample.kwargs)
    if _known_difference(case, sample, transform) is not None:
        return  # the stated difference (the record's known_differences says what and why)
    if expected[0] == "raises":
        assert actual[0] == "raises", f"torch raised {expected[1]!r}; refimpl returned a result"
        assert isinstance(actual[1], type(expected[1])), f"torch raised {expected[1]!r}, refimpl {actual[1]!r}"
        return
    assert actual[0] == "ok", f"refimpl raised {actual[1]!r} where torch computes"
    assert_close(actual[1], expected[1], f"{case.name} under {transform}")


def test_a_stated_difference_still_differs():
    """The rule itself, on jvp: a loss without a forward-mode derivative states it and raises; a loss with one
    states nothing and computes (so a stated difference cannot hide a working transform there)."""
    from registry import CASES_BY_NAME

    case = CASES_BY_NAME["poisson_nll_loss"]  # no Function.jvp yet: its records say so
    sample = case.option_samples("cpu", torch.float64)[0]
    assert _known_difference(case, sample, "jvp") is not None
    assert _outcome("jvp", case.ref_fn, sample.args, sample.kwargs)[0] == "raises"
    case = CASES_BY_NAME["mse_loss"]  # has its jvp: no stated difference, and it computes
    sample = case.option_samples("cpu", torch.float64)[0]
    assert _known_difference(case, sample, "jvp") is None
    assert _outcome("jvp", case.ref_fn, sample.args, sample.kwargs)[0] == "ok"
