r"""Poisson negative log-likelihood loss, as ``torch.nn.functional.poisson_nll_loss`` computes it.

Chapter: ``book/probabilistic/poisson_nll.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss
from refimpl.probabilistic._grads import cast_like, sum_to, times


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Negative log-likelihood of counts ``target`` under a Poisson distribution with rate given by ``input``.

    With :math:`x` = ``input`` and :math:`y` = ``target`` broadcast to a common shape with :math:`n` elements,
    the rate is :math:`\lambda = e^x` (``log_input=True``, the default: :math:`x` is the log-rate) or
    :math:`\lambda = x` (``log_input=False``), and

    .. math::

        l_i = e^{x_i} - y_i x_i \quad(\texttt{log\_input=True}), \qquad
        l_i = x_i - y_i \log(x_i + \varepsilon) \quad(\texttt{log\_input=False}),

    where :math:`\varepsilon` = ``eps`` (default :math:`10^{-8}`) is used only when ``log_input=False``. This
    is :math:`-\log P(y \mid \lambda) = \lambda - y\log\lambda + \log y!` without the constant
    :math:`\log y!`. With ``full=True`` the Stirling approximation of :math:`\log y!` is added, but only
    where :math:`y_i > 1` (0 for :math:`y_i \le 1`, so :math:`y = 1` is excluded too):

    .. math::

        l_i \mathrel{+}= \mathbb{1}[y_i > 1] \bigl(y_i \log y_i - y_i + \tfrac12 \log(2\pi y_i)\bigr).

    Reductions: 'none' :math:`(l_1, \dots, l_n)`, 'mean' :math:`\frac1n\sum_i l_i`, 'sum' :math:`\sum_i l_i`;
    an empty input gives NaN for 'mean' and 0 for 'sum'. The deprecated ``size_average``/``reduce`` override
    ``reduction`` with torch's warning. Unlike most losses, ``'elementwise_mean'`` is rejected.

    Nothing is validated: negative or non-integer targets are used as they are, :math:`x < 0` with
    ``log_input=False`` gives NaN, :math:`e^x` overflows to inf (float32 beyond :math:`x \approx 88.7`).
    The target broadcasts against the input silently. Integer and bool tensors are promoted as the formula's
    operations promote them (an int64 input gives float32); complex inputs are computed as written.

    Gradient (:func:`poisson_nll_loss_grad`): :math:`\partial l_i/\partial x_i = e^{x_i} - y_i`, or
    :math:`1 - y_i/(x_i + \varepsilon)`; :math:`\partial l_i/\partial y_i = -x_i`, or
    :math:`-\log(x_i + \varepsilon)`, plus :math:`\mathbb{1}[y_i > 1](\log y_i + \frac{1}{2y_i})` with
    ``full``, which is NaN at :math:`y_i \le 0` as in torch's backward. The Stirling term never changes the
    input's gradient.

    Args:
        input: the log-rate :math:`x = \log\lambda` (``log_input=True``) or the rate :math:`\lambda` itself.
        target: counts :math:`y`, broadcastable with ``input``.
        log_input: whether ``input`` is the log of the rate.
        full: add the Stirling term, for the value of the full negative log-likelihood.
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        eps: :math:`\varepsilon` added to the rate inside the log when ``log_input=False``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: 0-dim for 'mean' and 'sum', the broadcast shape for 'none'.

    Raises:
        ValueError: invalid ``reduction`` (including ``'elementwise_mean'`` and ``'batchmean'``).
        TypeError: ``input`` or ``target`` not a tensor; ``log_input`` or ``full`` not a bool; ``eps`` not a
            number.
        RuntimeError: a bool operand of a subtraction in the formula (bool input and target; bool input with
            ``log_input=False``; bool target with ``full=True``); shapes that do not broadcast.
        NotImplementedError: a complex target with ``full=True`` (the comparison :math:`y > 1`).
    """
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    if reduction not in _reduction.REDUCTIONS:  # poisson_nll_loss validates itself: no 'elementwise_mean'
        raise ValueError(
            f"poisson_nll_loss(): {reduction} is not a valid value for reduction "
            f"(argument reduction={reduction!r}; expected 'none', 'mean' or 'sum')"
        )
    _checks.check_tensor_argument("poisson_nll_loss", "input", input, position=1)
    _checks.check_tensor_argument("poisson_nll_loss", "target", target, position=2)
    _checks.check_same_device("poisson_nll_loss", input=input, target=target)
    _checks.check_bool("poisson_nll_loss", "log_input", log_input, position=3)
    _checks.check_bool("poisson_nll_loss", "full", full, position=4)
    if isinstance(eps, bool):
        eps = float(eps)  # torch's argument parser reads a bool as a number here
    eps = _checks.check_number("poisson_nll_loss", "eps", eps, position=5)
    _check_no_bool_subtraction(input, target, log_input, full)
    _checks.broadcast_shapes("poisson_nll_loss", "target", target, "input", input)
    if full and target.is_complex():
        raise NotImplementedError(
            f"poisson_nll_loss(): \"le_cpu\" not implemented for '{_checks.dtype_name(target.dtype)}' "
            "(argument target is complex; full=True compares the target with 1 and needs a real target)"
        )
    return _PoissonNLLLossFunction.apply(input, target, log_input, full, eps, reduction)


def _check_no_bool_subtraction(input: Tensor, target: Tensor, log_input: bool, full: bool) -> None:
    """torch's formula subtracts a bool tensor in three cases, and its subtraction raises there."""
    if log_input and input.dtype == torch.bool and target.dtype == torch.bool:
        culprit = "input and target are both bool, so target * input is bool"
    elif not log_input and input.dtype == torch.bool:
        culprit = "argument input is bool and log_input=False subtracts from it"
    elif full and target.dtype == torch.bool:
        culprit = "argument target is bool and full=True subtracts it"
    else:
        return
    raise RuntimeError(
        f"poisson_nll_loss(): Subtraction, the `-` operator, with a bool tensor is not supported ({culprit}; "
        "convert it with .float())"
    )


def stirling_term(target: Tensor) -> Tensor:
    r"""The term ``full=True`` adds: :math:`y \log y - y + \frac12 \log(2\pi y)` where :math:`y > 1`, else 0.

    It is Stirling's approximation of :math:`\log y!`; torch masks it to 0 for :math:`y \le 1` (where
    :math:`\log 0! = \log 1! = 0` exactly and the approximation is poor).
    """
    return (target * torch.log(target) - target + 0.5 * torch.log(2 * math.pi * target)).masked_fill(target <= 1, 0)


def poisson_nll_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
    needs_input_grad: tuple[bool, bool] = (True, True),
) -> tuple[Tensor | None, Tensor | None]:
    r"""Hand-derived gradient of :func:`poisson_nll_loss` with respect to input and target.

    .. math::

        \frac{\partial l_i}{\partial x_i} = e^{x_i} - y_i, \quad
        \frac{\partial l_i}{\partial y_i} = -x_i \qquad (\texttt{log\_input=True}),

        \frac{\partial l_i}{\partial x_i} = 1 - \frac{y_i}{x_i + \varepsilon}, \quad
        \frac{\partial l_i}{\partial y_i} = -\log(x_i + \varepsilon) \qquad (\texttt{log\_input=False}),

    and ``full=True`` adds :math:`\mathbb{1}[y_i > 1]\,(\log y_i + \frac{1}{2 y_i})` to the target's gradient
    only. Torch's backward multiplies the derivative of the unmasked term by a zeroed upstream gradient where
    :math:`y \le 1`, which is :math:`0 \cdot \mathrm{NaN} = \mathrm{NaN}` at :math:`y \le 0`; this function
    does the same. Times the reduction's factor (``grad_output``, or ``grad_output / n`` for 'mean'). For
    complex tensors the gradient is ``grad_output * conj(derivative)``, torch's convention. Each gradient is
    summed over the dimensions its argument was broadcast along and has its argument's dtype. Returns
    ``(grad_input, grad_target)``, with ``None`` where ``needs_input_grad`` is False.
    """
    shape = torch.broadcast_shapes(input.shape, target.shape)
    g = _reduction.grad_scale(grad_output, reduction, shape.numel())
    grad_input = grad_target = None
    rate = None if log_input else input + eps
    # Term by term as torch's backward runs (see refimpl.probabilistic._grads), so half precision rounds alike.
    if needs_input_grad[0]:
        from_target = cast_like(sum_to(times(-g, target), shape, input), input)  # -g y, from the product y * ...
        if log_input:  # g e^x - g y
            exp_input = torch.exp(input)
            grad_input = times(cast_like(sum_to(g, shape, input), exp_input), exp_input) + from_target
        else:  # g - g y / (x + eps): torch's log backward divides by the conjugate of its argument
            rate_conj = rate.conj() if rate.is_complex() else rate
            grad_input = cast_like(sum_to(g, shape, input), input) + from_target / rate_conj
    if needs_input_grad[1]:
        log_rate = input if log_input else torch.log(rate)
        grad_target = cast_like(sum_to(times(-g, log_rate), shape, target), target)  # -g log(lambda)
        if full:
            # The Stirling term's derivative log y - 1 + y/y + (1/2)(2 pi)/(2 pi y), term by term, with torch's
            # upstream gradient zeroed where y <= 1: 0 * log 0 = NaN at y = 0 (and 0 * NaN at y < 0) survive.
            g_full = cast_like(sum_to(g, shape, target), target).masked_fill(target <= 1, 0)
            d_stirling = (g_full * torch.log(target) - g_full).add_(g_full * target / target)
            d_stirling.add_(g_full * 0.5 / (2 * math.pi * target) * (2 * math.pi))
            grad_target = d_stirling + grad_target
    return (
        None if grad_input is None else grad_input.contiguous(),
        None if grad_target is None else grad_target.contiguous(),
    )


class _PoissonNLLLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`poisson_nll_loss` and its reduction. Backward: :func:`poisson_nll_loss_grad`."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: str):
        ctx.save_for_backward(input, target)
        ctx.log_input, ctx.full, ctx.eps, ctx.reduction = log_input, full, eps, reduction
        if log_input:
            loss = torch.exp(input) - target * input
        else:
            loss = input - target * torch.log(input + eps)
        if full:
            loss += stirling_term(target)  # in place, as torch: the loss keeps its dtype (f16 input, int target)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        grad_input, grad_target = poisson_nll_loss_grad(
            grad_output, input, target, ctx.log_input, ctx.full, ctx.eps, ctx.reduction, ctx.needs_input_grad[:2]
        )
        return grad_input, grad_target, None, None, None, None


class PoissonNLLLoss(Loss):
    """Drop-in for ``torch.nn.PoissonNLLLoss``: ``PoissonNLLLoss(log_input=True, full=False, size_average=None,
    eps=1e-08, reduce=None, reduction='mean')``. Its forward's first parameter is named ``log_input``, as in
    torch (it holds the input, whatever the flag says)."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: bool | None = None,
        eps: float = 1e-8,
        reduce: bool | None = None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return poisson_nll_loss(
            log_input, target, log_input=self.log_input, full=self.full, eps=self.eps, reduction=self.reduction
        )
