"""Registry entry of the Gaussian negative log likelihood (book/probabilistic/gaussian_nll.ipynb).

The samples aim at what is special about this loss: every ``var`` shape torch accepts (same as the input,
one dimension fewer, one dimension of size 1, a Python float, 0-dim for a 1-D input), the ``eps`` floor
(variances below, at and far below it, where torch's gradient convention departs from the derivative),
``full``, silent target broadcasting, integer inputs promoting to float, mixed dtypes and complex inputs.
"""

import math

import torch
import torch.nn.functional as F
from cases_core import (
    FLOATING,
    REDUCTIONS,
    ErrorInput,
    KnownValue,
    LossCase,
    ModuleInput,
    SampleInput,
    bound_arguments,
    randn,
)
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN

ALL = (0, 1, 2)  # input, target and var are all differentiable


def _variance(desc: str, *shape: int, dtype: torch.dtype, device: str, low: float = 0.1) -> Tensor:
    """Seeded positive variances in [low, low + e^2) (exp of a normal draw), away from the eps floor."""
    return (randn(desc, *shape, dtype=torch.float64, device="cpu").exp() + low).to(dtype=dtype, device=device)


def _shapes(device: str, dtype: torch.dtype):
    """(desc, input, target, var) for every var shape torch accepts and the broadcasting it implies."""
    t = dict(dtype=dtype, device=device)
    yield "var-same-(3,4)", randn("x34", 3, 4, **t), randn("y34", 3, 4, **t), _variance("v34", 3, 4, **t)
    yield ("var-same-(2,3,4,5)", randn("x2345", 2, 3, 4, 5, **t), randn("y2345", 2, 3, 4, 5, **t),
           _variance("v2345", 2, 3, 4, 5, **t))
    yield "var-one-fewer-dim-(3,4)-(3,)", randn("xa", 3, 4, **t), randn("ya", 3, 4, **t), _variance("va", 3, **t)
    yield ("var-one-fewer-dim-(2,3,4)-(2,3)", randn("xb", 2, 3, 4, **t), randn("yb", 2, 3, 4, **t),
           _variance("vb", 2, 3, **t))
    yield "var-trailing-1-(3,4)-(3,1)", randn("xc", 3, 4, **t), randn("yc", 3, 4, **t), _variance("vc", 3, 1, **t)
    yield "var-leading-1-(3,4)-(1,4)", randn("xd", 3, 4, **t), randn("yd", 3, 4, **t), _variance("vd", 1, 4, **t)
    yield ("var-middle-1-(2,3,4,5)-(2,1,4,5)", randn("xe", 2, 3, 4, 5, **t), randn("ye", 2, 3, 4, 5, **t),
           _variance("ve", 2, 1, 4, 5, **t))
    yield "var-(1,)-input-(5,)", randn("xf", 5, **t), randn("yf", 5, **t), _variance("vf", 1, **t)
    yield "var-0-dim-input-(5,)", randn("xg", 5, **t), randn("yg", 5, **t), _variance("vg", **t).reshape(())
    yield "0-dim", randn("x0", **t).reshape(()), randn("y0", **t).reshape(()), _variance("v0", **t).reshape(())
    yield ("input-(4,1)-var-(4,)", randn("xh", 4, 1, **t), randn("yh", 4, 1, **t), _variance("vh", 4, **t))
    yield ("target-broadcast-(4,1)-(4,3)", randn("xi", 4, 1, **t), randn("yi", 4, 3, **t), _variance("vi", 4, 1, **t))
    yield "target-broadcast-(3,4)-(4,)", randn("xj", 3, 4, **t), randn("yj", 4, **t), _variance("vj", 3, 4, **t)
    yield ("target-broadcast-0-dim", randn("xk", 3, 4, **t), randn("yk", **t).reshape(()),
           _variance("vk", 3, 1, **t))
    yield ("target-larger-(2,3,4)-input-(3,4)", randn("xl", 3, 4, **t), randn("yl", 2, 3, 4, **t),
           _variance("vl", 3, **t))
    large = 30.0 if dtype in (torch.float16, torch.bfloat16) else 1e3  # r^2 stays finite in half precision
    yield "large-residuals", randn("xm", 4, 5, scale=large, **t), randn("ym", 4, 5, **t), _variance("vm", 4, 5, **t)
    yield "small-variances", randn("xn", 4, 5, **t), randn("yn", 4, 5, **t), _variance("vn", 4, 5, low=1e-3, **t)
    yield "empty=(0,)", torch.zeros(0, **t), torch.zeros(0, **t), torch.zeros(0, **t)
    yield "empty=(0,3)-var-(0,)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t), torch.zeros(0, **t)
    yield "empty=(0,3)-var-(1,3)", torch.zeros(0, 3, **t), torch.zeros(0, 3, **t), _variance("vo", 1, 3, **t)
    # torch's rule sums var's sizes where they differ from input's: 0 + 1 == 1 passes, and the loss is empty
    yield "empty-loss-input-(1,3)-var-(0,1)", randn("xp", 1, 3, **t), randn("yp", 1, 3, **t), torch.zeros(0, 1, **t)


def _floor_samples(device: str, dtype: torch.dtype, reduction: str) -> list[SampleInput]:
    """Variances at and below eps: the forward uses max(var, eps), the gradient still flows (torch's convention,
    not the derivative of the clamped formula), so these stay out of gradcheck."""
    t = dict(dtype=dtype, device=device)
    x, y = randn("xz", 6, **t), randn("yz", 6, **t)
    below = torch.tensor([0.0, 1e-9, 1e-6, 5e-7, 0.3, 2.0], dtype=torch.float64).to(**t)
    kwargs = dict(reduction=reduction)
    out = [
        SampleInput(f"var-below-eps-{reduction}", (x, y, below), kwargs, wrt=ALL, kink=True),
        SampleInput(f"var-below-eps-eps=0.1-{reduction}", (x, y, below), dict(eps=0.1, **kwargs), wrt=ALL, kink=True),
        SampleInput(f"var-below-eps-full-{reduction}", (x, y, below), dict(full=True, **kwargs), wrt=ALL, kink=True),
    ]
    near = torch.tensor([0.0, 1e-4, 0.5, 1.0, 0.0, 3.0], dtype=torch.float64).to(**t)
    out.append(SampleInput(f"residual-0-var-0-{reduction}", (y, y.clone(), near), kwargs, wrt=ALL, kink=True))
    inf, nan = math.inf, math.nan
    xs = torch.tensor([inf, 1.0, nan, 2.0, 0.5, -1.0], dtype=dtype, device=device)
    vs = torch.tensor([1.0, inf, 1.0, nan, 0.0, 2.0], dtype=dtype, device=device)
    out.append(SampleInput(f"inf-nan-{reduction}", (xs, y, vs), kwargs, wrt=ALL, kink=True))
    out.append(SampleInput(f"eps=0-var-0-{reduction}", (x, y, near), dict(eps=0.0, **kwargs), wrt=ALL, kink=True))
    return out


def gaussian_nll_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    out = []
    for desc, x, y, v in _shapes(device, dtype):
        for full in (False, True):
            for reduction in REDUCTIONS:
                kwargs = dict(reduction=reduction, full=True) if full else dict(reduction=reduction)
                out.append(SampleInput(f"{desc}-full={full}-{reduction}", (x, y, v), kwargs, wrt=ALL))
    for reduction in REDUCTIONS:
        out += _floor_samples(device, dtype, reduction)
        x, y = randn("xq", 3, 4, **t), randn("yq", 3, 4, **t)
        out.append(SampleInput(f"var-float-{reduction}", (x, y, 0.7), dict(reduction=reduction)))
        out.append(SampleInput(f"var-float-0-{reduction}", (x, y, 0.0), dict(reduction=reduction), kink=True))
        out.append(SampleInput(f"var-float-full-{reduction}", (x, y, 2.5), dict(reduction=reduction, full=True)))
        out.append(SampleInput(f"target-float-{reduction}", (x, 0.25, _variance("vq", 3, 4, **t)),
                               dict(reduction=reduction), wrt=(0, 2)))
    x, y, v = randn("xr", 3, 4, **t), randn("yr", 3, 4, **t), _variance("vr", 3, 4, **t)
    for eps in (0.5, 1e-3, 0.0, 1):
        out.append(SampleInput(f"eps={eps}", (x, y, v), dict(eps=eps), wrt=ALL, kink=eps in (0.5, 1)))  # floor active
    out.append(SampleInput("positional-full-eps-reduction", (x, y, v, True, 1e-3, "sum"), wrt=ALL))
    out.append(SampleInput("full-truthy-string", (x, y, v), dict(full="yes"), wrt=ALL))
    out.append(SampleInput("wrt-input-only", (x, y, v), {}, wrt=(0,)))
    out.append(SampleInput("wrt-var-only", (x, y, v), {}, wrt=(2,)))
    xi, yi = (randn("xs", 3, 4, scale=3.0, **t).round().to(torch.int64),
              randn("ys", 3, 4, scale=3.0, **t).round().to(torch.int64))
    out.append(SampleInput("input-target-int64", (xi, yi, v), {}, wrt=(2,)))
    out.append(SampleInput("input-target-int64-var-float", (xi, yi, 0.7), {}))
    out.append(SampleInput("var-int64-eps-int", (x, y, xi.abs() + 1), dict(eps=0)))
    out.append(SampleInput("all-int64-eps-int", (xi, yi, xi.abs() + 1), dict(eps=1)))
    out.append(SampleInput("target-int64", (x, yi, v), {}, wrt=(0, 2)))
    if dtype in (torch.float32, torch.float64):
        other = torch.float64 if dtype == torch.float32 else torch.float32
        out.append(SampleInput(f"target-{other}", (x, y.to(other), v), {}, wrt=ALL))
        out.append(SampleInput(f"var-{other}", (x, y, v.to(other)), dict(reduction="none"), wrt=ALL))
        out.append(SampleInput("var-float16", (x, y, v.half()), {}, wrt=ALL))
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        xc = torch.complex(x, randn("xci", 3, 4, **t)).to(complex_dtype)
        for reduction in REDUCTIONS:
            # torch returns a complex loss here; the generic tests backpropagate out.sum(), which needs a real
            # output, so gradients of complex inputs are compared in the chapter's check instead
            out.append(SampleInput(f"complex-input-{reduction}", (xc, y, v), dict(reduction=reduction), wrt=ALL,
                                   forward_only="the loss is complex: no implicit backward from out.sum()"))
    return out


def gaussian_nll_errors() -> list[ErrorInput]:
    x, y, v = torch.randn(3, 4), torch.randn(3, 4), torch.rand(3, 4) + 0.1
    x4, y4 = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    size = "var is of incorrect size"
    out = [
        ErrorInput("reduction='foo'", (x, y, v), dict(reduction="foo"), ValueError, "foo is not valid", "reduction"),
        ErrorInput("reduction='elementwise_mean'", (x, y, v), dict(reduction="elementwise_mean"), ValueError,
                   "elementwise_mean is not valid", "reduction"),
        ErrorInput("reduction=None", (x, y, v), dict(reduction=None), TypeError,
                   r"unsupported operand type\(s\) for \+: 'NoneType' and 'str'", "reduction"),
        ErrorInput("var-negative-entry", (x, y, v - 0.5), {}, ValueError, "var has negative entry/entries", "var"),
        ErrorInput("var-negative-float", (x, y, -1.0), {}, ValueError, "var has negative entry/entries", "var"),
        ErrorInput("var-negative-before-size", (x, y, -torch.rand(5)), {}, ValueError,
                   "var has negative entry/entries", "var"),
        ErrorInput("var-python-int", (x, y, 1), {}, TypeError,
                   r"any\(\) received an invalid combination of arguments", "var"),
        ErrorInput("var-None", (x, y, None), {}, TypeError, "'<' not supported", "var"),
        ErrorInput("var-complex", (x, y, v.to(torch.complex64)), {}, NotImplementedError,
                   "\"lt_cpu\" not implemented for 'ComplexFloat'", "var"),
        ErrorInput("var-float-complex-input", (x.to(torch.complex64), y, 0.5), {}, NotImplementedError,
                   "clamp is not supported for complex types", "var"),
        ErrorInput("var-int64-eps-float", (x, y, torch.arange(12).reshape(3, 4)), {}, RuntimeError,
                   "result type Float can't be cast to the desired output type", "var"),
        ErrorInput("var-bool-eps-int", (x, y, v > 0.5), dict(eps=0), RuntimeError,
                   "result type Long can't be cast to the desired output type", "var"),
        ErrorInput("eps=None", (x, y, v), dict(eps=None), RuntimeError,
                   "At least one of 'min' or 'max' must not be None", "eps"),
        ErrorInput("eps-str", (x, y, v), dict(eps="1e-6"), TypeError,
                   r"clamp_\(\) received an invalid combination of arguments", "eps"),
        ErrorInput("size-before-reduction", (x, y, torch.rand(5)), dict(reduction="foo"), ValueError, size, "var"),
        ErrorInput("reduction-before-target", (x, torch.randn(5), v), dict(reduction="foo"), ValueError,
                   "foo is not valid", "reduction"),
        ErrorInput("input-list", ([1.0, 2.0], torch.randn(2), torch.rand(2)), {}, AttributeError,
                   "'list' object has no attribute 'size'", "input"),
        ErrorInput("input-list-var-float", ([1.0, 2.0], torch.randn(2), 0.5), {}, TypeError,
                   "argument 'input' .*must be (a )?Tensor", "input"),
        ErrorInput("target-list", (torch.randn(2), [1.0, 2.0], torch.rand(2)), {}, TypeError,
                   r"unsupported operand type\(s\) for -: 'Tensor' and 'list'", "target"),
        ErrorInput("target-not-broadcastable", (x, torch.randn(5), v), {}, RuntimeError,
                   r"The size of tensor a \(4\) must match the size of tensor b \(5\)", "target"),
        ErrorInput("var-(0,1)-does-not-broadcast", (x, y, torch.zeros(0, 1)), {}, RuntimeError,
                   r"The size of tensor a \(3\) must match the size of tensor b \(0\)", "var"),
        ErrorInput("bool-input-target", (x > 0, y > 0, v), {}, RuntimeError,
                   "Subtraction, the `-` operator, with two bool tensors is not supported", "bool"),
        ErrorInput("bool-target", (x, y > 0, v), {}, RuntimeError,
                   "Subtraction, the `-` operator, with a bool tensor is not supported", "target"),
        ErrorInput("python-bool-target", (x, True, v), {}, RuntimeError,
                   "Subtraction, the `-` operator, with a bool tensor is not supported", "target"),
        ErrorInput("var-(3,4)-input-(3,1)-target-(3,4)", (torch.randn(3, 1), y, v), {}, ValueError, size, "var"),
        ErrorInput("var-0-dim-input-2-D", (x, y, torch.tensor(0.5)), {}, ValueError, size, "var"),
        ErrorInput("var-(1,)-input-0-dim", (x[0, 0], y[0, 0], torch.rand(1)), {}, ValueError, size, "var"),
        ErrorInput("var-(4,1)-input-(4,)", (torch.randn(4), torch.randn(4), torch.rand(4, 1)), {}, ValueError, size,
                   "var"),
        ErrorInput("var-last-dim-only-(4,)", (x, y, torch.rand(4)), {}, ValueError, size, "var"),
        ErrorInput("var-(3,2)-one-dim-not-1", (x, y, torch.rand(3, 2)), {}, ValueError, size, "var"),
        ErrorInput("var-(1,1)-two-dims", (x, y, torch.rand(1, 1)), {}, ValueError, size, "var"),
    ]
    for shape in ((4, 3, 1, 1), (1, 1, 1, 1), (3, 2, 2), (2,)):
        out.append(ErrorInput(f"var-{shape}-input-(4,3,2,2)".replace(" ", ""), (x4, y4, torch.rand(shape)), {},
                              ValueError, size, "var"))
    return out


def gaussian_nll_modules() -> list[ModuleInput]:
    x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    v = torch.rand(3, 4, dtype=torch.float64) + 0.1
    out = [ModuleInput(f"reduction={r}", dict(reduction=r), (x, y, v)) for r in REDUCTIONS]
    out += [
        ModuleInput("default", {}, (x, y, v)),
        ModuleInput("full=True", dict(full=True), (x, y, v)),
        ModuleInput("eps=0.5", dict(eps=0.5), (x, y, v)),
        ModuleInput("full-eps-sum", dict(full=True, eps=1e-3, reduction="sum"), (x, y, v)),
        ModuleInput("var-one-fewer-dim", {}, (x, y, v[:, 0])),
        ModuleInput("var-below-eps", dict(eps=0.2), (x, y, v - 0.05)),
        ModuleInput("reduction='foo' constructs", dict(reduction="foo"), (x, y, v)),
        ModuleInput("reduction='elementwise_mean' constructs", dict(reduction="elementwise_mean"), (x, y, v)),
    ]
    return out


def gaussian_nll_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``gaussian_nll_loss_grad(grad_output, x - y, var, eps, reduction)`` against torch's backward: its
    residual gradient is the input's (summed over broadcast dimensions), minus it the target's, and its
    variance gradient the var's (reshaped back where torch unsqueezed var)."""
    arguments = bound_arguments(RF.gaussian_nll_loss, sample)
    x, y, var = arguments["input"], arguments["target"], arguments["var"]
    leaves = {name: t.detach().clone().requires_grad_(True)
              for name, t in (("input", x), ("target", y), ("var", var))
              if isinstance(t, Tensor) and t.is_floating_point()}
    expected = torch.autograd.grad(F.gaussian_nll_loss(**{**arguments, **leaves}), list(leaves.values()), grad_output)
    # the variance tensor the loss works with: a float fills input's shape; var of input's shape without its
    # last dimension gets a trailing 1
    if isinstance(var, float):
        var_used = var * torch.ones_like(x)
    elif var.shape != x.shape and x.shape[:-1] == var.shape:
        var_used = var.unsqueeze(-1)
    else:
        var_used = var
    grad_residual, grad_var = RF.gaussian_nll_loss_grad(
        grad_output, x - y, var_used, arguments["eps"], arguments["reduction"]
    )
    grads = {"input": grad_residual.sum_to_size(x.shape).to(x.dtype)}
    if isinstance(y, Tensor):
        grads["target"] = -grad_residual.sum_to_size(y.shape).to(y.dtype)
    if isinstance(var, Tensor):
        grads["var"] = grad_var.reshape(var.shape).to(var.dtype)
    return [grads[name] for name in leaves], list(expected)


def _triple(values_r: list[float], values_var: list[float]) -> tuple[Tensor, Tensor, Tensor]:
    """Inputs with residuals ``values_r`` against a zero target, and the variances ``values_var`` (float64)."""
    r = torch.tensor(values_r, dtype=torch.float64)
    return r, torch.zeros_like(r), torch.tensor(values_var, dtype=torch.float64)


R, V = [1.0, 2.0, 0.0, 2.0], [1.0, 4.0, 0.25, 2.0]
L = [0.5 * (math.log(v) + r * r / v) for r, v in zip(R, V, strict=True)]  # 0.5 (log v + r^2 / v), by hand below
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

GAUSSIAN_NLL_CASES = [
    LossCase(
        name="gaussian_nll_loss", part="probabilistic", chapter="gaussian_nll",
        torch_fn=F.gaussian_nll_loss, ref_fn=RF.gaussian_nll_loss,
        torch_module=torch.nn.GaussianNLLLoss, ref_module=RN.GaussianNLLLoss,
        samples=gaussian_nll_samples,
        errors=gaussian_nll_errors,
        modules=gaussian_nll_modules,
        known_values=[
            KnownValue("none: (log v + r^2/v)/2", _triple(R, V), dict(reduction="none"),
                       [0.5, 0.5 * (math.log(4.0) + 1.0), 0.5 * math.log(0.25), 0.5 * (math.log(2.0) + 2.0)]),
            KnownValue("full adds log(2 pi)/2 to each element", _triple(R, V), dict(reduction="none", full=True),
                       [value + HALF_LOG_2PI for value in L]),
            KnownValue("mean over every element", _triple(R, V), {}, sum(L) / 4),
            KnownValue("var below eps uses eps: (log 1e-6 + 1e-6/1e-6)/2", _triple([1e-3], [0.0]),
                       dict(reduction="sum"), 0.5 * (math.log(1e-6) + 1.0)),
            KnownValue("eps is a floor, not an offset", _triple([1.0], [0.5]), dict(reduction="sum", eps=0.1),
                       0.5 * (math.log(0.5) + 2.0)),
            KnownValue("var of one fewer dimension is shared along the last", (
                torch.tensor([[1.0, 3.0], [0.0, 2.0]], dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64),
                torch.tensor([1.0, 4.0], dtype=torch.float64)), dict(reduction="sum"),
                0.5 * (0 + 1.0) + 0.5 * (0 + 9.0) + 0.5 * math.log(4.0) + 0.5 * (math.log(4.0) + 1.0)),
        ],
        hand_gradient=gaussian_nll_hand_gradient,
        dtypes={"cpu": FLOATING, "cuda": FLOATING},
    ),
]
