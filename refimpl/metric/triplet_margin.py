r"""Triplet margin loss, as ``torch.nn.functional.triplet_margin_loss`` computes it.

Chapter: ``book/metric/triplet_margin.ipynb``.
"""

import math
import numbers

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss
from refimpl.metric._distance import p_norm, p_norm_grad
from refimpl.metric.triplet_margin_with_distance import (
    check_margin,
    check_same_ndim,
    triplet_hinge,
    triplet_margin_with_distance_loss_grad,
)

_FN = "triplet_margin_loss"


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Triplet loss with the p-norm distance: pull the positive closer than the negative by a margin.

    With :math:`d(u, v) = \lVert u - v + \varepsilon \rVert_p` over the last dimension (``eps`` added to
    *every component* of the difference, as torch's ``pairwise_distance``: :math:`d(u, u) = \varepsilon
    D^{1/p} > 0` and :math:`d(u, v) \ne d(v, u)`) and margin :math:`m > 0`:

    .. math::

        d^+_i = d(a_i, p_i), \qquad
        d^-_i = \begin{cases} \min\bigl(d(a_i, n_i),\ d(p_i, n_i)\bigr) & \text{swap} \\
                              d(a_i, n_i) & \text{otherwise} \end{cases}, \qquad
        l_i = \max(m + d^+_i - d^-_i,\ 0),

    reduced by 'none' (shape (N,), or () for 1-D inputs, or the leading dimensions of K-D inputs),
    'mean' (:math:`\frac1N\sum_i l_i`; NaN when empty) or 'sum' (0 when empty).

    Gradient: with :math:`u = a - p + \varepsilon`, :math:`v = a - n + \varepsilon`,
    :math:`s = p - n + \varepsilon` and :math:`[z_i \ge 0]` the active set (the kink counts as active,
    ``clamp_min``'s convention),

    .. math::

        \frac{\partial l_i}{\partial u_{ik}} = [z_i \ge 0]\,\frac{u_{ik}|u_{ik}|^{p-2}}{\lVert u_i\rVert_p^{p-1}},
        \qquad
        \frac{\partial l_i}{\partial v_{ik}} = -[z_i \ge 0]\,w_i\,\frac{v_{ik}|v_{ik}|^{p-2}}{\lVert v_i\rVert_p^{p-1}},

    and :math:`s` likewise with :math:`1 - w_i` (:math:`w_i` is 1, 0 or :math:`\tfrac12` on a swap tie,
    torch's ``minimum`` rule; 1 without swap). Then :math:`\partial/\partial a = \partial/\partial u +
    \partial/\partial v`, :math:`\partial/\partial p = -\partial/\partial u + \partial/\partial s`,
    :math:`\partial/\partial n = -\partial/\partial v - \partial/\partial s` (autograd's subtraction).
    See :func:`refimpl.metric._distance.p_norm_grad` for :math:`p = 1, \infty` and torch's 0/0 conventions.

    Args:
        anchor, positive, negative: (N, D), (D,) or (N, ..., D), the same number of dimensions, broadcastable;
            integer inputs give a float32 loss.
        margin: :math:`m > 0`.
        p: the norm's order (2 by default; 1, non-integers, ``inf``; 0 counts non-zero components and has
            no gradient).
        eps: :math:`\varepsilon`, added to every component of each difference.
        swap: the distance swap of Balntas et al. (2016).
        size_average, reduce: deprecated; override ``reduction`` with torch's warning.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` (``'elementwise_mean'`` warns and means 'mean').

    Raises:
        ValueError: invalid ``reduction``; ``margin <= 0``.
        TypeError: a non-tensor input, or ``p``/``eps`` not numbers, ``swap`` not a bool.
        RuntimeError: different numbers of dimensions; shapes that do not broadcast; bool inputs.
    """
    reduction, p, eps = _validate_triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap, size_average, reduce, reduction
    )
    # The differences are autograd's: d/da = d/du + d/dv, d/dp = -d/du + d/ds, d/dn = -d/dv - d/ds.
    diff_swap = positive - negative + eps if swap else None
    return _TripletMarginLossFunction.apply(
        anchor - positive + eps, anchor - negative + eps, diff_swap, margin, p, reduction
    )


def _validate_triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float,
    p: float,
    eps: float,
    swap: bool,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> tuple[str, float, float]:
    """torch's checks in torch's order, with its exception types; returns the reduction, ``p`` and ``eps`` as
    floats."""
    reduction = _reduction.resolve(_FN, reduction, size_average, reduce)
    check_margin(_FN, margin)
    for position, (name, value) in enumerate((("anchor", anchor), ("positive", positive), ("negative", negative))):
        _checks.check_tensor_argument(_FN, name, value, position + 1)
    _checks.check_same_device(_FN, anchor=anchor, positive=positive, negative=negative)
    for position, (name, value) in ((5, ("p", p)), (6, ("eps", eps))):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{_FN}(): argument '{name}' (position {position}) must be float, not {type(value).__name__}"
            )
    _checks.check_bool(_FN, "swap", swap, position=7)
    check_same_ndim(_FN, anchor, positive, negative)
    for name, value in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if value.dtype == torch.bool:
            raise RuntimeError(
                f"{_FN}(): Subtraction, the `-` operator, with a bool tensor is not supported "
                f"(argument {name} is bool; convert it with .float())."
            )
    _checks.broadcast_shapes(_FN, "anchor", anchor, "positive", positive)
    _checks.broadcast_shapes(_FN, "anchor", anchor, "negative", negative)
    _checks.broadcast_shapes(_FN, "positive", positive, "negative", negative)
    if math.isinf(p) and 0 in (*anchor.shape[-1:], *positive.shape[-1:], *negative.shape[-1:]):
        raise RuntimeError(
            f"{_FN}(): linalg.vector_norm cannot compute the inf norm on the dimension -1 because this dimension "
            f"is empty (argument p={p} needs a non-empty last dimension; anchor has shape {tuple(anchor.shape)})"
        )
    return reduction, float(p), float(eps)


def triplet_margin_loss_grad(
    grad_output: Tensor,
    diff_pos: Tensor,
    diff_neg: Tensor,
    diff_swap: Tensor | None = None,
    margin: float = 1.0,
    p: float = 2.0,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""Hand-derived gradient of :func:`triplet_margin_loss` with respect to the three differences
    :math:`u = a - p + \varepsilon`, :math:`v = a - n + \varepsilon`, :math:`s = p - n + \varepsilon`.

    The chain rule through the distances :math:`\lVert u\rVert_p, \lVert v\rVert_p, \lVert s\rVert_p`: the
    hinge's gradient with respect to them (:func:`triplet_margin_with_distance_loss_grad`), times the p-norm's
    (:func:`~refimpl.metric._distance.p_norm_grad`). Returns ``(grad_u, grad_v, grad_s)``; ``grad_s`` is
    ``None`` without swap.
    """
    dist_pos, dist_neg = p_norm(diff_pos, p), p_norm(diff_neg, p)
    dist_swap = None if diff_swap is None else p_norm(diff_swap, p)
    grad_pos, grad_neg, grad_swap = triplet_margin_with_distance_loss_grad(
        grad_output, dist_pos, dist_neg, dist_swap, margin, reduction
    )
    grad_u = p_norm_grad(grad_pos, diff_pos, dist_pos, p)
    grad_v = p_norm_grad(grad_neg, diff_neg, dist_neg, p)
    grad_s = None if diff_swap is None else p_norm_grad(grad_swap, diff_swap, dist_swap, p)
    return grad_u, grad_v, grad_s


class _TripletMarginLossFunction(torch.autograd.Function):
    """Forward: the p-norm distances, :func:`triplet_hinge` and the reduction. Backward:
    :func:`triplet_margin_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(
        diff_pos: Tensor, diff_neg: Tensor, diff_swap: Tensor | None, margin: float, p: float, reduction: str
    ) -> Tensor:
        dist_swap = None if diff_swap is None else p_norm(diff_swap, p)
        loss = triplet_hinge(p_norm(diff_pos, p), p_norm(diff_neg, p), dist_swap, margin)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        diff_pos, diff_neg, diff_swap, margin, p, reduction = inputs
        ctx.save_for_backward(diff_pos, diff_neg, diff_swap)
        ctx.margin, ctx.p, ctx.reduction = margin, p, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        diff_pos, diff_neg, diff_swap = ctx.saved_tensors
        grads = triplet_margin_loss_grad(grad_output, diff_pos, diff_neg, diff_swap, ctx.margin, ctx.p, ctx.reduction)
        return *grads, None, None, None


class TripletMarginLoss(Loss):
    """Drop-in for ``torch.nn.TripletMarginLoss(margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
    reduce=None, reduction='mean')``; ``margin <= 0`` raises at construction, as in torch."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead "
                "(argument margin of TripletMarginLoss)"
            )
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
        )
