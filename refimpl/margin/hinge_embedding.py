r"""Hinge embedding loss, as ``torch.nn.functional.hinge_embedding_loss`` computes it.

Chapter: ``book/margin/hinge_embedding.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Hinge embedding loss: ``input`` is a distance :math:`x`, ``target`` says similar (1) or dissimilar (-1).

    With :math:`x` and :math:`y` broadcast against each other and the margin :math:`m` rounded to ``input``'s
    dtype (torch fills a tensor of that dtype with it: an integer input truncates 1.7 to 1):

    .. math::

        l_i = [y_i \ne 1]\,\max(0, m - x_i) + [y_i \ne -1]\,x_i
            = \begin{cases}
                x_i & y_i = 1 \\
                \max(0, m - x_i) & y_i = -1 \\
                x_i + \max(0, m - x_i) = \max(x_i, m) & \text{any other } y_i \text{ (0, 2, NaN, ...)}
            \end{cases}

    reduced by 'none', 'mean' (:math:`\frac1n\sum_i l_i`, ``n`` the number of elements of the broadcast
    loss) or 'sum'. Nothing checks that :math:`y \in \{-1, 1\}`: any other value adds both terms, which is
    :math:`\max(x, m)` up to rounding.

    Gradient (the target only selects a branch: it gets none):

    .. math::

        \frac{\partial l_i}{\partial x_i} = [y_i \ne -1] - [y_i \ne 1]\,[m - x_i \ge 0],

    with the kink :math:`x = m` counted as active (torch's ``clamp_min`` passes the gradient at the
    boundary): -1 at :math:`x = m` for :math:`y = -1`. Times ``grad_output`` (``grad_output / n`` for
    'mean'), summed over the dimensions ``input`` was broadcast along.

    The loss has ``input``'s dtype, whatever the target's: an int64 input gives an int64 loss ('mean' of it
    raises, as in torch).

    Args:
        input: distances or scores :math:`x`, any shape, real (float or integer).
        target: labels :math:`y`, broadcastable with ``input`` (silently), any real dtype or bool.
        margin: :math:`m`, a number (default 1.0).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        0-dim for 'mean' and 'sum'; the broadcast shape of ``input`` and ``target`` for 'none'.

    Raises:
        ValueError: invalid ``reduction``.
        TypeError: ``input`` or ``target`` not a tensor; ``margin`` not a number.
        RuntimeError: shapes that do not broadcast; a bool ``input``; 'mean' of an integer input.
        NotImplementedError: a complex ``input``.
    """
    reduction, margin = _validate_hinge_embedding_loss(input, target, margin, size_average, reduce, reduction)
    # the target only selects a branch (torch compares it and builds no graph to it): detached here too
    return _HingeEmbeddingLossFunction.apply(input, target.detach(), margin, reduction)


def _validate_hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float, size_average: bool | None, reduce: bool | None, reduction: str
) -> tuple[str, float]:
    """torch's checks in torch's order; returns the reduction and the margin rounded to ``input``'s dtype."""
    fn = "hinge_embedding_loss"
    reduction = _reduction.resolve(fn, reduction, size_average, reduce)
    _checks.check_tensor_argument(fn, "input", input, 1)
    _checks.check_tensor_argument(fn, "target", target, 2)
    _checks.check_same_device(fn, input=input, target=target)
    margin = _checks.check_number(fn, "margin", float(margin) if isinstance(margin, bool) else margin, 3)
    _checks.broadcast_shapes(fn, "target", target, "input", input)
    if input.dtype == torch.bool:
        raise RuntimeError(
            f"{fn}(): Subtraction, the `-` operator, with two bool tensors is not supported "
            "(argument input is bool: margin - input is undefined; pass a float tensor)"
        )
    if input.is_complex():
        raise NotImplementedError(
            f"{fn}(): clamp is not supported for complex types (argument input has dtype {input.dtype}; "
            "expected a real dtype)"
        )
    if reduction == "mean":
        _checks.check_mean_dtype(fn, input.dtype)
    # torch computes margin - input as full_like(input, margin) - input: the margin is first rounded to
    # input's dtype (truncated for integers). Rounding the Python number gives the same bits.
    return reduction, torch.tensor(margin, dtype=input.dtype).item()


def hinge_embedding_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    r"""Hand-derived gradient of :func:`hinge_embedding_loss` with respect to ``input``.

    .. math::

        \frac{\partial L}{\partial x_i} = g_i\,\bigl([y_i \ne -1] - [y_i \ne 1]\,[m - x_i \ge 0]\bigr),

    :math:`g_i` being ``grad_output`` ('none', 'sum') or ``grad_output / n`` ('mean'), summed to ``input``'s
    shape. ``margin`` is already rounded to ``input``'s dtype. At :math:`x = m` the hinge counts as active
    (:math:`\ge`, torch's ``clamp_min`` convention); a NaN :math:`x` gets the gradient of the :math:`x` term
    only, as in torch. The target gets no gradient.
    """
    scale = _reduction.grad_scale(grad_output, reduction, torch.broadcast_shapes(input.shape, target.shape).numel())
    hinge_active = (target != 1) & (margin - input >= 0)  # >=: the kink x == m is active, as clamp_min
    # one where per term, in torch's order: the x term, minus the hinge term
    grad = torch.where(target != -1, scale, 0.0) - torch.where(hinge_active, scale, 0.0)
    return grad.sum_to_size(input.shape).to(input.dtype)


def hinge_embedding_loss_jvp(
    input: Tensor, target: Tensor, tangent_input: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    r"""Hand-derived forward-mode derivative (JVP) of :func:`hinge_embedding_loss` along the input's tangent
    :math:`\dot x` (the labels are not differentiable):

    .. math::

        \dot l_i = [y_i \ne -1]\, \dot x_i - [y_i \ne 1,\ m - x_i \ge 0]\, \dot x_i,

    the two terms of :func:`hinge_embedding_loss_grad` (the kink :math:`x_i = m` counted as active, as there)
    applied to the tangent, reduced as the loss is.
    """
    hinge_active = (target != 1) & (margin - input >= 0)
    loss_tangent = torch.where(target != -1, tangent_input, 0.0) - torch.where(hinge_active, tangent_input, 0.0)
    return _reduction.reduce_loss(loss_tangent, reduction)


class _HingeEmbeddingLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`hinge_embedding_loss`. Backward: :func:`hinge_embedding_loss_grad`. Forward
    mode: :func:`hinge_embedding_loss_jvp`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, margin: float, reduction: str) -> Tensor:
        hinge = (margin - input).clamp_min(0)  # max(0, m - x)
        # the two terms as torch adds them: for y = 0 the sum max(0, m - x) + x is rounded once
        loss = torch.where(target != 1, hinge, 0) + torch.where(target != -1, input, 0)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, margin, reduction = inputs
        ctx.save_for_backward(input, target)
        ctx.save_for_forward(input, target)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        return hinge_embedding_loss_grad(grad_output, input, target, ctx.margin, ctx.reduction), None, None, None

    @staticmethod
    def jvp(ctx, tangent_input: Tensor, *_) -> Tensor:
        input, target = ctx.saved_tensors
        return hinge_embedding_loss_jvp(input, target, tangent_input, ctx.margin, ctx.reduction)


class HingeEmbeddingLoss(Loss):
    """Drop-in for ``torch.nn.HingeEmbeddingLoss``:
    ``HingeEmbeddingLoss(margin=1.0, size_average=None, reduce=None, reduction='mean')``."""

    def __init__(
        self,
        margin: float = 1.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)
