r"""``smooth_l1_loss``, tuned as ``huber_loss`` is (see :mod:`refimpl.fast.huber`): SmoothL1 is Huber with
:math:`\delta = \beta`, divided by :math:`\beta`, so the same two-buffer Function serves it, with the division after
the reduction; the residual-based Function below (broadcasting, mixed dtypes, half precision, :math:`\beta = \infty`)
reuses the forward's slope too.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._transforms import readable_under_transforms
from refimpl.fast.huber import _HuberPairFunction, huber_from_slope, same_plain_tensors
from refimpl.regression import smooth_l1 as readable
from refimpl.regression.l1 import l1_loss


@readable_under_transforms(readable.smooth_l1_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """:func:`refimpl.regression.smooth_l1.smooth_l1_loss`, with the tuned Function below."""
    reduction, beta, compute_dtype = readable._validate_smooth_l1_loss(
        input, target, size_average, reduce, reduction, beta
    )
    if compute_dtype is None:  # beta = 0 (or subnormal): no quadratic zone, and torch computes l1_loss
        return l1_loss(*torch.broadcast_tensors(input, target), reduction=reduction)
    if beta < math.inf and compute_dtype == input.dtype and same_plain_tensors(input, target):
        return _HuberPairFunction.apply(input, target, reduction, beta, beta)
    residual = input.to(compute_dtype) - target.to(compute_dtype)
    return _SmoothL1LossFunction.apply(residual, reduction, beta).to(torch.result_type(input, target))


def smooth_l1_loss_grad(
    grad_output: Tensor, residual: Tensor, reduction: str = "mean", beta: float = 1.0, slope: Tensor | None = None
) -> Tensor:
    r"""The gradient of :func:`refimpl.regression.smooth_l1.smooth_l1_loss_grad`
    (``beta > 0``). ``slope``, the forward's :math:`\operatorname{clamp}(r, -\beta, \beta)`, is reused and scaled in
    place when given; without it (a graph is being built for double backward) it is computed from ``residual``."""
    scale = _reduction.grad_scale(grad_output, reduction, residual.numel())
    if beta == math.inf:
        # Every finite residual is in the quadratic zone, whose slope r / inf is 0. torch's branch test sends
        # r = +-inf to the linear zone (slope +-1) where inf / inf would give NaN; a NaN residual stays NaN.
        return torch.where(residual.abs() == math.inf, residual.sign(), residual * 0.0) * scale
    if slope is None:
        slope = residual.clamp(-beta, beta)
    return slope.mul_(scale / beta)  # one pass: the scalar factor is formed first


class _SmoothL1LossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`smooth_l1_loss` on the residual. Backward: :func:`smooth_l1_loss_grad`."""

    @staticmethod
    def forward(ctx, residual: Tensor, reduction: str, beta: float) -> Tensor:
        ctx.save_for_backward(residual)
        ctx.reduction, ctx.beta = reduction, beta
        # smooth_l1(beta) is huber(delta=beta) / beta; the division comes after the reduction, where it is
        # one operation on a scalar instead of one per element.
        slope = residual.clamp(-beta, beta)
        ctx.slope = slope  # the first backward scales it in place (see backward)
        loss = huber_from_slope(residual, slope)
        return _reduction.reduce_loss(loss, reduction) / beta

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (residual,) = ctx.saved_tensors
        # The forward's slope is a constant to autograd and is overwritten: use it once (a second backward with
        # retain_graph recomputes it), and not when a graph is built for double backward.
        slope, ctx.slope = ctx.slope, None
        if torch.is_grad_enabled():
            slope = None
        return smooth_l1_loss_grad(grad_output, residual, ctx.reduction, ctx.beta, slope), None, None
