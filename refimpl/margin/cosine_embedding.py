r"""Cosine embedding loss, as ``torch.nn.functional.cosine_embedding_loss`` computes it.

Chapter: ``book/margin/cosine_embedding.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._module import Loss

EPS = float(torch.tensor(1e-12, dtype=torch.float32))
"""torch's ``constexpr float EPSILON = 1e-12`` (aten/src/ATen/native/Loss.cpp), as the float it is:
9.999999960041972e-13, added to both squared norms."""


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Cosine embedding loss: pull similar pairs to cosine 1, push dissimilar pairs below ``margin``.

    With the inner product and the squared norms taken over the last dimension (the feature dimension
    :math:`D`) and :math:`E` = float32(1e-12) = 9.999999960041972e-13:

    .. math::

        \cos_n = \frac{\langle x_{1n}, x_{2n}\rangle}
                      {\sqrt{\bigl(\lVert x_{1n}\rVert^2 + E\bigr)\bigl(\lVert x_{2n}\rVert^2 + E\bigr)}},
        \qquad
        l_n = \begin{cases}
            1 - \cos_n & y_n = 1 \\
            \max(0, \cos_n - \text{margin}) & y_n = -1 \\
            0 & \text{any other } y_n \text{ (0, 2, NaN, ...)}
        \end{cases}

    reduced by 'none' (:math:`(l_n)_n`), 'mean' (:math:`\frac1N \sum_n l_n`: NaN for :math:`N = 0`) or
    'sum' (:math:`\sum_n l_n`). The :math:`E` makes a zero vector's cosine :math:`0/\sqrt{E(\lVert x\rVert^2
    + E)} = 0` instead of NaN (except in float16, where :math:`E` rounds to 0 and the zero vector gives NaN, as
    in torch). This is not ``F.cosine_similarity`` (which clamps each norm at 1e-8): the two differ in the last
    bits.

    Gradient, with :math:`a = \lVert x_1\rVert^2 + E`, :math:`b = \lVert x_2\rVert^2 + E`, :math:`d = \sqrt{ab}`
    and :math:`s_n = \partial l_n / \partial \cos_n` (:math:`-1` for :math:`y = 1`; :math:`1` for
    :math:`y = -1` and :math:`\cos \ge \text{margin}`, the kink counted active as ``clamp_min`` does; else 0):

    .. math::

        \frac{\partial l_n}{\partial x_{1n}} = s_n\Bigl(\frac{x_{2n}}{d_n} - \frac{\cos_n}{a_n} x_{1n}\Bigr),
        \qquad
        \frac{\partial l_n}{\partial x_{2n}} = s_n\Bigl(\frac{x_{1n}}{d_n} - \frac{\cos_n}{b_n} x_{2n}\Bigr),

    times the reduction's factor. The target only selects a branch: it gets no gradient.

    Shapes: ``input1`` and ``input2`` :math:`(N, D)` with ``target`` :math:`(N)`, or :math:`(D)` with a 0-dim
    ``target`` (one pair). ``input2`` broadcasts against ``input1`` (and the other way round) and ``target``
    against the :math:`N` cosines, silently. Output :math:`()` for 'mean' and 'sum', else the broadcast of
    ``target`` and the cosines. The loss has the promoted dtype of the inputs; integer and bool inputs give
    float32.

    Args:
        input1, input2: the embeddings :math:`x_1, x_2`.
        target: :math:`y`, meant to be :math:`\pm 1` (1: similar, -1: dissimilar); any other value gives 0.
        margin: the cosine :math:`\text{margin}` below which a dissimilar pair costs nothing (default 0).
        size_average, reduce: deprecated; when given they override ``reduction`` (with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Raises:
        ValueError: invalid ``reduction`` (checked first, as in torch).
        TypeError: an input or ``target`` not a tensor; ``margin`` not a number.
        RuntimeError: a ``target`` of 2 or more dimensions; a 1-D ``target`` without 2-D inputs or a 0-dim one
            without 1-D inputs (3-D inputs always fail); inputs, or ``target`` and the cosines, that do not
            broadcast.
        NotImplementedError: complex inputs.
    """
    reduction, margin = _validate_cosine_embedding_loss(input1, input2, target, margin, size_average, reduce, reduction)
    # the target only selects a branch: detached, it never gets a gradient (as in torch)
    return _CosineEmbeddingLossFunction.apply(input1, input2, target.detach(), margin, reduction)


def _validate_cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float,
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
) -> tuple[str, float]:
    """torch's checks in torch's order, with its exception types; returns the reduction and the margin."""
    fn = "cosine_embedding_loss"
    reduction = _reduction.resolve(fn, reduction, size_average, reduce)
    for position, (name, value) in enumerate((("input1", input1), ("input2", input2), ("target", target)), 1):
        _checks.check_tensor_argument(fn, name, value, position)
    _checks.check_same_device(fn, input1=input1, input2=input2, target=target)
    margin = float(margin) if isinstance(margin, bool) else _checks.check_number(fn, "margin", margin, position=4)
    # torch's rank rules (a 1-D target wants 2-D inputs, a 0-dim one 1-D inputs), then the broadcasts
    if target.dim() > 1:
        raise RuntimeError(
            f"{fn}(): 0D or 1D target tensor expected, multi-target not supported (argument target has shape "
            f"{tuple(target.shape)})"
        )
    want = target.dim() + 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(
            f"{fn}(): {target.dim()}D target tensor expects {want}D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}. (arguments input1 and input2 must be {want}-D "
            f"for a target of shape {tuple(target.shape)})"
        )
    pair = _checks.broadcast_shapes(fn, "input1", input1, "input2", input2)
    cosines = torch.empty(pair[:-1], device="meta")  # one cosine per row: the shape target must broadcast to
    _checks.broadcast_shapes(fn, "target", target, "the cosines of input1 and input2", cosines)
    if torch.result_type(input1, input2).is_complex:
        raise NotImplementedError(
            f"{fn}(): clamp is not supported for complex types (input1 has dtype {input1.dtype}, input2 has dtype "
            f"{input2.dtype}; expected real embeddings)"
        )
    return reduction, margin


def cosine_parts(input1: Tensor, input2: Tensor, dim: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""``(cos, a, b, d)`` over dimension ``dim``, by torch's operations in torch's order (so float16 rounds as
    torch does): :math:`a = \lVert x_1\rVert^2 + E`, :math:`b = \lVert x_2\rVert^2 + E`, :math:`d = \sqrt{ab}`,
    :math:`\cos = \langle x_1, x_2\rangle / d`."""
    a = (input1 * input1).sum(dim) + EPS
    b = (input2 * input2).sum(dim) + EPS
    d = (a * b).sqrt()
    return (input1 * input2).sum(dim) / d, a, b, d


def cosine_embedding_loss_grad(
    grad_output: Tensor,
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    reduction: str = "mean",
) -> tuple[Tensor, Tensor]:
    r"""Hand-derived gradient of :func:`cosine_embedding_loss` with respect to ``input1`` and ``input2``.

    From :math:`\cos = p/\sqrt{ab}` with :math:`p = \langle x_1, x_2\rangle`, :math:`\partial p/\partial x_1 =
    x_2` and :math:`\partial a/\partial x_1 = 2x_1`:

    .. math::

        \frac{\partial \cos}{\partial x_1} = \frac{x_2}{\sqrt{ab}} - \frac{p\,b}{(ab)^{3/2}}\,x_1
            = \frac{x_2}{d} - \frac{\cos}{a}\,x_1 ,

    and symmetrically for :math:`x_2`. The chain rule multiplies by :math:`s = \partial l/\partial\cos` (-1 for
    :math:`y = 1`; 1 for :math:`y = -1` on the active hinge, including :math:`\cos = \text{margin}`; else 0) and
    the upstream gradient; a broadcast input sums its rows. Returns ``(grad_input1, grad_input2)`` in the inputs'
    shapes and dtypes.
    """
    cos, a, b, d = cosine_parts(input1, input2, target.dim())
    # s = dl/dcos: -1 for y = 1, +1 for y = -1 where cos - margin >= 0 (clamp_min counts the kink active), else 0
    slope = ((target == -1) & (cos - margin >= 0)).to(cos.dtype) - (target == 1).to(cos.dtype)
    # a target of shape (N,) against one pair of rows (1, D) makes N losses of one cosine: summed back here
    g = (slope * _reduction.grad_scale(grad_output, reduction, slope.numel())).sum_to_size(cos.shape)
    # The chain rule through cos = p / d, d = sqrt(a b), one factor per line in the order of torch's backward, each
    # in the dtype of the tensor it differentiates, so that low precisions round as torch's (x2 / d - cos x1 / a
    # cancels for parallel vectors, and the rounding is then all that is left)
    grad_p = (g / d).to(torch.result_type(input1, input2))  # d cos / d p = 1 / d
    grad_d = (-g * (cos / d)).to(d.dtype)  # d cos / d d = -p / d^2 = -cos / d
    grad_ab = grad_d / (2 * d)  # d sqrt(u) / du = 1 / (2 sqrt(u)) at u = a b
    grad_a = (grad_ab * b).sum_to_size(a.shape).to(a.dtype)  # = -g cos / (2 a), since d^2 = a b
    grad_b = (grad_ab * a).sum_to_size(b.shape).to(b.dtype)
    # dp/dx1 = x2 and da/dx1 = 2 x1: g (x2 / d - cos x1 / a). 2 (grad_a x1) is torch's grad_a x1 + grad_a x1, bit
    # for bit (doubling is exact); (2 grad_a) x1 would round differently where grad_a x1 is subnormal
    pair = torch.broadcast_shapes(input1.shape, input2.shape)
    grad1 = _pull(grad_p, input2, pair, input1) + 2 * (grad_a.unsqueeze(-1) * input1).to(input1.dtype)
    grad2 = _pull(grad_p, input1, pair, input2) + 2 * (grad_b.unsqueeze(-1) * input2).to(input2.dtype)
    return grad1, grad2


def _pull(grad_p: Tensor, other: Tensor, pair: torch.Size, input: Tensor) -> Tensor:
    r"""The inner product's share of ``input``'s gradient, :math:`(\partial L/\partial p)\, x_{\text{other}}`,
    summed over the rows or columns along which ``input`` was broadcast, in ``input``'s dtype."""
    return (grad_p.unsqueeze(-1) * other).expand(pair).sum_to_size(input.shape).to(input.dtype)


class _CosineEmbeddingLossFunction(torch.autograd.Function):
    """Forward: the formula of :func:`cosine_embedding_loss`. Backward: :func:`cosine_embedding_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(input1: Tensor, input2: Tensor, target: Tensor, margin: float, reduction: str) -> Tensor:
        cos = cosine_parts(input1, input2, target.dim())[0]
        # one where instead of torch's where(y == 1, ...) + where(y == -1, ...): one of the two terms is 0
        loss = torch.where(target == 1, 1 - cos, torch.where(target == -1, (cos - margin).clamp_min(0), 0))
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        input1, input2, target, margin, reduction = inputs
        ctx.save_for_backward(input1, input2, target)
        ctx.margin, ctx.reduction = margin, reduction

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input1, input2, target = ctx.saved_tensors
        grad1, grad2 = cosine_embedding_loss_grad(grad_output, input1, input2, target, ctx.margin, ctx.reduction)
        return grad1, grad2, None, None, None


class CosineEmbeddingLoss(Loss):
    """Drop-in for ``torch.nn.CosineEmbeddingLoss``: ``CosineEmbeddingLoss(margin=0.0, size_average=None,
    reduce=None, reduction='mean')``."""

    def __init__(
        self,
        margin: float = 0.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)
