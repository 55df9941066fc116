r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss`` computes it.

Chapter: ``book/regression/smooth_l1.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss
from refimpl.regression.huber import huber_elementwise
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
    reduction, beta, compute_dtype = _validate_smooth_l1_loss(input, target, size_average, reduce, reduction, beta)
    if compute_dtype is None:  # beta = 0 (or subnormal): no quadratic zone, and torch computes l1_loss
        return l1_loss(*torch.broadcast_tensors(input, target), reduction=reduction)
    # The loss is a function of r = x - y alone. Autograd's subtraction broadcasts, promotes, and hands the
    # target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    residual = input.to(compute_dtype) - target.to(compute_dtype)
    return _SmoothL1LossFunction.apply(residual, reduction, beta).to(torch.result_type(input, target))


def _validate_smooth_l1_loss(
    input: Tensor, target: Tensor, size_average: bool | None, reduce: bool | None, reduction: str, beta: float
) -> tuple[str, float, torch.dtype | None]:
    """torch's checks of :func:`smooth_l1_loss`, in torch's order and with its exception types.

    Returns the reduction, ``beta`` as a float, and the dtype to compute in: the promoted dtype, at least
    float32, and float64 where ``beta`` is subnormal in float32; ``None`` where the loss is ``l1_loss``
    (``beta = 0``, which torch routes to ``l1_loss``, or a ``beta`` subnormal even in float64).
    """
    _checks.check_tensor("smooth_l1_loss", "input", input)
    _checks.check_tensor("smooth_l1_loss", "target", target)
    _checks.check_same_device("smooth_l1_loss", input=input, target=target)
    _checks.warn_if_size_mismatch(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    _checks.broadcast_shapes("smooth_l1_loss", "input", input, "target", target)
    if isinstance(beta, (int, float, Tensor)) and beta == 0.0:
        return reduction, 0.0, None  # l1_loss checks the reduction and the dtypes
    reduction = _reduction.resolve("smooth_l1_loss", reduction)
    beta = _checks.check_number("smooth_l1_loss", "beta", beta, position=4)
    if not beta >= 0:  # not `beta < 0`: a NaN fails every comparison, and torch rejects it too
        raise RuntimeError(
            f"smooth_l1_loss does not support negative values for beta (argument beta={beta}; expected a number >= 0)."
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
        return reduction, beta, None
    return reduction, beta, compute_dtype


def smooth_l1_loss_grad(grad_output: Tensor, residual: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    r"""Hand-derived gradient of :func:`smooth_l1_loss` (``beta > 0``) with respect to the residual :math:`r = x - y`.

    .. math::

        \frac{\partial l_i}{\partial r_i} = \begin{cases} r_i / \beta & |r_i| < \beta \\
        \operatorname{sign}(r_i) & \text{otherwise} \end{cases}
        = \frac{\operatorname{clamp}(r_i, -\beta, \beta)}{\beta}, \qquad
        \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial r_i}, \quad
        \frac{\partial L}{\partial y_i} = -\frac{\partial L}{\partial r_i},

    times the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean'), which takes the
    :math:`1/\beta` (one division of a number instead of one per element, for 'mean' and 'sum'). Both branches
    meet at :math:`|r| = \beta`: the loss is :math:`C^1`. A NaN residual gets NaN. With :math:`\beta = \infty`
    the factor :math:`1/\infty` is 0, which would give :math:`\pm\infty \cdot 0` = NaN at an infinite residual,
    where torch's backward, which tests :math:`|r_i| \ge \beta` for the linear zone, gives :math:`\pm 1`: that
    case is written apart, with :math:`r/\infty` (0, or NaN for a NaN residual) elsewhere.
    """
    scale = _reduction.grad_scale(grad_output, reduction, residual.numel())
    if beta == math.inf:  # every finite r is inside (slope r / inf = 0); torch's |r| >= beta puts r = +-inf outside
        return torch.where(residual.abs() == math.inf, residual.sign(), residual / beta) * scale
    return residual.clamp(-beta, beta) * (scale / beta)  # Huber's slope with delta = beta, divided by beta


def smooth_l1_loss_jvp(
    residual: Tensor, tangent_residual: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    r"""Hand-derived forward-mode derivative (JVP) of :func:`smooth_l1_loss` along :math:`\dot r = \dot x - \dot y`:

    .. math::

        \dot l_i = \frac{\operatorname{clamp}(r_i, -\beta, \beta)}{\beta}\, \dot r_i,

    :func:`smooth_l1_loss_grad`'s factor times the tangent (with its case for :math:`\beta = \infty`), reduced as
    the loss is.
    """
    ones = torch.ones((), dtype=residual.dtype, device=residual.device)
    return _reduction.reduce_loss(smooth_l1_loss_grad(ones, residual, "none", beta) * tangent_residual, reduction)


class _SmoothL1LossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`smooth_l1_loss` on the residual. Backward: :func:`smooth_l1_loss_grad`.
    Forward mode: :func:`smooth_l1_loss_jvp`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(residual: Tensor, reduction: str, beta: float) -> Tensor:
        loss = huber_elementwise(residual, beta)  # Huber's loss with delta = beta ...
        return _reduction.reduce_loss(loss, reduction) / beta  # ... divided by beta

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        residual, reduction, beta = inputs
        ctx.save_for_backward(residual)
        ctx.save_for_forward(residual)
        ctx.reduction, ctx.beta = reduction, beta

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        (residual,) = ctx.saved_tensors
        return smooth_l1_loss_grad(grad_output, residual, ctx.reduction, ctx.beta), None, None

    @staticmethod
    def jvp(ctx, tangent_residual: Tensor, *_) -> Tensor:
        (residual,) = ctx.saved_tensors
        return smooth_l1_loss_jvp(residual, tangent_residual, ctx.reduction, ctx.beta)


class SmoothL1Loss(Loss):
    """Drop-in for ``torch.nn.SmoothL1Loss``: ``SmoothL1Loss(size_average=None, reduce=None, reduction='mean',
    beta=1.0)``."""

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)
