r"""Margin ranking loss, as ``torch.nn.functional.margin_ranking_loss`` computes it.

Chapter: ``book/margin/margin_ranking.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Pairwise hinge on score differences: ``target`` = 1 says ``input1`` should rank higher, -1 ``input2``.

    With the difference :math:`d = x_1 - x_2`, all three tensors broadcast against each other (they must have
    the same number of dimensions), and the margin :math:`m`:

    .. math::

        z_i = -y_i\,d_i + m, \qquad l_i = \max(0, z_i),

    reduced by 'none', 'mean' (:math:`\frac1n\sum_i l_i`, ``n`` the number of elements of the broadcast loss)
    or 'sum'. The target is not checked: :math:`y = 0` gives :math:`\max(0, m)` whatever the scores, and
    :math:`y = 2` doubles the margin violation.

    Gradient, with the kink :math:`z = 0` counted as active (torch's ``clamp_min`` convention):

    .. math::

        \frac{\partial l_i}{\partial x_{1,i}} = -y_i\,[z_i \ge 0], \qquad
        \frac{\partial l_i}{\partial x_{2,i}} = y_i\,[z_i \ge 0], \qquad
        \frac{\partial l_i}{\partial y_i} = -d_i\,[z_i \ge 0],

    times ``grad_output`` (``grad_output / n`` for 'mean'), summed over broadcast dimensions. The target is
    differentiable.

    dtype: the promoted dtype of the three tensors, then promoted with the Python float ``margin``: integer
    inputs give a float32 loss (the default dtype), float16 with bfloat16 gives float32.

    Args:
        input1: scores :math:`x_1`, any shape.
        input2: scores :math:`x_2`, same number of dimensions as ``input1``, broadcastable.
        target: :math:`y`, usually -1 or 1, same number of dimensions, broadcastable.
        margin: :math:`m`, a number (default 0).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        0-dim for 'mean' and 'sum'; the broadcast shape for 'none'.

    Raises:
        ValueError: invalid ``reduction``.
        RuntimeError: tensors of different numbers of dimensions; shapes that do not broadcast; bool tensors.
        AttributeError: (as :class:`refimpl._checks.NotATensorError`, also a TypeError) a non-tensor argument.
        TypeError: ``margin`` not a number.
        NotImplementedError: complex tensors.
    """
    reduction, margin = _validate_margin_ranking_loss(input1, input2, target, margin, size_average, reduce, reduction)
    # d = x1 - x2 by autograd: its subtraction broadcasts, promotes, and gives input2 the negated gradient
    return _MarginRankingLossFunction.apply(input1 - input2, target, margin, reduction)


def _validate_margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> tuple[str, float]:
    """torch's checks in torch's order, with its exception types; returns the reduction and the margin."""
    fn = "margin_ranking_loss"
    reduction = _reduction.resolve(fn, reduction, size_average, reduce)
    for name, value in (("input1", input1), ("input2", input2), ("target", target)):
        if not isinstance(value, Tensor):
            raise _checks.NotATensorError(
                f"{fn}(): argument '{name}' must be a Tensor, got {type(value).__name__} "
                f"('{type(value).__name__}' object has no attribute 'dim')"
            )
    _checks.check_same_device(fn, input1=input1, input2=input2, target=target)
    if not input1.dim() == input2.dim() == target.dim():
        raise RuntimeError(
            f"{fn} : All input tensors should have same dimension but got sizes: input1: {input1.shape}, "
            f"input2: {input2.shape}, target: {target.shape} (arguments input1, input2 and target must have the "
            f"same number of dimensions, got {input1.dim()}, {input2.dim()} and {target.dim()})"
        )
    margin = _checks.check_number(fn, "margin", float(margin) if isinstance(margin, bool) else margin, 4)
    # torch's errors for bool tensors (the subtraction x1 - x2, then the negation -y) and complex ones (the clamp)
    if input1.dtype == torch.bool and input2.dtype == torch.bool:
        raise RuntimeError(
            f"{fn}(): Subtraction, the `-` operator, with two bool tensors is not supported "
            "(arguments input1 and input2 are bool; pass float tensors)"
        )
    if torch.bool in (input1.dtype, input2.dtype):
        name = "input1" if input1.dtype == torch.bool else "input2"
        raise RuntimeError(
            f"{fn}(): Subtraction, the `-` operator, with a bool tensor is not supported "
            f"(argument {name} is bool; convert it with .float())"
        )
    if target.dtype == torch.bool:
        raise RuntimeError(
            f"{fn}(): Negation, the `-` operator, on a bool tensor is not supported "
            "(argument target is bool; pass -1/1 as numbers)"
        )
    for name, value in (("input1", input1), ("input2", input2), ("target", target)):
        if value.is_complex():
            raise NotImplementedError(
                f"{fn}(): clamp is not supported for complex types (argument {name} has "
                f"dtype {value.dtype}; expected a real dtype)"
            )
    _checks.broadcast_shapes(fn, "input1", input1, "input2", input2)
    _checks.broadcast_shapes(
        fn,
        "target",
        target,
        "input1 - input2",
        torch.empty(torch.broadcast_shapes(input1.shape, input2.shape), device="meta"),
    )
    return reduction, margin


def margin_ranking_loss_grad(
    grad_output: Tensor,
    diff: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`margin_ranking_loss` with respect to :math:`d = x_1 - x_2` and ``target``.

    .. math::

        \frac{\partial L}{\partial d_i} = -y_i\,a_i, \qquad \frac{\partial L}{\partial y_i} = -d_i\,a_i, \qquad
        a_i = g_i\,[-y_i d_i + m \ge 0],

    :math:`g_i` being ``grad_output`` ('none', 'sum') or ``grad_output / n`` ('mean'). The kink :math:`z = 0`
    counts as active (torch's ``clamp_min``); a NaN :math:`z` is inactive. Then
    :math:`\partial L/\partial x_1 = \partial L/\partial d` and
    :math:`\partial L/\partial x_2 = -\partial L/\partial d` (autograd's subtraction). Returns
    ``(grad_diff, grad_target)`` in the broadcast shape; autograd sums them to each argument's shape.
    """
    active = -target * diff + margin >= 0  # z >= 0: the kink z == 0 is active, as clamp_min
    a = torch.where(active, _reduction.grad_scale(grad_output, reduction, active.numel()), 0.0)
    return -a * target, -a * diff


class _MarginRankingLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`margin_ranking_loss` on :math:`d`. Backward: :func:`margin_ranking_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(diff: Tensor, target: Tensor, margin: float, reduction: str) -> Tensor:
        loss = (-target * diff + margin).clamp_min(0)  # l = max(0, -y d + m)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        diff, target, margin, reduction = inputs
        ctx.save_for_backward(diff, target)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        diff, target = ctx.saved_tensors
        grad_diff, grad_target = margin_ranking_loss_grad(grad_output, diff, target, ctx.margin, ctx.reduction)
        return grad_diff, grad_target, None, None


class MarginRankingLoss(Loss):
    """Drop-in for ``torch.nn.MarginRankingLoss``:
    ``MarginRankingLoss(margin=0.0, size_average=None, reduce=None, reduction='mean')``."""

    def __init__(
        self,
        margin: float = 0.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)
