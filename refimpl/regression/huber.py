r"""Huber loss, as ``torch.nn.functional.huber_loss`` computes it.

Chapter: ``book/regression/huber.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    r"""Huber loss: quadratic for residuals below ``delta``, linear with slope ``delta`` above.

    With :math:`r = x - y` after broadcasting and :math:`\delta > 0`:

    .. math::

        l_i = \begin{cases}
            \tfrac12 r_i^2 & |r_i| < \delta \\
            \delta\,(|r_i| - \tfrac12 \delta) & \text{otherwise}
        \end{cases}

    reduced by 'none', 'mean' (:math:`\frac1n\sum_i l_i`) or 'sum'. With ``weight`` (same size as
    ``input``) :math:`l_i` becomes :math:`w_i l_i` and 'mean' stays :math:`\frac1n \sum_i w_i l_i`: unlike
    ``l1_loss`` and ``mse_loss`` it divides by the number of elements, not by :math:`\sum w`.
    ``huber_loss(delta=b) == b * smooth_l1_loss(beta=b)``.

    Gradient: :math:`\partial l_i/\partial x_i = \operatorname{clamp}(r_i, -\delta, \delta)`; the target
    gets the negative. The loss is :math:`C^1`, so the value at :math:`|r| = \delta` is unambiguous.

    The unweighted loss has ``input``'s dtype (computed in the promoted dtype of ``input`` and ``target``
    and rounded to ``input``'s); a ``weight`` then promotes as in ``loss * weight``. Where torch's backward
    fails for mixed dtypes, this one returns the gradient.

    Args:
        input: predictions :math:`x`, floating point.
        target: targets :math:`y`, broadcastable to ``input`` (warns when the sizes differ).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: the threshold :math:`\delta > 0` between the quadratic and the linear part.
        weight: optional elementwise weights of exactly ``input``'s size (differentiable).

    Raises:
        ValueError: invalid ``reduction``; ``weight`` not of ``input``'s size.
        RuntimeError: ``delta <= 0`` or NaN; shapes that do not broadcast; integer input, float target.
        TypeError: ``delta`` not a number.
        NotImplementedError: integer, bool or complex ``input`` and ``target``.
    """
    reduction, delta = _validate_huber_loss(input, target, reduction, delta, weight)
    # The loss is a function of r = x - y alone. Autograd's subtraction broadcasts, promotes, and hands the
    # target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    return _HuberLossFunction.apply(input - target, weight, reduction, delta, input.dtype)


def _validate_huber_loss(
    input: Tensor, target: Tensor, reduction: str, delta: float, weight: Tensor | None
) -> tuple[str, float]:
    """torch's checks of :func:`huber_loss`, in torch's order and with its exception types.

    Returns the reduction and ``delta`` as a float.
    """
    _checks.check_tensor("huber_loss", "input", input)
    _checks.check_tensor("huber_loss", "target", target)
    _checks.check_same_device("huber_loss", input=input, target=target, weight=weight)
    _checks.warn_if_size_mismatch(input, target)
    _checks.broadcast_shapes("huber_loss", "input", input, "target", target)
    if weight is None:
        reduction = _reduction.resolve("huber_loss", reduction)
    else:
        _checks.check_weight_size("huber_loss", weight, input)
    delta = _checks.check_number("huber_loss", "delta", delta, position=4)
    if not delta > 0:  # not `delta <= 0`: a NaN fails every comparison, and torch rejects it too
        raise RuntimeError(
            f"huber_loss does not support non-positive values for delta (argument delta={delta}; "
            "expected a positive number)."
        )
    dtype = torch.result_type(input, target)
    _checks.check_floating("huber_loss", "huber_cpu", dtype)
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"huber_loss(): result type {_checks.dtype_name(dtype)} can't be cast to the desired output type "
            f"{_checks.dtype_name(input.dtype)} (the loss has input's dtype; make input floating point)"
        )
    if weight is not None:  # torch's weighted path checks the reduction last, with a message of its own
        reduction = _reduction.resolve_weighted("huber_loss", reduction)
    return reduction, delta


def huber_loss_grad(
    grad_output: Tensor,
    residual: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    r"""Hand-derived gradient of :func:`huber_loss` with respect to the residual :math:`r = x - y` and ``weight``.

    .. math::

        \frac{\partial l_i}{\partial r_i} = \begin{cases} r_i & |r_i| < \delta \\
        \delta \operatorname{sign}(r_i) & \text{otherwise} \end{cases}
        = \operatorname{clamp}(r_i, -\delta, \delta), \qquad
        \frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial r_i}, \quad
        \frac{\partial L}{\partial y_i} = -\frac{\partial L}{\partial r_i},

    times the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean', and :math:`w_i`
    when weighted). Both branches meet at :math:`|r| = \delta`: the loss is :math:`C^1`. With weights,
    :math:`\partial L/\partial w_i = l_i` times the same factor (the mean divides by :math:`n`, not by
    :math:`\sum w`). Returns ``(grad_residual, grad_weight)``; ``grad_weight`` is ``None`` without ``weight``.
    """
    slope = residual.clamp(-delta, delta)  # dl/dr: r inside the threshold, +-delta outside
    if weight is not None:
        loss = huber_elementwise(residual, delta)  # dL/dw_i needs the unweighted loss l_i
        return _reduction.weighted_grads(grad_output, loss, slope, weight, reduction, mean_over="numel")
    return slope * _reduction.grad_scale(grad_output, reduction, residual.numel()), None


def huber_elementwise(residual: Tensor, delta: float) -> Tensor:
    r"""The unreduced Huber loss of the Definition, elementwise, written with its slope
    :math:`c = \operatorname{clamp}(r, -\delta, \delta)` as :math:`l = c\,(r - \tfrac12 c)`.

    Where :math:`|r| < \delta`, :math:`c = r` and :math:`l = r \cdot \tfrac12 r = \tfrac12 r^2`; elsewhere
    :math:`c = \pm\delta` and :math:`l = \pm\delta\,(r \mp \tfrac12\delta) = \delta\,(|r| - \tfrac12\delta)`: the
    Definition's two cases in one expression, with no comparison and no branch to discard.
    """
    slope = residual.clamp(-delta, delta)  # the derivative dl/dr of the Gradient section
    return slope * (residual - 0.5 * slope)


def huber_loss_jvp(
    residual: Tensor,
    tangent_residual: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
    tangent_weight: Tensor | None = None,
) -> Tensor:
    r"""Hand-derived forward-mode derivative (JVP) of :func:`huber_loss` along :math:`\dot r = \dot x - \dot y` and
    :math:`\dot w`.

    .. math::

        \dot l_i = \operatorname{clamp}(r_i, -\delta, \delta)\, \dot r_i,

    the slope of :func:`huber_loss_grad` times the tangent, reduced as the loss is (the weighted 'mean' divides by
    :math:`n`: :func:`refimpl._reduction.reduce_jvp` with ``mean_over='numel'``).
    """
    slope = residual.clamp(-delta, delta)
    loss = huber_elementwise(residual, delta)
    return _reduction.reduce_jvp(loss, slope * tangent_residual, reduction, weight, tangent_weight, mean_over="numel")


class _HuberLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`huber_loss` on the residual. Backward: :func:`huber_loss_grad`. Forward
    mode: :func:`huber_loss_jvp`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(residual: Tensor, weight: Tensor | None, reduction: str, delta: float, dtype: torch.dtype) -> Tensor:
        loss = huber_elementwise(residual, delta).to(dtype)  # torch returns input's dtype, not the promoted one
        if weight is None:
            return _reduction.reduce_loss(loss, reduction)
        return _reduction.reduce_weighted(loss, weight, reduction, mean_over="numel")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        residual, weight, reduction, delta, dtype = inputs
        ctx.save_for_backward(residual, weight)
        ctx.save_for_forward(residual, weight)
        ctx.reduction, ctx.delta, ctx.dtype = reduction, delta, dtype

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        residual, weight = ctx.saved_tensors
        grad_residual, grad_weight = huber_loss_grad(grad_output, residual, ctx.reduction, ctx.delta, weight)
        return grad_residual, grad_weight, None, None, None

    @staticmethod
    def jvp(ctx, tangent_residual: Tensor | None, tangent_weight: Tensor | None, *_) -> Tensor:
        residual, weight = ctx.saved_tensors
        tangent_residual = torch.zeros_like(residual) if tangent_residual is None else tangent_residual
        return huber_loss_jvp(residual, tangent_residual, ctx.reduction, ctx.delta, weight, tangent_weight).to(
            ctx.dtype
        )


class HuberLoss(Loss):
    """Drop-in for ``torch.nn.HuberLoss``: ``HuberLoss(reduction='mean', delta=1.0)``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        if not isinstance(delta, (float, int)):
            raise TypeError(f"delta must be a float or int, got: {type(delta)} (argument delta of HuberLoss)")
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)
