r"""``poisson_nll_loss``, tuned: :math:`e^x` computed once for both passes, the backward in its buffer.

The readable :mod:`refimpl.probabilistic.poisson_nll` writes :math:`l = e^x - y x` as it reads: :math:`e^x`, the
product :math:`y x` and their difference, three new tensors; its backward computes :math:`e^x` again and writes
four more. For the default ``log_input=True`` (without ``full``) on same-shape float32/float64 tensors, here:

* the forward writes :math:`e^x` and :math:`e^x - y x` (one ``addcmul``), then reduces as torch does;
* the backward :math:`(e^x - y)\,g` reuses the forward's :math:`e^x` and overwrites it in place (kept on ``ctx``,
  outside ``save_for_backward``, used once; see :mod:`refimpl.fast.huber`), so it allocates nothing;
* the target's gradient :math:`-g x` is computed only when autograd asks for it.

A sum is not split into :math:`\sum_i e^{x_i} - y \cdot x`: near a good fit (:math:`x \approx \log y`) the two
terms nearly cancel, and the float32 dot product of a large tensor is itself off by about :math:`10^{-5}` relative
(MKL, 4M elements, against :math:`3 \cdot 10^{-8}` for ``sum``): such a sum came out :math:`2 \cdot 10^{-4}`
off at rate 3 and :math:`10^{-2}` off near rate :math:`e` (4M counts; torch's: at most :math:`4 \cdot 10^{-7}`).

Everything else (``log_input=False``, ``full``, broadcasting, mixed, half, integer or complex dtypes) is the
readable Function, as is the gradient when a graph is built for double backward. Validation is the readable
module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._transforms import readable_under_transforms
from refimpl.probabilistic import poisson_nll as readable


@readable_under_transforms(readable.poisson_nll_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.probabilistic.poisson_nll.poisson_nll_loss`, with the tuned Function below for a log-rate."""
    reduction, eps = readable._validate_poisson_nll_loss(
        input, target, log_input, full, size_average, eps, reduce, reduction
    )
    tuned = (
        log_input
        and not full
        and input.shape == target.shape
        and input.dtype == target.dtype
        and input.dtype in (torch.float32, torch.float64)
        and input.layout == torch.strided
    )
    if tuned:
        return _PoissonNLLLossFunction.apply(input, target, reduction)
    return readable._PoissonNLLLossFunction.apply(input, target, log_input, full, eps, reduction)


class _PoissonNLLLossFunction(torch.autograd.Function):
    """Forward: :math:`e^x - y x` reduced, keeping :math:`e^x`. Backward: :math:`(e^x - y)\\,g` in its buffer."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, reduction: str) -> Tensor:
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        exp_input = torch.exp(input)
        ctx.exp_input = exp_input  # the first backward overwrites it in place (see backward)
        # e^x - y x in one pass, summed elementwise as torch does (a split sum cancels: see the docstring)
        return _reduction.reduce_loss(torch.addcmul(exp_input, target, input, value=-1), reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        # The forward's e^x is a constant to autograd and is overwritten: use it once (a second backward with
        # retain_graph recomputes it), and never when a graph is built for double backward.
        exp_input, ctx.exp_input = ctx.exp_input, None
        if torch.is_grad_enabled():  # the readable gradient is differentiable
            grad_input, grad_target = readable.poisson_nll_loss_grad(
                grad_output, input, target, reduction=ctx.reduction
            )
            return grad_input, grad_target, None
        g = _reduction.grad_scale(grad_output, ctx.reduction, input.numel())
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:  # (e^x - y) g: two passes over e^x, nothing allocated
            if exp_input is None:
                exp_input = torch.exp(input)
            grad_input = exp_input.sub_(target).mul_(g)
        if ctx.needs_input_grad[1]:  # -x g
            grad_target = torch.mul(input, g).neg_()
        return grad_input, grad_target, None
