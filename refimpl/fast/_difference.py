r"""The gradients of a loss of a difference :math:`d = a - b`, from :math:`\partial L/\partial d` in a buffer the
caller owns (``mse``, ``huber`` and ``smooth_l1`` of input and target; ``margin_ranking`` of its two scores)."""

from torch import Tensor


def difference_grads(grad: Tensor, need_first: bool, need_second: bool) -> tuple[Tensor | None, Tensor | None]:
    r"""``(dL/da, dL/db)`` for :math:`d = a - b`: the buffer itself for :math:`a`, its negation for :math:`b`
    (negated in place when :math:`a` needs no gradient, so no tensor is allocated), ``None`` where not needed."""
    if not need_first:
        return None, grad.neg_() if need_second else None
    return grad, -grad if need_second else None
