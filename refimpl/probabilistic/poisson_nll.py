r"""Poisson negative log-likelihood loss, as ``torch.nn.functional.poisson_nll_loss`` computes it.

Chapter: ``book/probabilistic/poisson_nll.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss


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
    reduction, eps = _validate_poisson_nll_loss(input, target, log_input, full, size_average, eps, reduce, reduction)
    return _PoissonNLLLossFunction.apply(input, target, log_input, full, eps, reduction)


def _validate_poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool,
    full: bool,
    size_average: bool | None,
    eps: float,
    reduce: bool | None,
    reduction: str,
) -> tuple[str, float]:
    """torch's checks, in torch's order and with its exception types; returns the reduction to apply and ``eps``
    as a float."""
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
    return reduction, eps


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
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`poisson_nll_loss` with respect to input and target.

    .. math::

        \frac{\partial l_i}{\partial x_i} = e^{x_i} - y_i, \quad
        \frac{\partial l_i}{\partial y_i} = -x_i \qquad (\texttt{log\_input=True}),

        \frac{\partial l_i}{\partial x_i} = 1 - \frac{y_i}{x_i + \varepsilon}, \quad
        \frac{\partial l_i}{\partial y_i} = -\log(x_i + \varepsilon) \qquad (\texttt{log\_input=False}),

    and ``full=True`` adds :math:`\mathbb{1}[y_i > 1]\,(\log y_i + \frac{1}{2 y_i})` to the target's gradient
    only, term by term: :math:`\log y + y/y - 1 + \frac12 \cdot 2\pi / (2\pi y)`. torch's backward multiplies
    these by an upstream gradient zeroed where :math:`y \le 1`, which is :math:`0 \cdot \mathrm{NaN} =
    \mathrm{NaN}` at :math:`y \le 0` (:math:`0 \cdot \log 0` at :math:`y = 0`); so does this function. Each
    term is multiplied by the reduction's factor :math:`g` (``grad_output``, or ``grad_output / n`` for 'mean')
    and handed to its argument as autograd hands it (:func:`_as_gradient_of`), in the order autograd
    differentiates the forward, so that half precision rounds as torch's does. For complex tensors a term is
    :math:`g \cdot \overline{\partial l / \partial z}`, torch's convention (the ``conj()`` calls, which do
    nothing on real tensors). Returns ``(grad_input, grad_target)``.
    """
    shape = torch.broadcast_shapes(input.shape, target.shape)
    g = _reduction.grad_scale(grad_output, reduction, shape.numel()).expand(shape)  # as autograd passes it
    if log_input:  # l = e^x - y x
        grad_input = _as_gradient_of(g, input) * torch.exp(input).conj() + _as_gradient_of(-g * target.conj(), input)
        grad_target = _as_gradient_of(-g * input.conj(), target)
    else:  # l = x - y log(x + eps)
        grad_input = _as_gradient_of(g, input) + _as_gradient_of(-g * target.conj(), input) / (input + eps).conj()
        grad_target = _as_gradient_of(-g * torch.log(input + eps).conj(), target)
    if full:  # + the Stirling term's derivative, with its upstream gradient zeroed where y <= 1
        g_full = _as_gradient_of(g, target).masked_fill(target <= 1, 0)
        d_stirling = g_full * torch.log(target) - g_full + g_full * target / target  # from y log y - y
        d_stirling = d_stirling + g_full * 0.5 / (2 * math.pi * target) * (2 * math.pi)  # from log(2 pi y) / 2
        grad_target = d_stirling + grad_target
    return grad_input, grad_target


def _as_gradient_of(grad: Tensor, like: Tensor) -> Tensor:
    """One term of a gradient as autograd hands it to ``like``: summed over the dimensions ``like`` was broadcast
    along, the real part when ``like`` is real and the term complex, in ``like``'s dtype."""
    grad = grad.sum_to_size(like.shape)
    if grad.is_complex() and not like.is_complex():
        grad = grad.real
    return grad.to(like.dtype)


class _PoissonNLLLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`poisson_nll_loss` and its reduction. Backward: :func:`poisson_nll_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: str) -> Tensor:
        if log_input:
            loss = torch.exp(input) - target * input  # e^x - y x
        else:
            loss = input - target * torch.log(input + eps)  # x - y log(x + eps)
        if full:  # torch adds in place: the loss keeps its dtype (a float16 input with an int64 target)
            loss = (loss + stirling_term(target)).to(loss.dtype)
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input, target, log_input, full, eps, reduction = inputs
        ctx.save_for_backward(input, target)
        ctx.log_input, ctx.full, ctx.eps, ctx.reduction = log_input, full, eps, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        grad_input, grad_target = poisson_nll_loss_grad(
            grad_output, input, target, ctx.log_input, ctx.full, ctx.eps, ctx.reduction
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
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return poisson_nll_loss(
            log_input, target, log_input=self.log_input, full=self.full, eps=self.eps, reduction=self.reduction
        )
