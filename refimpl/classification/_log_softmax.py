r"""Softmax and log-softmax derived from the log-sum-exp, for the losses that need them.

For logits :math:`z` along a class dimension,

.. math::

    \operatorname{lse}(z) = \log\sum_c e^{z_c} = m + \log\sum_c e^{z_c - m}, \qquad m = \max_c z_c,

    \log p_c = z_c - \operatorname{lse}(z) = (z_c - m) - \log\sum_{c'} e^{z_{c'} - m}, \qquad
    p_c = \frac{e^{z_c - m}}{\sum_{c'} e^{z_{c'} - m}}.

Shifting by the maximum is the stable form: every exponent is :math:`\le 0`, so nothing overflows, and the
largest term is exactly :math:`e^0 = 1`, so the sum lies in :math:`[1, C]`, never underflows to 0, and its
logarithm is finite. The shift cancels mathematically, so it carries no gradient (it is detached). Written out
like this, the value also follows torch's ``log_softmax`` where the logits are not finite: a row containing
:math:`+\infty`, a row of :math:`-\infty` or a NaN gives NaN everywhere, a :math:`-\infty` next to finite
logits gives :math:`\log p = -\infty` and :math:`p = 0`.

Half-precision logits (float16, bfloat16) are processed in float32 and the caller rounds the results once, as
torch's CPU kernels accumulate in float32: see :func:`accumulate_dtype`.

Chapter: ``book/classification/cross_entropy.ipynb``.
"""

import math

import torch
from torch import Tensor

# log2(e). Not used here: kept because refimpl/large_output/linear_cross_entropy.py still imports it.
LOG2_E = math.log2(math.e)


def accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for float16 and bfloat16 (torch's CPU softmax kernels accumulate in float32); else ``dtype``."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def row_max(logits: Tensor, dim: int) -> Tensor:
    """The maximum along ``dim`` (kept, detached): the shift of the stable form. Zero when there are no
    classes, where ``amax`` would raise and torch's log-softmax returns an empty result."""
    if logits.shape[dim] == 0:
        return logits.new_zeros(logits.shape[:dim] + (1,) + logits.shape[dim + 1 :])
    return logits.detach().amax(dim, keepdim=True)  # the shift cancels in p and log p: no gradient through it


def log_softmax(logits: Tensor, dim: int) -> Tensor:
    r""":math:`\log p = (z - m) - \log\sum e^{z - m}` along ``dim`` (differentiable)."""
    shifted = logits - row_max(logits, dim)  # z - m <= 0: exp cannot overflow
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def softmax(logits: Tensor, dim: int) -> Tensor:
    r""":math:`p = e^{z - m} / \sum e^{z - m}` along ``dim`` (differentiable)."""
    exp = (logits - row_max(logits, dim)).exp()
    return exp / exp.sum(dim, keepdim=True)
