r"""The distances the triplet losses are built on, derived here instead of calling torch's helpers.

``pairwise_distance(x1, x2, p, eps)`` is torch's :math:`d(x_1, x_2) = \lVert x_1 - x_2 + \varepsilon\rVert_p`
over the last dimension, with :math:`\varepsilon` added to *every component* of the difference (so
:math:`d(a, a) = \varepsilon D^{1/p}` and :math:`d(a, b) \ne d(b, a)`). The subtraction is left to autograd
(its chain rule is trivial); the p-norm has a hand-derived gradient, :func:`p_norm_grad`.

``cosine_distance(x1, x2, eps)`` is :math:`1 - \cos(x_1, x_2)` with each norm clamped below at ``eps``,
as ``torch.nn.functional.cosine_similarity`` computes it; the book uses it as a user ``distance_function``
(so it is differentiated by autograd, like any user callable).

Chapters: ``book/metric/triplet_margin.ipynb``, ``book/metric/triplet_margin_with_distance.ipynb``.
"""

import math

import torch
from torch import Tensor, nn


def p_norm(diff: Tensor, p: float) -> Tensor:
    r""":math:`\lVert u \rVert_p = (\sum_k |u_k|^p)^{1/p}` over the last dimension (``max |u_k|`` for
    :math:`p = \infty`, the count of non-zero components for :math:`p = 0`), accumulated as torch's
    ``vector_norm`` does (in float32 for half precision inputs)."""
    return torch.linalg.vector_norm(diff, ord=p, dim=-1)


def p_norm_grad(grad_output: Tensor, diff: Tensor, norm: Tensor, p: float) -> Tensor:
    r"""Hand-derived gradient of :math:`n = \lVert u \rVert_p` (last dimension) with respect to :math:`u`.

    .. math::

        \frac{\partial n}{\partial u_k} = \frac{\operatorname{sign}(u_k)\,|u_k|^{p-1}}{n^{p-1}}
        = \frac{u_k |u_k|^{p-2}}{n^{p-1}},

    which is :math:`\operatorname{sign}(u_k)` for :math:`p = 1`, :math:`u_k / n` for :math:`p = 2`, and for
    :math:`p = \infty` the sign of the components of largest modulus, the gradient shared equally among
    ties. torch's conventions at the singular points are kept (its ``norm_backward``): 0 where :math:`n = 0`
    (for :math:`p \ge 1`), 0 for components :math:`u_k = 0` when :math:`p < 1`, and 0 everywhere for
    :math:`p = 0` (a piecewise constant count).
    """
    g = grad_output.unsqueeze(-1)
    n = norm.unsqueeze(-1)
    if p == 0:
        return torch.zeros_like(diff)
    if p == 1:
        return diff.sgn() * g
    if p == 2:
        return torch.where(n == 0, 0, diff / n) * g  # 0/0 at u = 0: torch takes 0
    if math.isinf(p):
        winners = (diff.abs() == n) | diff.isnan()  # the argmax components (NaN counts as the max)
        return diff.sgn() * (g / winners.sum(-1, keepdim=True)) * winners
    if p < 1:
        # |u|^(p-1) is infinite at u = 0: torch sets those components to 0
        scaled = torch.where(diff == 0, 0, diff.sgn() * diff.abs().pow(p - 1))
        return scaled * g * n.pow(1 - p)
    scaled = diff.sgn() * diff.abs().pow(p - 1) if p < 2 else diff * diff.abs().pow(p - 2)
    return scaled * torch.where(n == 0, 0, g / n.pow(p - 1))  # 0 where the norm is 0, as in torch


class _PNormFunction(torch.autograd.Function):
    """Forward: :func:`p_norm`. Backward: :func:`p_norm_grad`. The norm is saved as an output, so double
    backward differentiates through it again (this same Function)."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(diff: Tensor, p: float) -> Tensor:
        return p_norm(diff, p)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        diff, p = inputs
        ctx.save_for_backward(diff, output)
        ctx.p = p

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        diff, norm = ctx.saved_tensors
        return p_norm_grad(grad_output, diff, norm, ctx.p), None


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6) -> Tensor:
    r""":math:`\lVert x_1 - x_2 + \varepsilon \rVert_p` over the last dimension of the broadcast inputs.

    ``eps`` is added to every component of the difference, exactly as torch's ``pairwise_distance``.
    Integer inputs become float32 (``+ eps`` promotes them), as in torch.
    """
    return _PNormFunction.apply(x1 - x2 + float(eps), p)


def cosine_distance(x1: Tensor, x2: Tensor, eps: float = 1e-8) -> Tensor:
    r"""One minus the cosine similarity over the last dimension:

    .. math::

        1 - \frac{\langle x_1, x_2\rangle}{\max(\lVert x_1\rVert, \varepsilon)\,\max(\lVert x_2\rVert, \varepsilon)},

    torch's ``cosine_similarity`` subtracted from 1. A zero vector has cosine 0 with
    everything, so its distance is 1 to every point. Plain tensor math: autograd differentiates it."""
    n1 = torch.linalg.vector_norm(x1, dim=-1, keepdim=True).clamp_min(eps)
    n2 = torch.linalg.vector_norm(x2, dim=-1, keepdim=True).clamp_min(eps)
    return 1 - ((x1 / n1) * (x2 / n2)).sum(-1)


class PairwiseDistance(nn.Module):
    """Drop-in for ``torch.nn.PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)`` without ``keepdim`` support
    beyond False; the default ``distance_function`` of :class:`TripletMarginWithDistanceLoss`."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        distance = pairwise_distance(x1, x2, self.norm, self.eps)
        return distance.unsqueeze(-1) if self.keepdim else distance
