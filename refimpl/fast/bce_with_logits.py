r"""``binary_cross_entropy_with_logits``, tuned: one ``logsigmoid`` buffer serves the sum and the backward.

The readable :mod:`refimpl.classification.bce_with_logits` writes
:math:`l = (1 - y)\,x + \operatorname{softplus}(-x)` as it reads: :math:`-x`, its softplus, :math:`1 - y`, the
product and the sum, five new tensors before the reduction; its backward writes :math:`\sigma(x)`, the difference
and the product, three more. Without ``weight`` and ``pos_weight``, on same-dtype float32/float64 tensors, here:

* :math:`\operatorname{softplus}(-x) = -\log\sigma(x)` is one ``logsigmoid`` (torch's stable kernel, the one its
  own loss uses); for 'mean' and 'sum', :math:`-l = \log\sigma(x) - (1 - y)\,x` is written over it by one
  ``addcmul_`` and summed ('none' returns :math:`(1 - y)\,x - \log\sigma(x)` in torch's steps);
* the backward :math:`(\sigma(x) - y)\,g` writes :math:`\sigma(x)` into that buffer (kept on ``ctx``, outside
  ``save_for_backward``, used once; see :mod:`refimpl.fast.huber`) and finishes in place, allocating nothing;
* the target's gradient :math:`-g x` is computed only when autograd asks for it.

The loss is summed elementwise, as torch sums it, not split into :math:`\sum_i x_i - y \cdot x - \sum_i
\log\sigma(x_i)`: for confident, correct predictions the three terms nearly cancel, and a large float32 dot
product is itself off by about :math:`10^{-5}` relative (MKL), so such a sum came out :math:`7 \cdot 10^{-5}` off
(4M logits, against :math:`5 \cdot 10^{-8}` for torch). :math:`1 - y` is formed first, as torch does, so that
:math:`x = +\infty, y = 0` gives :math:`+\infty` (:math:`x - y x` would give :math:`0 \cdot \infty` = NaN), and
:math:`-l` is not written as :math:`(\log\sigma(x) - x) + y x`, which loses :math:`\log\sigma(x)` at
:math:`y = 1, x \gg 0`.

Everything else (``weight``, ``pos_weight``, mixed, half or complex dtypes) is the readable Function, as is the
gradient when a graph is built for double backward. Validation is the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from refimpl import _reduction
from refimpl.classification import bce_with_logits as readable
from refimpl.fast._transforms import readable_under_transforms


@readable_under_transforms(
    readable.binary_cross_entropy_with_logits
)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """:func:`refimpl.classification.bce_with_logits.binary_cross_entropy_with_logits`, with the tuned Function
    below when there is no ``weight`` or ``pos_weight``."""
    reduction = readable._validate_binary_cross_entropy_with_logits(
        input, target, weight, pos_weight, size_average, reduce, reduction
    )
    tuned = (
        weight is None
        and pos_weight is None
        and input.dtype == target.dtype
        and input.dtype in (torch.float32, torch.float64)
        and input.layout == torch.strided
    )
    if tuned:  # the shapes are equal: validated
        return _BinaryCrossEntropyWithLogitsFunction.apply(input, target, reduction)
    return readable._BinaryCrossEntropyWithLogitsFunction.apply(input, target, weight, pos_weight, reduction)


class _BinaryCrossEntropyWithLogitsFunction(torch.autograd.Function):
    """Forward: :math:`(1 - y)\\,x - \\log\\sigma(x)` reduced, keeping :math:`\\log\\sigma(x)`'s buffer. Backward:
    :math:`(\\sigma(x) - y)\\,g` in that buffer."""

    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, reduction: str) -> Tensor:
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        log_sigmoid = F.logsigmoid(input)  # -softplus(-x), stable for every x: bitwise the log sigma(x) of torch's loss
        ctx.buffer = log_sigmoid  # the first backward overwrites it (see backward)
        # (1 - y) first, as torch: (1 - y) x is inf, not NaN, at x = inf, y = 0 (see the docstring)
        one_minus_target = torch.rsub(target, 1)
        if reduction == "none":  # (1 - y) x - log sigma(x), torch's steps
            return one_minus_target.mul_(input).sub_(log_sigmoid)
        # -l = log sigma(x) - (1 - y) x written over log sigma(x) in one pass (the backward needs only the buffer),
        # then summed elementwise (see the docstring); 0 - sum, not -sum: an empty sum is +0, as torch's
        total = 0 - log_sigmoid.addcmul_(one_minus_target, input, value=-1).sum()
        return total / input.numel() if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input, target = ctx.saved_tensors
        # The forward's buffer is a constant to autograd and is overwritten: use it once (a second backward with
        # retain_graph allocates another), and never when a graph is built for double backward.
        buffer, ctx.buffer = ctx.buffer, None
        if torch.is_grad_enabled():  # the readable gradient is differentiable
            grad_input, grad_target = readable.binary_cross_entropy_with_logits_grad(
                grad_output, input, target, reduction=ctx.reduction
            )
            return grad_input, grad_target, None
        g = _reduction.grad_scale(grad_output, ctx.reduction, input.numel())
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:  # (sigma(x) - y) g: three passes over one buffer
            grad_input = torch.sigmoid(input, out=buffer).sub_(target).mul_(g)
        if ctx.needs_input_grad[1]:  # -x g
            grad_target = torch.mul(input, g).neg_()
        return grad_input, grad_target, None
