r"""Triplet margin loss with any distance, as ``torch.nn.functional.triplet_margin_with_distance_loss``
computes it. The hinge, the swap and the reduction are derived here; the distance is the caller's.

Chapter: ``book/metric/triplet_margin_with_distance.ipynb``.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss
from refimpl.metric._distance import PairwiseDistance, pairwise_distance

_FN = "triplet_margin_with_distance_loss"


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    r"""Triplet loss :math:`\max(d(a, p) - d(a, n) + m, 0)` for a user distance :math:`d`.

    With :math:`d` = ``distance_function`` (default: :math:`\lVert u - v + 10^{-6}\rVert_2` over the last
    dimension, torch's ``pairwise_distance``, with ``eps`` added to every component) and margin :math:`m > 0`:

    .. math::

        d^+_i = d(a_i, p_i), \qquad
        d^-_i = \begin{cases} \min\bigl(d(a_i, n_i),\ d(p_i, n_i)\bigr) & \text{swap} \\
                              d(a_i, n_i) & \text{otherwise} \end{cases}, \qquad
        l_i = \max(m + d^+_i - d^-_i,\ 0),

    reduced by 'none' (:math:`L = (l_1, \dots, l_N)`, the distance's output shape), 'mean'
    (:math:`\frac1N \sum_i l_i`, NaN for an empty batch) or 'sum' (0 for an empty batch). The distance's
    output is not checked: negative "distances" and any output shape are accepted, as in torch.

    Gradient (with :math:`z_i = m + d^+_i - d^-_i` and :math:`g_i` the reduction's upstream factor):

    .. math::

        \frac{\partial L}{\partial d^+_i} = g_i\,[z_i \ge 0], \qquad
        \frac{\partial L}{\partial d(a_i, n_i)} = -g_i\,[z_i \ge 0]\,w_i, \qquad
        \frac{\partial L}{\partial d(p_i, n_i)} = -g_i\,[z_i \ge 0]\,(1 - w_i),

    where :math:`[z \ge 0]` counts the kink as active (``clamp_min``: the gradient flows at :math:`z = 0`)
    and :math:`w_i` is 1 if :math:`d(a_i,n_i) < d(p_i,n_i)`, 0 if greater, :math:`\tfrac12` on a tie (torch's
    ``minimum`` splits the gradient; without swap :math:`w_i = 1`). Autograd carries these through the
    user's ``distance_function`` (see :func:`triplet_margin_with_distance_loss_grad`).

    Args:
        anchor, positive, negative: tensors of equal ``ndim`` that ``distance_function`` accepts; (N, D) or
            (D,) for the default distance.
        distance_function: a callable ``(Tensor, Tensor) -> Tensor``, called as given (keyword-only).
        margin: :math:`m > 0`.
        swap: use :math:`\min(d(a, n), d(p, n))` as the negative distance (Balntas et al., 2016).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` (``'elementwise_mean'`` is rejected, as in torch).

    Raises:
        ValueError: invalid ``reduction``; ``margin <= 0``.
        RuntimeError: inputs with different numbers of dimensions.
        AttributeError: a non-tensor input (torch reads ``.ndim``).
    """
    distance = _validate_triplet_margin_with_distance_loss(
        anchor, positive, negative, distance_function, margin, reduction
    )
    # the distances by the caller's function, which autograd differentiates; the hinge by hand
    dist_swap = distance(positive, negative) if swap else None
    return _TripletMarginWithDistanceLossFunction.apply(
        distance(anchor, positive), distance(anchor, negative), dist_swap, margin, reduction
    )


def _validate_triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None,
    margin: float,
    reduction: str,
) -> Callable[[Tensor, Tensor], Tensor]:
    """torch's checks in torch's order, with its exception types; returns the distance function (the default
    :func:`~refimpl.metric._distance.pairwise_distance` when none is given)."""
    if reduction not in _reduction.REDUCTIONS:
        raise ValueError(
            f"{_FN}(): {reduction} is not a valid value for reduction "
            f"(argument reduction={reduction!r}; expected 'none', 'mean' or 'sum')"
        )
    check_margin(_FN, margin)
    check_same_ndim(_FN, anchor, positive, negative)
    if distance_function is not None:
        return distance_function
    _checks.check_same_device(_FN, anchor=anchor, positive=positive, negative=negative)  # the caller's may mix
    return pairwise_distance


def triplet_hinge(dist_pos: Tensor, dist_neg: Tensor, dist_swap: Tensor | None, margin: float) -> Tensor:
    r"""The unreduced loss :math:`\max(m + d^+ - d^-, 0)` with :math:`d^- = \min(d(a,n), d(p,n))` under swap."""
    if dist_swap is not None:
        dist_neg = torch.minimum(dist_neg, dist_swap)
    return (margin + dist_pos - dist_neg).clamp_min(0)


def triplet_margin_with_distance_loss_grad(
    grad_output: Tensor,
    dist_pos: Tensor,
    dist_neg: Tensor,
    dist_swap: Tensor | None = None,
    margin: float = 1.0,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor, Tensor | None]:
    r"""Hand-derived gradient of the hinge with respect to the three distances.

    Returns ``(grad_dist_pos, grad_dist_neg, grad_dist_swap)`` (the last ``None`` without swap), each
    summed to its distance's shape, from :math:`\partial L/\partial d^+ = g\,[z \ge 0]` and
    :math:`\partial L/\partial d^- = -g\,[z \ge 0]`, the latter split by torch's ``minimum`` rule: all to the
    smaller of :math:`d(a,n)` and :math:`d(p,n)`, half to each on a tie (and, as in torch, all to both when
    one is NaN). ``clamp_min``'s convention: the kink :math:`z = 0` passes the gradient.
    """
    dist_neg_used = dist_neg if dist_swap is None else torch.minimum(dist_neg, dist_swap)
    z = margin + dist_pos - dist_neg_used
    # dL/dz: z == 0 counts as active (clamp_min); a NaN z gets 0
    grad_z = torch.where(z >= 0, _reduction.grad_scale(grad_output, reduction, z.numel()), 0)
    grad_pos = grad_z.sum_to_size(dist_pos.shape)
    if dist_swap is None:
        return grad_pos, (-grad_z).sum_to_size(dist_neg.shape), None
    half = torch.where(dist_neg == dist_swap, -0.5 * grad_z, -grad_z)  # torch.minimum splits a tie 0.5 / 0.5
    grad_neg = half.masked_fill(dist_neg > dist_swap, 0).sum_to_size(dist_neg.shape)
    grad_swap = half.masked_fill(dist_neg < dist_swap, 0).sum_to_size(dist_swap.shape)
    return grad_pos, grad_neg, grad_swap


class _TripletMarginWithDistanceLossFunction(torch.autograd.Function):
    """Forward: :func:`triplet_hinge` and the reduction. Backward: :func:`triplet_margin_with_distance_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(dist_pos: Tensor, dist_neg: Tensor, dist_swap: Tensor | None, margin: float, reduction: str) -> Tensor:
        return _reduction.reduce_loss(triplet_hinge(dist_pos, dist_neg, dist_swap, margin), reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        dist_pos, dist_neg, dist_swap, margin, reduction = inputs
        ctx.save_for_backward(dist_pos, dist_neg, dist_swap)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        dist_pos, dist_neg, dist_swap = ctx.saved_tensors
        grads = triplet_margin_with_distance_loss_grad(
            grad_output, dist_pos, dist_neg, dist_swap, ctx.margin, ctx.reduction
        )
        return *grads, None, None


def check_margin(fn_name: str, margin: float) -> None:
    """``margin <= 0`` raises ValueError, as torch's Python check does (NaN passes, as in torch)."""
    if isinstance(margin, str) or not hasattr(margin, "__le__"):
        raise TypeError(
            f"{fn_name}(): '<=' not supported between instances of '{type(margin).__name__}' and 'int' "
            f"(argument margin must be a number, got {margin!r})"
        )
    if margin <= 0:
        raise ValueError(
            f"{fn_name}(): margin must be greater than 0, got {margin} (argument margin; expected margin > 0)"
        )


def check_same_ndim(fn_name: str, anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    """The three inputs must have the same number of dimensions (torch's RuntimeError, same words)."""
    for name, value in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if not isinstance(value, Tensor):
            raise _checks.NotATensorError(
                f"{fn_name}(): '{type(value).__name__}' object has no attribute 'ndim' "
                f"(argument {name} must be a Tensor)"
            )
    a_dim, p_dim, n_dim = anchor.ndim, positive.ndim, negative.ndim
    if not a_dim == p_dim == n_dim:
        raise RuntimeError(
            f"{fn_name}(): The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {a_dim}D, positive {p_dim}D, and negative {n_dim}D inputs"
        )


class TripletMarginWithDistanceLoss(Loss):
    """Drop-in for ``torch.nn.TripletMarginWithDistanceLoss(*, distance_function=None, margin=1.0, swap=False,
    reduction='mean')``; the default distance is a :class:`PairwiseDistance` submodule, as in torch."""

    def __init__(
        self,
        *,
        distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} instead "
                "(argument margin of TripletMarginWithDistanceLoss)"
            )
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )
