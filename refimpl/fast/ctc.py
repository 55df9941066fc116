r"""``ctc_loss``, tuned: fewer operations per frame of the recursion.

The readable :mod:`refimpl.sequence.ctc` runs alpha forward and beta backward as two loops over the frames, each
step a few whole-tensor operations collected in a list. At realistic sizes the arithmetic per frame is tiny and
the time is the number of operations dispatched. Here alpha and beta run in one loop over 2N rows (beta's rows
time- and position-reversed, so one update serves both), the extended labels are padded with -inf so that "two
positions back" is a slice without a mask, every frame writes into one preallocated buffer, and the backward
reuses the forward's alpha and beta. Validation and the extended labels are the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl._autograd import derivative_not_implemented
from refimpl.fast._transforms import readable_under_transforms
from refimpl.sequence import ctc as readable

_NEG_INF = float("-inf")


@readable_under_transforms(readable.ctc_loss)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | tuple[int, ...] | list[int],
    target_lengths: Tensor | tuple[int, ...] | list[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """:func:`refimpl.sequence.ctc.ctc_loss`, with alpha and beta in one recursion over a flat buffer."""
    reduction = readable._validate_ctc_loss(
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity
    )
    lp, ext, il, tl = readable.batched(log_probs, targets, input_lengths, target_lengths, blank)
    loss = _CTCLossFunction.apply(lp, ext, il, tl, reduction, zero_infinity)
    return loss if log_probs.dim() == 3 or reduction != "none" else loss.squeeze(0)


def ctc_alpha(lp_ext: Tensor, ext: Tensor) -> Tensor:
    r"""The forward variables :math:`\alpha_t(s)` (T, N, 2S+1) from :math:`\ell_t(z'_s)` (T, N, 2S+1).

    :math:`\alpha_0(0) = \ell_0(\varnothing)`, :math:`\alpha_0(1) = \ell_0(z_1)`, then one step of
    :func:`log_space_recursion` per frame.
    """
    first = lp_ext.new_full(lp_ext.shape[1:], _NEG_INF)
    first[:, :2] = lp_ext[0, :, :2]
    return log_space_recursion(first, lp_ext, jump_penalties(ext, lp_ext.dtype)[0])


def ctc_alpha_beta(lp_ext: Tensor, ext: Tensor, il: Tensor, tl: Tensor) -> tuple[Tensor, Tensor]:
    r"""The forward variables :math:`\alpha_t(s)` and the backward variables :math:`\beta_t(s)`, both (T, N, 2S+1),
    in one loop over the frames.

    :math:`\beta` runs backwards in time and looks right (:math:`s+1`, :math:`s+2`) where :math:`\alpha` looks
    left. Stored with its time and positions reversed, its recursion has exactly :math:`\alpha`'s shape, so the
    N rows of :math:`\beta` join the N rows of :math:`\alpha` in one :func:`log_space_recursion` of 2N rows:
    half the kernels of two separate loops. :math:`\beta` starts at :math:`t = T_b - 1` for each sample with
    :math:`\beta(2S_b) = \ell(\varnothing)`, :math:`\beta(2S_b - 1) = \ell(z_{S_b})`, and is :math:`-\infty`
    for :math:`t \ge T_b`.
    """
    T, N, L = lp_ext.shape
    frames = torch.cat((lp_ext, lp_ext.flip(0, 2)), 1)  # step k: l_k for alpha, l_{T-1-k} (reversed) for beta
    # beta's start, positions reversed: 0 at r = L-1-2S_b and r = L-2S_b (s = 2S_b and s = 2S_b - 1)
    gap = torch.arange(L, device=ext.device) - (L - 1 - 2 * tl[:, None])
    end = lp_ext.new_full((N, L), _NEG_INF).masked_fill_((gap == 0) | (gap == 1), 0.0)
    first = lp_ext.new_full((2 * N, L), _NEG_INF)
    first[:N, :2] = lp_ext[0, :, :2]  # alpha_0(0) = l_0(blank), alpha_0(1) = l_0(z_1)
    first[N:] = torch.where((il == T)[:, None], end, _NEG_INF) + frames[0, N:]
    # beta starts at t = T_b - 1, which is step k = T - T_b: there its rows restart from the end positions
    is_alpha = torch.zeros(N, 1, dtype=torch.bool, device=ext.device)
    restarts = {
        T - length: (torch.cat((is_alpha, (il == length)[:, None])), torch.cat((end, end)))
        for length in set(il.tolist())
        if 0 < length < T
    }
    both = log_space_recursion(first, frames, jump_penalties(ext, lp_ext.dtype).flatten(0, 1), restarts)
    return both[:, :N], both[:, N:].flip(0, 2)


def jump_penalties(ext: Tensor, dtype: torch.dtype) -> Tensor:
    r"""Which positions may skip one ahead, as 0 (yes) or :math:`-\infty` (no): (2, N, 2S+1).

    Row 0 for :math:`\alpha`: position :math:`u` may jump to :math:`u+2` when :math:`z'_{u+2} \ne z'_u` (never
    from a blank, whose :math:`u+2` is a blank too, and not between repeated labels). Row 1 for :math:`\beta`,
    positions reversed: its jumps run :math:`s+2 \to s` under the same test, read from the other end.
    """
    N, L = ext.shape
    differs = ext[:, 2:] != ext[:, :-2]  # z'_{u+2} != z'_u, for u < L - 2
    penalty = torch.full((2, N, L), _NEG_INF, dtype=dtype, device=ext.device)
    penalty[0, :, :-2].masked_fill_(differs, 0.0)
    penalty[1, :, :-2].masked_fill_(differs.flip(1), 0.0)
    return penalty


def log_space_recursion(
    first: Tensor, frames: Tensor, jump: Tensor, restarts: dict[int, tuple[Tensor, Tensor]] | None = None
) -> Tensor:
    r"""Run :math:`a_k(s) = \log\big(e^{a_{k-1}(s)} + e^{a_{k-1}(s-1)} + e^{a_{k-1}(s-2) + j(s-2)}\big) + f_k(s)`
    from :math:`a_0` = ``first`` (R, L) over the frames :math:`f` (K, R, L), on R independent rows at once;
    ``jump`` :math:`j` (R, L) is 0 where position :math:`u` may jump to :math:`u+2` and :math:`-\infty` elsewhere
    (cells outside the row count as :math:`-\infty`). At a step ``k`` in ``restarts``, the rows selected by its
    (R, 1) mask restart: :math:`a_k` = value + :math:`f_k`. Returns :math:`a` (K, R, L).

    The loop is the cost (a few small kernels per frame), so its layout is chosen for speed: each frame is one
    flat row-major buffer in which every row has two cells of :math:`-\infty` on its left, so that
    :math:`a(s-1)` and :math:`a(s-2)` are *contiguous* shifted views of it (elementwise kernels run several
    times faster on those than on 2-D strided views). Next to it lives a second copy holding
    :math:`a(u) + j(u)`, the value cell :math:`u` passes on by a jump. Both copies start as the frames
    (:math:`f_k` and :math:`f_k + j`) and one in-place addition per step completes them: a step is two
    log-add-exps and one add.
    """
    K, R, L = frames.shape
    buf = frames.new_empty((K, 2, R, L + 2))  # per frame: a, then its jump copy
    buf[..., :2] = _NEG_INF  # the margins
    cells = buf[..., 2:]
    cells[:, 0] = frames  # each step adds its log-add-exps onto the frame already in place
    torch.add(frames, jump, out=cells[:, 1])
    cells[0, 0] = first
    torch.add(first, jump, out=cells[0, 1])
    flat = buf.view(K, 2, R * (L + 2))
    scratch = frames.new_empty(2, R * (L + 2))  # cell j of a frame is index j - 2 of a scratch row
    pair, step = scratch[0, :-2], scratch[1, :-2]
    step_cells = scratch[1].view(R, L + 2)[:, :L]
    # every view the loop reads or writes, made once (making a view costs as much as a small kernel)
    same, one_back, jumped = flat[:, 0, 2:].unbind(0), flat[:, 0, 1:-1].unbind(0), flat[:, 1, :-2].unbind(0)
    outs = cells.unbind(0)
    for k in range(1, K):
        torch.logaddexp(same[k - 1], one_back[k - 1], out=pair)  # a(s), a(s-1)
        torch.logaddexp(pair, jumped[k - 1], out=step)  # ... and a(s-2) + j(s-2)
        if restarts and k in restarts:
            rows, value = restarts[k]
            outs[k].add_(torch.where(rows, value, step_cells))
        else:
            outs[k].add_(step_cells)
    return buf[:, 0, :, 2:]


def ctc_nll(log_alpha: Tensor, il: Tensor, tl: Tensor) -> Tensor:
    r"""Per-sample :math:`l_b = -\operatorname{logsumexp}(\alpha_{T_b-1}(2S_b), \alpha_{T_b-1}(2S_b-1))`;
    :math:`\infty` when :math:`T_b = 0 < S_b`; 0 when :math:`T_b = S_b = 0` (the empty path)."""
    N = log_alpha.shape[1]
    frame = (il - 1).clamp_min(0).expand(2, N)
    position = torch.stack((2 * tl, (2 * tl - 1).clamp_min(0)))  # the final blank and the last label
    ends = log_alpha[frame, torch.arange(N, device=il.device).expand(2, N), position]  # (2, N)
    ends[1].masked_fill_(tl == 0, _NEG_INF)  # with no labels, only the final blank ends a path
    nll = torch.logaddexp(ends[0], ends[1]).neg_().masked_fill_(il == 0, float("inf"))
    return nll.masked_fill_((il == 0) & (tl == 0), -0.0)  # no frames and no labels: the empty path, probability 1


def _grad_from_alpha_beta(grad_output, lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll, reduction, zero_infinity):
    T, N, C = lp.shape
    # occupation probabilities per position, gathered onto the classes: the true -d l_b / d l_t(c)
    occupation = (log_alpha + log_beta).add_(nll[None, :, None]).sub_(lp_ext).exp_()
    gamma = torch.zeros_like(lp).scatter_add_(2, ext.expand(T, -1, -1), occupation)
    if reduction == "none":
        weight = grad_output.reshape(-1).expand(N)
    elif reduction == "sum":
        weight = grad_output.expand(N)
    else:
        weight = grad_output / N / tl.clamp_min(1).to(lp.dtype)
    weight = weight + nll * 0  # an infinite loss makes its every class NaN, as in torch (inf * 0 = NaN)
    keep = torch.arange(T, device=lp.device)[:, None] < il[None, :]
    if zero_infinity:
        keep &= (nll != float("inf"))[None, :]
    # a log-probability of -inf gives NaN on its valid frames, as torch's exp(lp) - exp(log gamma + nll - lp) does
    grad = (lp.exp() - gamma).masked_fill_(lp == float("-inf"), float("nan"))
    return torch.where(keep[:, :, None], grad.mul_(weight[None, :, None]), 0.0)


class _CTCLossFunction(torch.autograd.Function):
    """Forward: the alpha recursion (with beta in the same loop when a gradient will be needed) and the
    reduction. Backward: the occupations from alpha and beta, in ``_grad_from_alpha_beta``."""

    @staticmethod
    def forward(ctx, lp, ext, il, tl, reduction, zero_infinity):
        lp_ext = lp.gather(2, ext.expand(lp.shape[0], -1, -1))
        if ctx.needs_input_grad[0]:
            log_alpha, log_beta = ctc_alpha_beta(lp_ext, ext, il, tl)
        else:
            log_alpha, log_beta = ctc_alpha(lp_ext, ext), None
        nll = ctc_nll(log_alpha, il, tl)
        ctx.save_for_backward(lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll)
        ctx.reduction, ctx.zero_infinity = reduction, zero_infinity
        loss = torch.where(nll == float("inf"), 0.0, nll) if zero_infinity else nll
        if reduction == "mean":
            return (loss / tl.clamp_min(1).to(loss.dtype)).mean()
        return loss.sum() if reduction == "sum" else loss

    @staticmethod
    def backward(ctx, grad_output):
        lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll = ctx.saved_tensors
        grad = _grad_from_alpha_beta(
            grad_output, lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll, ctx.reduction, ctx.zero_infinity
        )
        return derivative_not_implemented("_ctc_loss_backward", grad, lp), None, None, None, None, None
