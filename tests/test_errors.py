"""Bad input: refimpl raises torch's exception type, both messages carry torch's key phrase, and
refimpl's names the offending argument. Run on CPU (CUDA reports some of these by device asserts), except the
calls that mix devices (``registry/devices.py``), which run where CUDA exists and are skipped elsewhere."""

import dataclasses
import re

import pytest
import torch

from registry import CASES
from registry.devices import device_errors


def _params():
    for case in CASES:
        for impl in case.implementations():
            for error in case.errors():
                yield pytest.param(case, impl, error, id=case.test_id(impl, error.desc))
            for error in device_errors(case):
                skip = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
                yield pytest.param(case, impl, error, id=case.test_id(impl, error.desc), marks=skip)


@pytest.mark.parametrize("case, impl, error", list(_params()))
def test_bad_input_raises_like_torch(case, impl, error):
    torch_exc = error.raised_by(case.torch_fn)
    assert isinstance(torch_exc, error.exc_type), f"torch raised {torch_exc!r}, the case expects {error.exc_type}"
    assert re.search(error.match, str(torch_exc)), f"torch's message changed: {torch_exc}"
    ref_exc = error.raised_by(case.implementation(impl))
    assert isinstance(ref_exc, type(torch_exc)), f"refimpl raised {ref_exc!r}, torch raised {torch_exc!r}"
    assert re.search(error.match, str(ref_exc)), f"refimpl's message lacks torch's phrase: {ref_exc}"
    assert error.names in str(ref_exc), f"refimpl's message does not name {error.names!r}: {ref_exc}"
    assert case.name in str(ref_exc), f"refimpl's message does not name the function: {ref_exc}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_category_that_applies_is_covered(case):
    """Each loss's error table covers the kinds of malformed call its record declares (``error_categories``: a
    wrong shape and dtype, an invalid reduction, a second device, an out-of-range class index where the loss
    takes indices, a value outside the domain, a gradient torch refuses)."""
    categories = {error.category for error in case.errors()} | {error.category for error in device_errors(case)}
    assert case.error_categories <= categories, f"{case.name} lacks {sorted(case.error_categories - categories)}"


# Without a GPU, a meta tensor stands in for the second device: torch refuses to mix it with CPU tensors.


def _meta_params():
    for case in CASES:
        for error in device_errors(case):
            reason = case.known_differences.get("meta-device")
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            yield pytest.param(
                case, dataclasses.replace(error, device="meta"), id=f"{case.name}-{error.desc}", marks=marks
            )


@pytest.mark.parametrize("case, error", list(_meta_params()))
def test_mixed_devices_raise_like_torch_with_a_meta_tensor(case, error):
    torch_exc = error.raised_by(case.torch_fn)
    assert isinstance(torch_exc, RuntimeError) and "device" in str(torch_exc), f"torch raised {torch_exc!r}"
    ref_exc = error.raised_by(case.ref_fn)
    assert isinstance(ref_exc, RuntimeError), f"refimpl raised {ref_exc!r}, torch raised {torch_exc!r}"
    assert "same device" in str(ref_exc), f"refimpl's message does not say what is wrong: {ref_exc}"
    assert error.names in str(ref_exc), f"refimpl's message does not name {error.names!r}: {ref_exc}"
    assert case.name in str(ref_exc), f"refimpl's message does not name the function: {ref_exc}"


def test_a_cpu_scalar_may_join_tensors_on_another_device():
    """torch reads a 0-dim CPU tensor as a number, whatever the other tensors' device: so does the check."""
    from refimpl._checks import check_same_device

    check_same_device("mse_loss", input=torch.zeros(3, device="meta"), target=torch.tensor(1.0))
    with pytest.raises(RuntimeError, match="argument target"):
        check_same_device("mse_loss", input=torch.zeros(3, device="meta"), target=torch.zeros(3))
