"""refimpl.nn modules are drop-in replacements: the same base classes (torch's ``_Loss``/``_WeightedLoss``),
constructor behaviour and warnings, attributes, buffers and state_dict, the same forward (value and gradients),
and torch's state_dict loads into them."""

import warnings

import pytest
import torch
from torch.nn.modules.loss import _Loss, _WeightedLoss

from refimpl.testing import assert_close
from registry import CASES


def _params():
    for case in CASES:
        for module_input in case.modules():
            yield pytest.param(case, module_input, id=f"{case.ref_module.__name__}-{module_input.desc}")


def _construct(cls, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = cls(**kwargs)
    return module, sorted((w.category.__name__, str(w.message)) for w in caught)


def _forward(module, args, wrt=None, result=None):
    leaves = [a.detach().clone().requires_grad_(wrt is None or i in wrt) for i, a in enumerate(args)]
    try:
        out = module(*leaves)
    except Exception as exc:  # the exception is compared with torch's
        return exc, None
    if result is not None:
        out = result(out)
    differentiable = [leaf for leaf in leaves if leaf.requires_grad]
    grads = torch.autograd.grad(out.sum(), differentiable) if out.requires_grad else None
    return out.detach(), grads


@pytest.mark.parametrize("case, module_input", list(_params()))
def test_module_matches_torch(case, module_input):
    torch_module, torch_warnings = _construct(case.torch_module, module_input.init_kwargs)
    ref_module, ref_warnings = _construct(case.ref_module, module_input.init_kwargs)
    for base in (torch.nn.Module, _Loss, _WeightedLoss):  # torch's loss bases, exactly where torch's module has them
        assert isinstance(ref_module, base) == isinstance(torch_module, base), f"isinstance(module, {base.__name__})"
    assert ref_warnings == torch_warnings
    public = {k: v for k, v in vars(torch_module).items() if not k.startswith("_") and k != "training"}
    for attribute, value in public.items():
        assert getattr(ref_module, attribute) == value, attribute
    assert ref_module.state_dict().keys() == torch_module.state_dict().keys()
    ref_module.load_state_dict(torch_module.state_dict())
    assert [n for n, _ in ref_module.named_buffers()] == [n for n, _ in torch_module.named_buffers()]

    expected, expected_grads = _forward(torch_module, module_input.forward_args, module_input.wrt, case.module_result)
    actual, actual_grads = _forward(ref_module, module_input.forward_args, module_input.wrt, case.module_result)
    if isinstance(expected, Exception):
        assert isinstance(actual, type(expected)), f"torch raised {expected!r}, refimpl gave {actual!r}"
        return
    assert_close(actual, expected, "module forward")
    for a, e in zip(actual_grads, expected_grads, strict=True):
        assert_close(a, e, "module gradient")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.ref_module.__name__)
def test_module_moves_like_torch(case):
    """``.double()`` and ``.to()`` keep the module usable, and its repr names the same settings."""
    module_input = case.modules()[0]
    torch_module = case.torch_module(**module_input.init_kwargs).double()
    ref_module = case.ref_module(**module_input.init_kwargs).float().double().to("cpu")
    ref_module.load_state_dict(torch_module.state_dict())  # parameters (if any) drawn at random in each
    assert repr(ref_module).split("(", 1)[1] == repr(torch_module).split("(", 1)[1]
    assert {k: v.dtype for k, v in ref_module.state_dict().items()} == {
        k: v.dtype for k, v in torch_module.state_dict().items()
    }
    args = [a.double() if a.is_floating_point() else a for a in module_input.forward_args]
    result = case.module_result or (lambda out: out)
    assert_close(result(ref_module(*args)), result(torch_module(*args)), "module forward after .double()")


@pytest.mark.filterwarnings("ignore")  # TorchScript's deprecation warnings
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.ref_module.__name__)
def test_modules_do_not_script_as_the_api_page_says(case):
    """book/reference/api.md says TorchScript cannot compile refimpl's modules (a Python autograd.Function's
    apply): if one ever scripts, the page must change."""
    module = case.ref_module(**case.modules()[0].init_kwargs)
    with pytest.raises(Exception):  # noqa: B017 - TorchScript raises RuntimeError, NotSupportedError or others
        torch.jit.script(module)
