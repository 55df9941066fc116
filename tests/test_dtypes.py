"""Every loss in every dtype: float64, float32, float16, bfloat16, int64, int32, bool and complex64.

For each loss, the first registry sample of each reduction is taken in float64 and every floating point tensor
argument is converted to the dtype under test (class-index targets and lengths stay integers). torch is the
spec: where torch computes, refimpl gives the same value (in the same dtype, within that dtype's tolerance)
and, for floating dtypes, the same gradients; where torch raises, refimpl raises the same exception type.

``supported_dtypes(name, device)`` says which floating dtypes torch computes a loss in on a device (for the
report scripts); ``test_registry_declares_the_supported_dtypes`` holds the registry's ``dtypes`` to it.
"""

import functools

import pytest
import torch
from fuzz_compare import assert_same_outcome, outcome

from conftest import DEVICES
from registry import CASES, CASES_BY_NAME, ORDER, REDUCTIONS, SampleInput
from registry.mixed_dtypes import HALF, LARGE, refused_variants

FLOAT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
ALL_DTYPES = (*FLOAT_DTYPES, torch.int64, torch.int32, torch.bool, torch.complex64)


def representative_samples(name: str) -> list[SampleInput]:
    """The first float64 sample of each reduction ('none', 'mean', 'sum') in the registry."""
    chosen = {}
    for sample in CASES_BY_NAME[name].samples("cpu", torch.float64):
        reduction = sample.kwargs.get("reduction")
        if reduction in ("none", "mean", "sum") and reduction not in chosen:
            chosen[reduction] = sample
    return list(chosen.values())


def converted(case, sample: SampleInput, dtype: torch.dtype, device: str) -> tuple[tuple, dict, tuple]:
    """(args, kwargs, wrt) with floating point tensors converted to ``dtype`` and every tensor on ``device``;
    no gradients for non-floating dtypes (autograd refuses them), nor where the registry's sample in ``dtype``
    says why not (adaptive_log_softmax in float16: ulps of torch's half log-softmax backward, amplified)."""

    def convert(v):
        if not isinstance(v, torch.Tensor):
            return v
        return (v.to(dtype) if v.is_floating_point() else v).to(device)

    args = tuple(convert(a) for a in sample.args)
    kwargs = {k: convert(v) for k, v in sample.kwargs.items()}
    registered = case.samples(device, dtype) if dtype in case.dtypes[device] else []
    forward_only = sample.forward_only or any(s.desc == sample.desc and s.forward_only for s in registered)
    wrt = sample.wrt if dtype.is_floating_point and not forward_only else ()
    return args, kwargs, wrt


def _computes(name: str, dtype: torch.dtype, device: str) -> bool:
    case = CASES_BY_NAME[name]
    args, kwargs, wrt = converted(case, representative_samples(name)[0], dtype, device)
    return outcome(case.torch_fn, args, kwargs, wrt)[0] == "ok"


@functools.cache
def supported_dtypes(name: str, device: str = "cpu") -> list[str]:
    """The floating dtypes (``'float64'``, ``'float32'``, ``'float16'``, ``'bfloat16'``) in which torch computes
    loss ``name`` (forward and backward) on ``device``, found by calling torch on a registry sample. For a CUDA
    device on a machine without one, the registry's declaration (``LossCase.dtypes['cuda']``) is returned."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        return [str(d).removeprefix("torch.") for d in CASES_BY_NAME[name].dtypes["cuda"]]
    return [str(d).removeprefix("torch.") for d in FLOAT_DTYPES if _computes(name, d, device)]


def _params():
    for case in CASES:
        for impl in case.implementations():
            for sample in representative_samples(case.name):
                for dtype in ALL_DTYPES:
                    yield pytest.param(case, impl, sample, dtype, id=case.test_id(impl, sample.desc, str(dtype)[6:]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case, impl, sample, dtype", list(_params()))
def test_dtype_parity(case, impl, sample, dtype, device):
    args, kwargs, wrt = converted(case, sample, dtype, device)
    expected = outcome(case.torch_fn, args, kwargs, wrt)
    actual = outcome(case.implementation(impl), args, kwargs, wrt)
    assert_same_outcome(actual, expected, f"{case.name} in {dtype}")
    if expected[0] == "ok":
        assert actual[1].dtype == expected[1].dtype and actual[1].device == expected[1].device


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ORDER)
def test_registry_declares_the_supported_dtypes(name, device):
    """The registry's per-device dtypes are exactly those torch computes in (CPU float16 multi_margin_loss,
    multilabel_margin_loss and ctc_loss kernels are missing in torch 2.13)."""
    declared = [str(d).removeprefix("torch.") for d in CASES_BY_NAME[name].dtypes[device]]
    assert supported_dtypes(name, device) == declared


def test_integer_and_complex_inputs_are_refused_where_torch_refuses_them():
    """At least one loss refuses each of int64, bool and complex64 (so the parity test above exercises refusals)."""
    refused = {
        dtype: [name for name in ORDER if not _computes(name, dtype, "cpu")]
        for dtype in (torch.int64, torch.bool, torch.complex64)
    }
    assert all(refused.values()), refused


def _mixed_refusals():
    for case in CASES:
        for dtype in HALF:
            for impl in case.implementations():
                for desc, args, kwargs in refused_variants(case, "cpu", dtype):
                    yield pytest.param(case, impl, args, kwargs, id=case.test_id(impl, desc))


@pytest.mark.parametrize("case, impl, args, kwargs", list(_mixed_refusals()))
def test_mixed_precision_refused_where_torch_refuses(case, impl, args, kwargs):
    """Where torch refuses a half-precision tensor next to float32 ones (binary_cross_entropy, nll_loss's weight,
    the matrix products of the large-output losses), refimpl raises the same exception type."""
    expected = outcome(case.torch_fn, args, kwargs, ())
    actual = outcome(case.implementation(impl), args, kwargs, ())
    assert expected[0] == "raises" and actual[0] == "raises", f"torch: {expected[:2]}, refimpl: {actual[:2]}"
    assert actual[2] is expected[2], f"refimpl raised {actual[2]}, torch {expected[2]}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_loss_is_tried_in_mixed_precision(case):
    """Each loss with a second floating argument has large mixed-precision samples for every reduction, both ways,
    in float16 and bfloat16 (``registry/mixed_dtypes.py``, or its own for the regression losses), unless torch refuses
    the mix, which the test above then compares."""
    if "mixed-precision" in case.known_differences:
        pytest.skip(case.known_differences["mixed-precision"])
    for dtype in HALF:
        if dtype not in case.dtypes["cpu"]:
            continue
        half = str(dtype).removeprefix("torch.")
        large = [
            s.desc.replace("torch.", "")
            for s in case.samples("cpu", dtype)
            if "large-input" in s.desc and max(a.numel() for a in s.args if isinstance(a, torch.Tensor)) >= LARGE
        ]
        refused = refused_variants(case, "cpu", dtype)
        for reduction in REDUCTIONS:
            for first, rest in ((half, "float32"), ("float32", half)):
                found = [
                    d
                    for d in large
                    if d.endswith(reduction)
                    and f"input-{first}-" in d
                    and rest in d.removeprefix(f"large-input-{first}")
                ]
                tried = [d for d, _, _ in refused if d.endswith(reduction) and f"input-{first}-" in d]
                assert found or tried, f"{case.name}: no {reduction} sample with a {first} input and {rest} others"
