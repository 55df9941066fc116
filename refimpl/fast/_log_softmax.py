r"""Softmax and log-softmax derived from the log-sum-exp, for the losses that need them.

For logits :math:`z` along a class dimension,

.. math::

    \operatorname{lse}(z) = \log\sum_c e^{z_c} = m + \log\sum_c e^{z_c - m}, \qquad m = \max_c z_c,

    \log p_c = z_c - \operatorname{lse}(z) = (z_c - m) - \log s, \qquad
    p_c = e^{z_c - m} / s, \qquad s = \sum_c e^{z_c - m}.

Shifting by the maximum is the stable form: every exponent is :math:`\le 0`, so nothing overflows, and the
largest term is exactly :math:`e^0 = 1`, so :math:`s \in [1, C]` never underflows to 0 and :math:`\log s`
is finite. The shift cancels mathematically, so it carries no gradient (it is detached). Written out like
this, the value also follows torch's ``log_softmax`` where the logits are not finite: a row containing
:math:`+\infty`, a row of :math:`-\infty` or a NaN gives NaN everywhere, a :math:`-\infty` next to finite
logits gives :math:`\log p = -\infty` and :math:`p = 0`.

The exponential is computed as :math:`e^t = 2^{t \log_2 e}`: torch's CPU ``exp2`` is about three times
faster than its ``exp``, and the one extra rounding (of :math:`t \log_2 e`) keeps the softmax within a few
units in the last place, the accuracy of torch's own softmax kernel (the chapter measures both).

Half-precision logits (float16, bfloat16) are processed in float32 and the caller rounds the results, as
torch's CPU kernels accumulate in float32: see :func:`accumulate_dtype`.

Chapter: ``book/classification/cross_entropy.ipynb``.
"""

import math

import torch
from torch import Tensor

from refimpl.classification._log_softmax import row_max  # the same code in the readable module

LOG2_E = math.log2(math.e)  # e^t = 2^(t log2 e)


def fast_exp_(t: Tensor) -> Tensor:
    r""":math:`e^t` in place, as :math:`2^{t \log_2 e}`, on a fresh tensor that nothing else holds."""
    return t.mul_(LOG2_E).exp2_()


def fast_exp(t: Tensor) -> Tensor:
    r""":math:`e^t` as :math:`2^{t \log_2 e}`, in a new tensor (differentiable: the in-place ``exp2_`` acts on
    the product, which ``mul`` does not save)."""
    return torch.mul(t, LOG2_E).exp2_()


def log_softmax(logits: Tensor, dim: int) -> Tensor:
    r""":math:`\log p = (z - m) - \log s` along ``dim`` (differentiable)."""
    shifted = logits - row_max(logits, dim)
    return shifted - fast_exp(shifted).sum(dim, keepdim=True).log()


def softmax(logits: Tensor, dim: int) -> Tensor:
    r""":math:`p = e^{z - m} / s` along ``dim`` (differentiable)."""
    e = fast_exp(logits - row_max(logits, dim))
    return e / e.sum(dim, keepdim=True)
