"""The purity trap: refimpl derives every loss, so while a refimpl loss runs (forward and backward) no
torch loss, softmax, log_softmax, pairwise_distance or cosine_similarity may be called, whether through
``torch.nn.functional``, a ``torch.nn`` loss module, a Tensor method or the aten op itself.

Two interceptors watch at once: a ``TorchFunctionMode`` sees the Python-level API (F.*, torch.*,
Tensor methods, torch._C._nn.*), a ``TorchDispatchMode`` sees every aten op that reaches a kernel.
"""

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from registry import CASES

# every loss's own torch functions and aten ops (each record's ``forbidden``), and what the book derives instead of
# calling
DERIVED = (
    "softmax",
    "log_softmax",
    "_softmax",
    "_log_softmax",
    "pairwise_distance",
    "_pairwise_distance",
    "cosine_similarity",
)
FORBIDDEN = frozenset(name for case in CASES for name in case.forbidden) | frozenset(DERIVED)


class ForbiddenCall(AssertionError):
    """refimpl called something it must derive."""


def _is_forbidden(name: str) -> bool:
    base = name.split("::")[-1].split(".")[0]
    for suffix in ("_backward", "_forward", "_out"):
        base = base.removesuffix(suffix)
    return base in FORBIDDEN


class _FunctionTrap(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if _is_forbidden(name):
            raise ForbiddenCall(f"refimpl called torch's {name}")
        return func(*args, **(kwargs or {}))


class _DispatchTrap(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if _is_forbidden(func._schema.name):
            raise ForbiddenCall(f"refimpl reached the aten op {func._schema.name}")
        return func(*args, **(kwargs or {}))


class trap:
    """Context manager: fail on any forbidden call inside the block."""

    def __enter__(self):
        self.modes = [_FunctionTrap(), _DispatchTrap()]
        for mode in self.modes:
            mode.__enter__()

    def __exit__(self, *exc):
        for mode in reversed(self.modes):
            mode.__exit__(*exc)


def _run(fn, sample):
    args = [
        a.detach().clone().requires_grad_(i in sample.wrt and a.is_floating_point())
        if isinstance(a, torch.Tensor)
        else a
        for i, a in enumerate(sample.args)
    ]
    out = fn(*args, **sample.kwargs)
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    if out.requires_grad and leaves and not sample.forward_only:
        torch.autograd.grad(out.sum().real, leaves, allow_unused=True)  # .real: a complex loss has no implicit grad


def _case_dtypes():
    """Each loss in float64, float32 and float16, where torch has a CPU kernel for the dtype."""
    for case in CASES:
        for dtype in (torch.float64, torch.float32, torch.float16):
            if dtype in case.dtypes["cpu"]:
                for impl in case.implementations():
                    yield pytest.param(case, impl, dtype, id=case.test_id(impl, str(dtype)[6:]))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case, impl, dtype", list(_case_dtypes()))
def test_refimpl_derives_never_delegates(case, impl, dtype):
    samples = case.samples("cpu", dtype)
    assert samples
    with trap():
        for sample in samples:
            _run(case.implementation(impl), sample)
        for module_input in case.modules():
            try:
                case.ref_module(**module_input.init_kwargs)(*module_input.forward_args)
            except ForbiddenCall:
                raise
            except Exception:  # inputs made to raise (reduction='foo') are test_modules' business
                continue


@pytest.mark.parametrize(
    "impure",
    [
        pytest.param(lambda x: F.mse_loss(x, x * 0), id="F.mse_loss"),
        pytest.param(lambda x: torch._C._nn.l1_loss(x, x * 0, 1), id="torch._C._nn.l1_loss"),
        pytest.param(lambda x: torch.nn.HuberLoss()(x, x * 0), id="nn.HuberLoss"),
        pytest.param(lambda x: torch.softmax(x, 0), id="torch.softmax"),
        pytest.param(lambda x: x.log_softmax(0), id="Tensor.log_softmax"),
        pytest.param(lambda x: F.cosine_similarity(x[None], x[None]), id="F.cosine_similarity"),
        pytest.param(lambda x: F.pairwise_distance(x[None], x[None]), id="F.pairwise_distance"),
        pytest.param(lambda x: torch.ops.aten.smooth_l1_loss(x, x * 0, 1, 1.0), id="aten.smooth_l1_loss"),
    ],
)
def test_trap_catches_delegation(impure):
    """The trap is a test that can fail: each of these calls is caught."""
    with pytest.raises(ForbiddenCall), trap():
        impure(torch.randn(4))
