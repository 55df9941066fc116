r"""Gaussian negative log likelihood with a predicted variance, as ``torch.nn.functional.gaussian_nll_loss``
computes it.

Chapter: ``book/probabilistic/gaussian_nll.ipynb``.
"""

import math
import numbers

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)  # the constant that full=True adds to every element


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    r"""Negative log likelihood of ``target`` under a Gaussian with mean ``input`` and variance ``var``.

    With :math:`r = x - y` (``input`` and ``target`` broadcast against each other) and the clamped
    variance :math:`v = \max(\sigma^2, \epsilon)`:

    .. math::

        l_i = \tfrac12\left(\log v_i + \frac{r_i^2}{v_i}\right)
              \;\Bigl(+\ \tfrac12 \log 2\pi \text{ if } \texttt{full}\Bigr), \qquad
        \text{'mean'}: \frac1n \sum_i l_i, \qquad \text{'sum'}: \sum_i l_i,

    where :math:`n` counts every element of the unreduced loss (feature dimensions included) and
    :math:`v` broadcasts against :math:`r`. :math:`\epsilon` (``eps``, default ``1e-6``) is a floor, not
    an offset: :math:`v = \sigma^2` wherever :math:`\sigma^2 \ge \epsilon`. A NaN variance passes the
    sign check and gives NaN.

    Gradient, with :math:`g` the upstream gradient of each element (:math:`g/n` for 'mean'):

    .. math::

        \frac{\partial l_i}{\partial x_i} = g\,\frac{r_i}{v_i} = -\frac{\partial l_i}{\partial y_i},
        \qquad
        \frac{\partial l_i}{\partial \sigma^2_i} = \frac g2 \left(\frac1{v_i} - \frac{r_i^2}{v_i^2}\right),

    summed over the dimensions along which an argument was broadcast. The variance gradient is taken at
    the clamped :math:`v` *and flows even where* :math:`\sigma^2 < \epsilon`: torch clamps a clone of
    ``var`` in place under ``no_grad``, so autograd sees the identity, not a clamp (whose gradient would
    be 0 there). This is torch's convention, not the derivative of the clamped formula.

    ``var`` may be (torch's rules, checked in this order):

    * a Python ``float`` (not ``int``): the same variance everywhere, ``var * ones_like(input)``;
    * a tensor of ``input``'s size (heteroscedastic);
    * a tensor of ``input``'s size without its last dimension: unsqueezed at -1 (one variance per row);
    * a tensor with ``input``'s number of dimensions whose sizes where they differ from ``input``'s
      sum to exactly 1: in practice one dimension of size 1 (e.g. ``(N, 1)`` for input ``(N, D)``).

    Anything else, e.g. ``(N, 1, 1)`` for input ``(N, C, D)``, a 0-dim tensor for a 2-D input or
    ``(D,)`` for input ``(N, D)``, is rejected even though it would broadcast. ``target`` broadcasts
    freely and silently (no size warning); it may also be a Python number.

    The loss has the dtype of ``0.5 * (log(v) + (x - y)**2 / v)``: integer ``input``/``target`` promote
    to the default float dtype through the division, and float dtypes promote against ``var``'s.

    Args:
        input: the predicted mean :math:`x`.
        target: the observations :math:`y`, broadcastable to ``input``.
        var: the predicted variance :math:`\sigma^2 \ge 0` (not the standard deviation), a tensor of one
            of the shapes above or a Python float.
        full: add the constant :math:`\tfrac12\log 2\pi` to every element.
        eps: the floor :math:`\epsilon` of the variance in the forward pass.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` (``'elementwise_mean'`` is rejected).

    Returns:
        0-dim for 'mean' and 'sum'; the broadcast shape of ``input``, ``target`` and ``var`` for 'none'.

    Raises:
        ValueError: a negative entry in ``var``; ``var`` of a shape outside the rules above; an invalid
            ``reduction``.
        TypeError: ``var`` neither a tensor nor a Python float (e.g. an ``int``); a non-tensor
            ``input``; ``target`` neither a tensor nor a number; ``reduction`` or ``eps`` of the wrong type.
        RuntimeError: an integer or bool ``var`` with a float ``eps`` (the in-place clamp cannot cast);
            ``eps=None``; bool ``input``/``target``; shapes that do not broadcast.
        NotImplementedError: a complex ``var``, or a float ``var`` with a complex ``input`` (torch fills a
            complex tensor and cannot clamp it). A complex ``input`` with a real ``var`` gives a complex loss,
            as in torch.
    """
    var = _validate_gaussian_nll_loss(input, target, var, eps, reduction)
    # The loss depends on input and target only through r = x - y. Autograd's subtraction broadcasts, promotes,
    # and hands the target the negated gradient: dL/dx = dL/dr and dL/dy = -dL/dr.
    return _GaussianNLLLossFunction.apply(input - target, var, full, eps, reduction)


def _validate_gaussian_nll_loss(
    input: Tensor, target: Tensor | float, var: Tensor | float, eps: float, reduction: str
) -> Tensor:
    """torch's checks, in torch's order and with its exception types; returns ``var`` as the tensor the loss uses
    (a float filled into ``input``'s shape, a variance per row unsqueezed at -1)."""
    var = _variance_tensor(input, var)
    var = _variance_for_input(input, var)
    if not isinstance(reduction, str):
        raise TypeError(
            f"gaussian_nll_loss(): unsupported operand type(s) for +: '{type(reduction).__name__}' and 'str' "
            f"(argument reduction={reduction!r} must be one of the strings 'none', 'mean' or 'sum')"
        )
    if reduction not in _reduction.REDUCTIONS:
        raise ValueError(
            f"gaussian_nll_loss(): {reduction} is not valid (argument reduction={reduction!r}; expected 'none', "
            "'mean' or 'sum'; unlike most losses, 'elementwise_mean' is rejected here)"
        )
    _check_eps(var, eps)
    _check_target(input, target)
    _checks.check_same_device("gaussian_nll_loss", input=input, target=target, var=var)
    shape = torch.broadcast_shapes(input.shape, target.shape if isinstance(target, Tensor) else ())
    _checks.broadcast_shapes("gaussian_nll_loss", "input - target", torch.empty(shape, device="meta"), "var", var)
    return var


def gaussian_nll_loss_grad(
    grad_output: Tensor,
    residual: Tensor,
    var: Tensor,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`gaussian_nll_loss` with respect to :math:`r = x - y` and ``var``.

    ``var`` is the variance tensor after :func:`gaussian_nll_loss` expanded a float or unsqueezed it;
    :math:`v = \max(\sigma^2, \epsilon)`, :math:`q = r^2`, and :math:`s` is the upstream gradient of each
    element of the unreduced loss (``grad_output``, or ``grad_output / n`` for 'mean'):

    .. math::

        \frac{\partial L}{\partial r_i} = s_i\,\frac{\bar r_i}{v_i}, \qquad
        \frac{\partial L}{\partial \sigma^2_j} = \frac12\Bigl(\frac{\sum_{i \to j} s_i}{v_j}
            - \sum_{i \to j} \operatorname{Re}\Bigl(s_i\, \overline{\frac{q_i / v_j}{v_j}}\Bigr)\Bigr),

    where :math:`i \to j` runs over the loss elements that variance :math:`j` was broadcast to, and the bar
    (complex conjugate) and real part matter only for complex residuals. The two variance terms are the
    derivatives of :math:`\log v` and of :math:`q/v`, summed separately and in torch's order so that half
    precision rounds as torch does. :math:`v` keeps autograd's identity with ``var`` (see
    :func:`_clamp_straight_through`), so the gradient flows at clamped entries and double backward sees
    what torch's sees. Returns ``(grad_residual, grad_var)``.
    """
    v = _clamp_straight_through(var, eps)  # max(var, eps) in value, the identity for autograd
    shape = torch.broadcast_shapes(residual.shape, v.shape)
    # the upstream gradient of log v + r^2 / v: the reduction's factor times the loss's 1/2, as autograd passes it
    half = (_reduction.grad_scale(grad_output, reduction, math.prod(shape)) * 0.5).expand(shape)
    grad_residual = (half / v * (2 * residual).conj()).sum_to_size(residual.shape)  # d(r^2 / v)/dr = 2r / v
    from_log = half.sum_to_size(v.shape) / v  # d(log v)/dv = 1/v, after the sum over broadcast dimensions
    from_ratio = (-half * (residual.square() / v / v).conj()).sum_to_size(v.shape)  # d(r^2 / v)/dv = -(r^2 / v)/v
    grad_var = (from_log + from_ratio).real  # the variance is real, also when a complex residual makes the loss so
    return grad_residual, grad_var


def _clamp_straight_through(var: Tensor, eps: float) -> Tensor:
    """``max(var, eps)`` in value, the identity for autograd: torch's convention, reproduced as torch does it.

    The clone is fresh and nothing has saved it, so clamping it in place under ``no_grad`` is safe; a
    differentiable ``var.clamp(min=eps)`` would instead zero the gradient wherever ``var < eps``.
    """
    clamped = var.clone()
    with torch.no_grad():
        clamped.clamp_(min=eps)
    return clamped


class _GaussianNLLLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`gaussian_nll_loss`. Backward: :func:`gaussian_nll_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(residual: Tensor, var: Tensor, full: bool, eps: float, reduction: str) -> Tensor:
        v = var.clamp(min=eps)  # v = max(var, eps): a floor, not an offset
        loss = 0.5 * (torch.log(v) + residual**2 / v)  # torch's expression, so every dtype rounds as torch's
        if full:
            loss = loss + HALF_LOG_2PI  # + log(2 pi) / 2
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        residual, var, full, eps, reduction = inputs
        ctx.save_for_backward(residual, var)
        ctx.eps, ctx.reduction = eps, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        residual, var = ctx.saved_tensors
        grad_residual, grad_var = gaussian_nll_loss_grad(grad_output, residual, var, ctx.eps, ctx.reduction)
        return grad_residual, grad_var, None, None, None


def _variance_tensor(input: Tensor, var: Tensor | float) -> Tensor:
    """``var`` as a tensor, after torch's sign check: a float fills ``input``'s shape; an int is refused."""
    if isinstance(var, float):  # exactly torch's test: a Python int (or numpy.float32) is not a float
        if var < 0:
            raise ValueError(
                f"gaussian_nll_loss(): var has negative entry/entries (argument var={var}; a variance must be >= 0)"
            )
        _checks.check_tensor("gaussian_nll_loss", "input", input)
        return torch.full_like(input, var, dtype=torch.result_type(input, var))  # = var * ones_like(input)
    if not isinstance(var, Tensor):
        raise TypeError(
            f"gaussian_nll_loss(): argument 'var' must be a Tensor or a Python float, got {type(var).__name__} "
            f'{var!r} (torch fails on it with "any() received an invalid combination of arguments" or '
            "\"'<' not supported\"); write var=1.0, not var=1"
        )
    if var.is_complex():
        raise NotImplementedError(
            f"gaussian_nll_loss(): \"lt_cpu\" not implemented for '{_checks.dtype_name(var.dtype)}' "
            "(argument var is complex; a variance is real and >= 0)"
        )
    if torch.any(var < 0):
        raise ValueError(
            f"gaussian_nll_loss(): var has negative entry/entries (argument var has {int((var < 0).sum())} "
            "negative entries; pass the variance, e.g. through softplus or exp, not a raw network output)"
        )
    _checks.check_tensor("gaussian_nll_loss", "input", input)
    return var


def _variance_for_input(input: Tensor, var: Tensor) -> Tensor:
    """``var`` reshaped for broadcasting as torch decides it, or torch's ValueError."""
    if var.size() == input.size():
        return var
    if input.size()[:-1] == var.size():  # one variance per row: (N, D) input, (N,) var -> (N, 1)
        return var.unsqueeze(-1)
    if input.dim() == var.dim():
        # torch accepts when the sizes of var where it differs from input sum to exactly 1
        if sum(v for i, v in zip(input.shape, var.shape, strict=True) if i != v) == 1:
            return var
    raise ValueError(
        f"gaussian_nll_loss(): var is of incorrect size (argument var has shape {tuple(var.shape)}, input has "
        f"shape {tuple(input.shape)}; expected input's shape, input's shape without its last dimension, or "
        "input's shape with one dimension of size 1)"
    )


def _check_eps(var: Tensor, eps: float) -> None:
    """torch clamps a clone of ``var`` in place at ``eps``: the errors that ``clamp_`` raises."""
    if eps is None:
        raise RuntimeError(
            "gaussian_nll_loss(): torch.clamp: At least one of 'min' or 'max' must not be None "
            "(argument eps=None; expected a number such as 1e-6)"
        )
    if not isinstance(eps, (numbers.Real, Tensor)):
        raise TypeError(
            f"gaussian_nll_loss(): clamp_() received an invalid combination of arguments (argument eps must be a "
            f"number, got {type(eps).__name__})"
        )
    if var.is_complex():  # a float var filled a complex input's shape
        raise NotImplementedError(
            "gaussian_nll_loss(): clamp is not supported for complex types (argument var became complex because "
            "it is a float filling a complex input; pass a real var tensor)"
        )
    result = torch.result_type(var, eps)
    if not torch.can_cast(result, var.dtype):
        raise RuntimeError(
            f"gaussian_nll_loss(): result type {_checks.dtype_name(result)} can't be cast to the desired output "
            f"type {_checks.dtype_name(var.dtype)} (argument var has dtype {var.dtype} and cannot hold eps={eps}; "
            "pass a floating point var)"
        )


def _check_target(input: Tensor, target: Tensor | float) -> None:
    """``target`` must subtract from ``input``: a tensor or a number, not bool, broadcastable."""
    if isinstance(target, Tensor):
        _checks.check_not_bool("gaussian_nll_loss", input, target)
        _checks.broadcast_shapes("gaussian_nll_loss", "input", input, "target", target)
    elif isinstance(target, numbers.Number):
        _checks.check_not_bool("gaussian_nll_loss", input, torch.as_tensor(target))  # True is a bool tensor to torch
    else:
        raise TypeError(
            f"gaussian_nll_loss(): unsupported operand type(s) for -: 'Tensor' and '{type(target).__name__}' "
            "(argument target must be a Tensor or a number)"
        )


class GaussianNLLLoss(Loss):
    """Drop-in for ``torch.nn.GaussianNLLLoss``: ``GaussianNLLLoss(*, full=False, eps=1e-06, reduction='mean')``.

    The forward takes ``(input, target, var)``; the arguments are keyword-only, as in torch.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)
