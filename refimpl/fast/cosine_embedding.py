r"""``cosine_embedding_loss``, tuned: the row products are written only block by block into one small buffer that
stays in the cache, and the backward reuses the forward's row statistics.

The readable :mod:`refimpl.margin.cosine_embedding` computes :math:`\langle x_1, x_2\rangle`,
:math:`\lVert x_1\rVert^2` and :math:`\lVert x_2\rVert^2` as torch does, ``(x1 * x2).sum(-1)`` and so on: three
:math:`(N, D)` products written to memory only to be summed, all three computed again in the backward, which then
writes four more :math:`(N, D)` tensors for each input's gradient. Here the products of a block of rows (about
512K elements) go to one reused buffer and are summed from the cache, in the same order as torch's sums (so the
cosine, and the kink :math:`\cos = \text{margin}`, are torch's bit for bit); the backward keeps the cosine,
:math:`a`, :math:`b` and :math:`d` of the forward, and builds each requested gradient
:math:`\partial L/\partial x_1 = g_p\,x_2 + 2 g_a\,x_1` block by block in its output, by one product and one
``addcmul_`` (the readable gradient rounds as torch's four :math:`(N, D)` operations; this one is a few ulp from
it). Broadcasts, 1-D pairs, mixed dtypes and half precision go to the readable Function; validation and the
double-backward gradient are the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _reduction
from refimpl.fast._transforms import readable_under_transforms
from refimpl.margin import cosine_embedding as readable

BLOCK = 1 << 19
"""Elements per block of rows: 2 MiB in float32, a buffer that stays in the cache (measured at 4096 x 1024: smaller
blocks pay for more, shorter operations, each a wait for every thread; larger ones spill out of the cache)."""


@readable_under_transforms(readable.cosine_embedding_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.margin.cosine_embedding.cosine_embedding_loss`, with the tuned Function below for two
    :math:`(N, D)` inputs of one dtype, float32 or float64, and a target of shape :math:`(N)`."""
    reduction, margin = readable._validate_cosine_embedding_loss(
        input1, input2, target, margin, size_average, reduce, reduction
    )
    if (
        input1.dim() == 2
        and input1.shape == input2.shape
        and target.shape == input1.shape[:1]
        and input1.dtype == input2.dtype
        and input1.dtype in (torch.float32, torch.float64)
    ):
        return _CosineEmbeddingLossFunction.apply(input1, input2, target.detach(), margin, reduction)
    return readable._CosineEmbeddingLossFunction.apply(input1, input2, target.detach(), margin, reduction)


class _CosineEmbeddingLossFunction(torch.autograd.Function):
    """Forward: the loss from the row sums of :func:`row_sums`. Backward: the gradients from the same sums."""

    @staticmethod
    def forward(ctx, input1: Tensor, input2: Tensor, target: Tensor, margin: float, reduction: str) -> Tensor:
        p, a, b = row_sums(input1, input2)
        a += readable.EPS  # as torch: |x1|^2 + E, |x2|^2 + E, d = sqrt(a b), cos = p / d
        b += readable.EPS
        d = (a * b).sqrt()
        cos = p / d
        ctx.save_for_backward(input1, input2, target, cos, a, b, d)
        ctx.margin, ctx.reduction = margin, reduction
        loss = torch.where(target == 1, 1 - cos, torch.where(target == -1, (cos - margin).clamp_min(0), 0))
        return _reduction.reduce_loss(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        input1, input2, target, cos, a, b, d = ctx.saved_tensors
        need1, need2 = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled():  # a graph for double backward: the readable, differentiable gradient
            grad1, grad2 = readable.cosine_embedding_loss_grad(
                grad_output, input1, input2, target, ctx.margin, ctx.reduction
            )
            return grad1 if need1 else None, grad2 if need2 else None, None, None, None
        # the (N) factors of readable.cosine_embedding_loss_grad, in its order and roundings
        slope = ((target == -1) & (cos - ctx.margin >= 0)).to(cos.dtype) - (target == 1).to(cos.dtype)
        g = slope * _reduction.grad_scale(grad_output, ctx.reduction, slope.numel())
        grad_p = g / d  # d cos / d p = 1 / d
        grad_ab = -g * (cos / d) / (2 * d)  # d cos / d(ab), with d = sqrt(ab)
        grad1 = combine(grad_p, input2, grad_ab * b, input1) if need1 else None  # g_p x2 + 2 g_a x1
        grad2 = combine(grad_p, input1, grad_ab * a, input2) if need2 else None  # g_p x1 + 2 g_b x2
        return grad1, grad2, None, None, None


def row_blocks(input: Tensor) -> list[slice]:
    """Slices of about :data:`BLOCK` elements along the rows of the :math:`(N, D)` ``input``."""
    n, features = input.shape
    rows = max(1, BLOCK // max(1, features))
    return [slice(start, start + rows) for start in range(0, n, rows)]


def row_sums(input1: Tensor, input2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""``(x1 * x2).sum(1)``, ``(x1 * x1).sum(1)``, ``(x2 * x2).sum(1)``, each product written a block of rows at a
    time into one reused buffer and summed while it is in the cache (a row's sum is the same sum whatever the
    block: the values are torch's)."""
    p, a, b = (input1.new_empty(input1.shape[0]) for _ in range(3))
    blocks = row_blocks(input1)
    buffer = input1.new_empty(input1[blocks[0]].shape) if blocks else None  # one block's products, reused
    for rows in blocks:
        x1, x2 = input1[rows], input2[rows]
        product = buffer[: x1.shape[0]]
        torch.sum(torch.mul(x1, x2, out=product), 1, out=p[rows])
        torch.sum(torch.mul(x1, x1, out=product), 1, out=a[rows])
        torch.sum(torch.mul(x2, x2, out=product), 1, out=b[rows])
    return p, a, b


def combine(grad_p: Tensor, other: Tensor, grad_a: Tensor, input: Tensor) -> Tensor:
    r"""The gradient :math:`g_p\,x_{\text{other}} + 2 g_a\,x` of one input, per row factors :math:`g_p` and
    :math:`g_a` of shape :math:`(N)`, written into the new gradient a block of rows at a time by a product and an
    ``addcmul_`` (one rounding fewer than torch's separate products and sums: a few ulp apart, at most)."""
    grad = torch.empty_like(input, memory_format=torch.contiguous_format)
    grad_p, twice_a = grad_p.unsqueeze(1), (2 * grad_a).unsqueeze(1)
    for rows in row_blocks(input):
        torch.mul(twice_a[rows], input[rows], out=grad[rows]).addcmul_(grad_p[rows], other[rows])
    return grad
