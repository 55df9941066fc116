r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss`` computes it.

Chapter: ``book/regression/smooth_l1.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl.fast.huber import huber_from_slope, huber_sum
from refimpl.regression.l1 import l1_loss


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    r"""Smooth L1 loss: quadratic (scaled by :math:`1/\beta`) below ``beta``, :math:`|r| - \beta/2` above.

    With :math:`r = x - y` after broadcasting and :math:`\beta > 0`:

    .. math::

        l_i = \begin{cases}
            \tfrac12 r_i^2 / \beta & |r_i| < \beta \\
            |r_i| - \tfrac12 \beta & \text{otherwise}
        \end{cases}

    reduced by 'none', 'mean' or 'sum'. :math:`\beta = 0` is exactly :func:`~refimpl.l1_loss` (torch
    branches to it). ``smooth_l1_loss(beta=b) == huber_loss(delta=b) / b``: the linear part always has
    slope 1, while Huber's has slope :math:`\delta`.

    Gradient: :math:`\partial l_i / \partial x_i = r_i/\beta` for :math:`|r_i| < \beta`, else
    :math:`\operatorname{sign}(r_i)`; the target gets the negative.

    Args:
        input: predictions :math:`x`, floating point.
        target: targets :math:`y`, broadcastable to ``input`` (warns when the sizes differ).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        beta: the threshold :math:`\beta \ge 0`.

    Raises:
        ValueError: invalid ``reduction``.
        RuntimeError: ``beta < 0`` or NaN; shapes that do not broadcast.
        TypeError: ``beta`` not a number.
        NotImplementedError: integer, bool or complex ``input`` and ``target`` (for ``beta > 0``).
    """
    _checks.check_tensor("smooth_l1_loss", "input", input)
    _checks.check_tensor("smooth_l1_loss", "target", target)
    _checks.check_same_device("smooth_l1_loss", input=input, target=target)
    _checks.warn_if_size_mismatch(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    shape = _checks.broadcast_shapes("smooth_l1_loss", "input", input, "target", target)
    if isinstance(beta, (int, float, Tensor)) and beta == 0.0:
        # torch routes beta = 0 to l1_loss: the quadratic zone is empty and 0.5 r^2 / 0 would be NaN.
        return l1_loss(input.expand(shape), target.expand(shape), reduction=reduction)
    reduction = _reduction.resolve("smooth_l1_loss", reduction)
    beta = _checks.check_number("smooth_l1_loss", "beta", beta, position=4)
    if not beta >= 0:
        raise RuntimeError(
            f"smooth_l1_loss does not support negative values for beta (argument beta={beta}; "
            "expected a number >= 0)."
        )
    dtype = torch.result_type(input, target)
    _checks.check_floating("smooth_l1_loss", "smooth_l1_cpu", dtype)
    # beta must be a normal number in the dtype we compute in, since the loss and its slope divide by it.
    # So float16 and bfloat16 are computed in float32 (1e-30 is 0 in float16, and 0.5 r^2 overflows float16
    # beyond |r| = 362), and a beta below float32's smallest normal number (1e-40) in float64.
    compute_dtype = torch.promote_types(dtype, torch.float32)
    if beta < torch.finfo(compute_dtype).tiny:
        compute_dtype = torch.float64
    if beta < torch.finfo(compute_dtype).tiny:
        # Subnormal even in float64: every residual but 0 is in the linear zone, |r| - beta / 2 = |r|.
        return l1_loss(input.expand(shape), target.expand(shape), reduction=reduction)
    # The loss is a function of r = x - y alone. Autograd's subtraction broadcasts, promotes, and hands the
    # target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    residual = input.to(compute_dtype) - target.to(compute_dtype)
    return _SmoothL1LossFunction.apply(residual, reduction, beta).to(dtype)


def smooth_l1_loss_grad(
    grad_output: Tensor, residual: Tensor, reduction: str = "mean", beta: float = 1.0, slope: Tensor | None = None
) -> Tensor:
    r"""Hand-derived gradient of :func:`smooth_l1_loss` (``beta > 0``) with respect to the residual :math:`r = x - y`.

    .. math::

        \frac{\partial l_i}{\partial r_i} = \begin{cases} r_i / \beta & |r_i| < \beta \\
        \operatorname{sign}(r_i) & \text{otherwise} \end{cases}
        = \frac{\operatorname{clamp}(r_i, -\beta, \beta)}{\beta}, \qquad
        \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial r_i}, \quad
        \frac{\partial L}{\partial y_i} = -\frac{\partial L}{\partial r_i},

    times the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean'). Both branches meet at
    :math:`|r| = \beta`: the loss is :math:`C^1`.

    ``slope``, the forward's :math:`\operatorname{clamp}(r, -\beta, \beta)`, is reused and scaled in place
    when given; without it (a graph is being built for double backward) it is computed from ``residual``.
    """
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
        if reduction != "none" and residual.dtype in (torch.float32, torch.float64):
            total = huber_sum(residual, slope)  # no elementwise loss is needed for a sum
            return (total / residual.numel() if reduction == "mean" else total) / beta
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
