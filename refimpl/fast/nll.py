r"""Negative log-likelihood loss, as ``torch.nn.functional.nll_loss`` computes it.

Also the pieces ``cross_entropy`` shares with it: the validation of class-index targets (torch's checks,
in torch's order), the target mask for ``ignore_index`` and the class-weighted reduction.

Chapter: ``book/classification/nll.ipynb``.
"""


import torch
from torch import Tensor

from refimpl.classification import nll as readable
from refimpl.classification.nll import (  # the same code in the readable module
    batched,
    class_target_mask,
    flat_weight,
    reduce_class_losses,
    target_coefficients,
)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Negative log-likelihood of class indices: minus the input entry at each target class, weighted.

    ``input`` holds log-probabilities :math:`x_{n,c}` (this function does not apply ``log_softmax`` and
    does not check that it was applied) and ``target`` class indices :math:`y_n`. With class weights
    :math:`w_c` (all 1 without ``weight``) and the indicator :math:`k_n = [y_n \ne \text{ignore\_index}]`:

    .. math::

        l_n = -\,w_{y_n}\, x_{n, y_n}\, k_n \quad(\text{'none'; 0 at ignored targets}), \qquad
        \sum_n l_n \quad(\text{'sum'}), \qquad
        \frac{\sum_n l_n}{\sum_n w_{y_n} k_n} \quad(\text{'mean'}).

    'mean' is a **weighted** mean: it divides by the total weight of the kept targets, not by :math:`N`
    (without ``weight``: by the number of kept targets). Hidden edge values, as in torch: all targets
    ignored gives 'mean' = 0/0 = NaN with an all-zero gradient; kept targets whose weights are all 0 give
    NaN and a NaN gradient; an empty batch gives 'mean' NaN and 'sum' 0. The total weight is held in the
    input's dtype, so a float16 'mean' over more than 65504 kept targets divides by inf (0, or NaN when the
    sum overflows too), and bfloat16 rounds the count (257 targets divide by 256).

    Gradient: :math:`\partial L / \partial x_{n,c} = -g\, w_{y_n} k_n\, [c = y_n]` times the reduction's
    factor (:math:`g_n` for 'none', :math:`g` for 'sum', :math:`g / \sum_n w_{y_n} k_n` for 'mean');
    zero for every other class. ``target`` and ``weight`` get no gradient (torch raises if ``weight``
    requires one).

    Shapes: ``input`` :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, \dots, d_K)`; ``target``
    :math:`()` (or :math:`(1,)`), :math:`(N)` or :math:`(N, d_1, \dots, d_K)` with values in
    :math:`[0, C)` or ``ignore_index``; ``weight`` :math:`(C)`, the input's dtype. 'none' returns the
    target's shape (a 0-dim tensor for a 1-D input), 'mean' and 'sum' a 0-dim tensor.

    Args:
        input: log-probabilities, floating point, classes along dim 1 (dim 0 when 1-D).
        target: class indices, int64 or uint8 (uint8 only for 1-D and 2-D inputs, as in torch).
        weight: optional per-class weights (not differentiable).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        ignore_index: a target value that contributes neither loss nor weight.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction``; 0-dim input; batch sizes differ; a 1-D input with a 1-D
            target of size other than 1.
        RuntimeError: target of the wrong rank, spatial size or dtype; weight of the wrong size or
            dtype, or requiring grad.
        IndexError: a kept target outside :math:`[0, C)`.
        NotImplementedError: integer, bool or complex input.
        TypeError: a non-tensor input, target or weight; a non-integer ``ignore_index``.
    """
    reduction, ignore_index = readable._validate_nll_loss(
        input, target, weight, size_average, ignore_index, reduce, reduction
    )
    safe_target, keep = class_target_mask(target, ignore_index)
    return _NLLLossFunction.apply(input, target, weight, ignore_index, reduction, safe_target, keep)


def nll_loss_grad(
    grad_output: Tensor,
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    mask: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    r"""Hand-derived gradient of :func:`nll_loss` with respect to ``input`` (the only differentiable input).

    .. math::

        \frac{\partial L}{\partial x_{n,c}} = -\,s_n\, w_{y_n} k_n\, [c = y_n], \qquad
        s_n = \begin{cases} g_n & \text{'none'} \\ g & \text{'sum'} \\
        g \,/\, \sum_m w_{y_m} k_m & \text{'mean'} \end{cases}

    A single nonzero entry per position, at the target class; rows of ignored targets are 0 even when
    the 'mean' divides by a total weight of 0 (torch skips them). ``input`` only supplies the shape and
    dtype: the loss is linear in it. ``mask``, the forward's ``class_target_mask(target, ignore_index)``, is
    reused when given.
    """
    if mask is None:
        mask = class_target_mask(target, ignore_index)
    x, safe_target, keep = batched(input, *mask)
    per_position = -target_coefficients(grad_output, safe_target, keep, flat_weight(weight), reduction, x.dtype)
    grad = torch.zeros_like(x).scatter_(1, safe_target.unsqueeze(1), per_position.unsqueeze(1))
    return grad.reshape(input.shape)


class _NLLLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`nll_loss`. Backward: :func:`nll_loss_grad`."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index: int, reduction: str, safe_target: Tensor, keep: Tensor):
        # safe_target and keep: class_target_mask(target), computed (and range-checked) by nll_loss already
        ctx.save_for_backward(input, target, weight, safe_target, keep)
        ctx.ignore_index, ctx.reduction = ignore_index, reduction
        x, safe_target, keep = batched(input, safe_target, keep)
        picked = x.gather(1, safe_target.unsqueeze(1)).squeeze(1)  # x_{n, y_n} (class 0 at ignored positions)
        loss = reduce_class_losses(picked.neg(), safe_target, keep, flat_weight(weight), reduction)
        return loss.reshape(()) if input.dim() == 1 else loss

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target, weight, safe_target, keep = ctx.saved_tensors
        grad_input = nll_loss_grad(
            grad_output, input, target, weight, ctx.ignore_index, ctx.reduction, mask=(safe_target, keep)
        )
        return grad_input, None, None, None, None, None, None


# ----------------------------------------------------------------------------------------------------
# Shared with cross_entropy: argument checks, the ignore mask, the weighted reduction.


