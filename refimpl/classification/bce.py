r"""Binary cross-entropy on probabilities, as ``torch.nn.functional.binary_cross_entropy`` computes it.

Chapter: ``book/classification/bce.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import WeightedLoss

LOG_CLAMP = -100.0
"""torch clamps each logarithm of the loss from below at -100, so one element never exceeds 100."""

BACKWARD_EPS = float(torch.tensor(1e-12, dtype=torch.float32))
"""The floor of :math:`x(1 - x)` in torch's backward: the float32 number nearest to 1e-12
(9.999999960041972e-13), converted to the input's dtype (0 in float16, where it underflows)."""


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Binary cross-entropy between predicted probabilities ``input`` and targets in [0, 1].

    With :math:`x` the predicted probability and :math:`y` the target, elementwise (the shapes must be
    equal), torch clamps each logarithm at -100:

    .. math::

        l_i = -\bigl[\, y_i \max(\log x_i,\, -100) + (1 - y_i) \max(\log(1 - x_i),\, -100) \,\bigr],
        \qquad 0 \le l_i \le 100,

    computed as :math:`(y_i - 1)\max(\operatorname{log1p}(-x_i), -100) - y_i \max(\log x_i, -100)`.
    With ``weight`` (broadcast to the target's shape, never beyond the input's) each :math:`l_i` becomes
    :math:`w_i l_i`. Reductions over the :math:`n` elements:

    .. math::

        \text{'none'}: (w_i l_i)_i, \qquad
        \text{'mean'}: \frac1n \sum_{i=1}^n w_i l_i \ (\text{not } \div \textstyle\sum_i w_i), \qquad
        \text{'sum'}: \sum_{i=1}^n w_i l_i .

    Gradient (torch's backward, which is not the derivative of the clamped formula):

    .. math::

        \frac{\partial \ell}{\partial x_i} = g_i\, w_i\, \frac{x_i - y_i}{\max\bigl(x_i (1 - x_i),\ \epsilon\bigr)},
        \qquad
        \frac{\partial \ell}{\partial y_i} = -g_i\, w_i \log\frac{x_i}{1 - x_i},

    with :math:`\epsilon` = float32(1e-12) in the input's dtype (also in float64; 0 in float16),
    :math:`g_i` the upstream gradient (divided by :math:`n` for 'mean'). The target's gradient is not
    clamped: it is :math:`\pm\infty` at :math:`x \in \{0, 1\}`. ``weight`` is not differentiable.

    Shapes: ``input`` :math:`(*)`, ``target`` the same shape, ``weight`` broadcastable to it; output
    :math:`()` for 'mean' and 'sum', :math:`(*)` for 'none', in the input's dtype.

    Args:
        input: probabilities :math:`x \in [0, 1]`, floating point.
        target: targets :math:`y \in [0, 1]`, same shape and dtype as ``input``.
        weight: optional rescaling weight, broadcastable to the target's shape; must not require grad.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction``; ``target`` of another size than ``input``.
        RuntimeError: an element of ``input`` or ``target`` outside [0, 1] or NaN (torch on CUDA asserts
            on the device instead); ``target`` of another dtype than ``input``; ``weight`` that does not
            broadcast, would enlarge the loss, or requires grad; a complex ``weight``.
        NotImplementedError: integer, bool or complex ``input``.
        AttributeError: ``input``, ``target`` or ``weight`` not a tensor (also a ``TypeError``).
    """
    reduction = _validate_binary_cross_entropy(input, target, weight, size_average, reduce, reduction)
    return _BinaryCrossEntropyFunction.apply(input, target, weight, reduction)


def _validate_binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> str:
    """torch's checks, in torch's order and with its exception types; returns the reduction to apply."""
    fn = "binary_cross_entropy"
    reduction = _reduction.resolve(fn, reduction, size_average, reduce)
    _checks.check_tensor(fn, "target", target)
    _checks.check_tensor(fn, "input", input)
    _checks.check_same_device(fn, input=input, target=target, weight=weight)
    if target.size() != input.size():
        raise ValueError(
            f"{fn}(): Using a target size ({target.size()}) that is different to the input size ({input.size()}) "
            "is deprecated. Please ensure they have the same size. (argument target must have input's shape "
            f"{tuple(input.shape)}, got {tuple(target.shape)})"
        )
    if weight is not None:
        _checks.check_tensor(fn, "weight", weight)
        _check_weight_broadcasts(fn, weight, target)
        if weight.requires_grad and torch.is_grad_enabled():
            raise RuntimeError(
                f"The function '{fn}' is not differentiable with respect to argument 'weight'. This input "
                "cannot have requires_grad True. (pass weight.detach())"
            )
    if target.dtype != input.dtype:
        raise RuntimeError(
            f"{fn}(): Found dtype {_checks.dtype_name(target.dtype)} but expected {_checks.dtype_name(input.dtype)} "
            f"(argument target has dtype {target.dtype}; it must have input's dtype {input.dtype}, torch does "
            "not promote here)"
        )
    _checks.check_floating(fn, fn, input.dtype, what="input")
    _check_probabilities(fn, input, target)
    if weight is not None:
        _checks.check_fits_output(fn, "weight", weight, input.shape)
        _checks.check_in_place_dtype(fn, "weight", weight.dtype, input.dtype)
    return reduction


def binary_cross_entropy_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`binary_cross_entropy` with respect to ``input`` and ``target``.

    The derivative of :math:`l = -[y \log x + (1 - y)\log(1 - x)]` is

    .. math::

        \frac{\partial l}{\partial x} = \frac{1 - y}{1 - x} - \frac{y}{x} = \frac{x - y}{x (1 - x)},
        \qquad
        \frac{\partial l}{\partial y} = \log(1 - x) - \log x = -\log\frac{x}{1 - x},

    and torch floors the denominator :math:`x(1 - x)` at :math:`\epsilon` = float32(1e-12) instead of
    differentiating its clamped logarithms (whose derivative is NaN at :math:`x \in \{0, 1\}`: 0 times
    infinity). Each is multiplied by the upstream gradient :math:`g`, by ``weight`` and, for 'mean', divided by
    :math:`n`, in torch's order (so float32 and float64 gradients are torch's bit for bit). Returns
    ``(grad_input, grad_target)``.
    """
    # g (x - y) / max(x (1 - x), eps): torch's floor, not the derivative of the clamped logs
    grad_input = grad_output * (input - target) / (input * (1 - input)).clamp(min=BACKWARD_EPS)
    # -g log(x / (1 - x)): linear in y, so exact; +-inf at x = 0 or 1 (torch does not clamp this one)
    grad_target = -grad_output * torch.logit(input)
    if weight is not None:  # w scales each element's loss, so each element's gradient
        grad_input, grad_target = grad_input * weight, grad_target * weight
    if reduction == "mean":  # the derivative of sum(l) / n; for 'sum' and 'none' the factor is grad_output itself
        grad_input, grad_target = grad_input / input.numel(), grad_target / input.numel()
    return grad_input, grad_target


def _check_weight_broadcasts(fn_name: str, weight: Tensor, target: Tensor) -> None:
    """torch expands ``weight`` to ``torch.broadcast_shapes(target.size(), weight.size())`` first; its
    message when the two do not broadcast, with the argument named."""
    common = [1] * max(target.dim(), weight.dim())
    for arg_idx, shape in enumerate((target.size(), weight.size())):
        for idx in range(-1, -1 - len(shape), -1):
            if shape[idx] == common[idx]:
                continue
            if common[idx] == 1:
                common[idx] = shape[idx]
            elif shape[idx] != 1:
                raise RuntimeError(
                    f"{fn_name}(): Attempting to broadcast a dimension of length {shape[idx]} at {idx}! Mismatching "
                    f"argument at index {arg_idx} had {shape}; but expected shape should be broadcastable to "
                    f"{common} (argument weight of shape {tuple(weight.shape)} must broadcast to the target's "
                    f"shape {tuple(target.shape)})"
                )


def _check_probabilities(fn_name: str, input: Tensor, target: Tensor) -> None:
    """torch's kernel checks every pair (input first, then target) for 0 <= v <= 1; NaN fails too."""
    if input.numel() == 0:
        return
    input, target = _checks.plain(input), _checks.plain(target)  # the values, also under torch.func.vmap
    ok = []
    for t in (input, target):
        low, high = torch.aminmax(t)
        ok.append(bool(low >= 0) and bool(high <= 1))  # NaN propagates and fails both comparisons
    if all(ok):
        return
    first = []
    for t in (input, target):  # torch reports the first offending element, the input's on a tie
        bad = ~((t >= 0) & (t <= 1))
        first.append(int(bad.flatten().nonzero()[0]) if bad.any() else t.numel())
    name, value = ("input", input) if first[0] <= first[1] else ("target", target)
    index = min(first)
    raise RuntimeError(
        f"{fn_name}(): all elements of {name} should be between 0 and 1 (argument {name} has "
        f"{float(value.flatten()[index])} at flat index {index}; "
        + (
            "pass probabilities, e.g. torch.sigmoid(logits), or use binary_cross_entropy_with_logits)"
            if name == "input"
            else "targets are probabilities of the positive class)"
        )
    )


class _BinaryCrossEntropyFunction(torch.autograd.Function):
    """Forward: the Definition's clamped formula, weighted and reduced. Backward: :func:`binary_cross_entropy_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        log_x = torch.log(input).clamp(min=LOG_CLAMP)  # max(log x, -100)
        log_one_minus_x = torch.log1p(-input).clamp(min=LOG_CLAMP)  # max(log(1 - x), -100)
        loss = (target - 1) * log_one_minus_x - target * log_x  # -[y log x + (1 - y) log(1 - x)]
        if weight is not None:
            loss = (loss * weight).to(input.dtype)  # torch multiplies in place: the loss keeps the input's dtype
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, weight, reduction = inputs
        ctx.save_for_backward(input, target, weight)
        ctx.reduction = reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight = ctx.saved_tensors
        grad_input, grad_target = binary_cross_entropy_grad(grad_output, input, target, weight, ctx.reduction)
        return grad_input, grad_target, None, None


class BCELoss(WeightedLoss):
    """Drop-in for ``torch.nn.BCELoss``: ``BCELoss(weight=None, size_average=None, reduce=None,
    reduction='mean')``; ``weight`` is a buffer."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)
