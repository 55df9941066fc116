r"""Connectionist temporal classification (CTC), as ``torch.nn.functional.ctc_loss`` computes it on the CPU.

Chapter: ``book/sequence/ctc.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction

FN = "ctc_loss"
_NEG_INF = float("-inf")


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | tuple[int, ...] | list[int],
    target_lengths: Tensor | tuple[int, ...] | list[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    r"""CTC: the negative log of the total probability of every alignment of a label sequence to the frames.

    For sample :math:`b` with :math:`T_b` frames of log-probabilities :math:`\ell_t(c)` and labels
    :math:`z_1 \dots z_{S_b}`, let the extended sequence be
    :math:`z' = (\varnothing, z_1, \varnothing, z_2, \dots, z_{S_b}, \varnothing)` (length :math:`2S_b+1`,
    :math:`\varnothing` = ``blank``). The forward variables, in log space, are

    .. math::

        \alpha_0(0) = \ell_0(\varnothing), \quad \alpha_0(1) = \ell_0(z_1), \quad \alpha_0(s) = -\infty
        \text{ otherwise};\qquad
        \alpha_t(s) = \operatorname{logsumexp}\big(\alpha_{t-1}(s), \alpha_{t-1}(s-1),
        [\alpha_{t-1}(s-2)]_{z'_s \ne z'_{s-2}}\big) + \ell_t(z'_s)

    and :math:`l_b = -\operatorname{logsumexp}(\alpha_{T_b-1}(2S_b), \alpha_{T_b-1}(2S_b-1))` (the second
    term only when :math:`S_b > 0`; :math:`l_b = \infty` when :math:`T_b = 0` or no alignment exists).
    ``zero_infinity=True`` replaces :math:`l_b = \infty` by 0. Reductions: 'none' gives :math:`(l_b)_b`
    (0-dim when unbatched), 'sum' :math:`\sum_b l_b`, 'mean'
    :math:`\frac1N \sum_b l_b / \max(S_b, 1)` (each loss divided by its target length first).

    Gradient (torch's convention): with the backward variables :math:`\beta_t(s)` (the same recursion run
    from the end, both including :math:`\ell_t(z'_s)`),

    .. math::

        g_{t,b,c} = \Big(e^{\ell_t(c)} - \sum_{s: z'_s = c} e^{\alpha_t(s) + \beta_t(s) + l_b - \ell_t(c)}\Big)
        \cdot \frac{\partial L}{\partial l_b} \quad (t < T_b), \qquad g_{t,b,c} = 0 \quad (t \ge T_b).

    The sum is the true :math:`\partial l_b / \partial \ell_t(c)` (negated occupation probability); the
    extra :math:`e^{\ell_t(c)}` makes :math:`g` the gradient with respect to the *logits* :math:`x` of
    :math:`\ell = \operatorname{log\_softmax}(x)`, so it is correct only when that log_softmax is in the
    graph (its backward :math:`g - e^{\ell}\sum_c g` then leaves :math:`g` unchanged). Each valid frame of
    :math:`g` sums to 0 over classes. Infinite losses give NaN gradients on their valid frames, or 0 with
    ``zero_infinity=True``. No double backward.

    Shapes: ``log_probs`` (T, N, C) or unbatched (T, C); ``targets`` padded (N, S) with
    :math:`S \ge \max_b S_b` (entries past :math:`S_b` are ignored) or the concatenation of all targets,
    1-D of length :math:`\sum_b S_b`; lengths (N,) as integer tensors or as tuples/lists of ints (both the
    same kind).

    Args:
        log_probs: :math:`\ell`, float32 or float64 (not checked to be normalised).
        targets: label indices in :math:`[0, C)` other than ``blank`` (integer, float or bool dtype).
        input_lengths: :math:`T_b \le T`.
        target_lengths: :math:`S_b \ge 0`.
        blank: the blank's class index in :math:`[0, C)`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        zero_infinity: replace infinite losses (and their gradients) by 0.

    Raises:
        ValueError: invalid ``reduction``.
        TypeError: lengths that are neither both tensors nor both sequences of ints; non-tensor
            ``log_probs``/``targets``; non-int ``blank``, non-bool ``zero_infinity``.
        NotImplementedError: ``log_probs`` not float32/float64 (torch has no other CPU kernel).
        RuntimeError: empty ``log_probs``; wrong dimensions; ``blank`` out of range; lengths not integral,
            of the wrong size, negative, or longer than ``log_probs``/``targets``; a label outside
            :math:`[0, C)` (torch reads out of bounds there instead).
    """
    reduction = _reduction.resolve(FN, reduction)
    lp, ext, il, tl, batched = _prepare(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    loss = _CTCLossFunction.apply(lp, ext, il, tl, reduction, zero_infinity)
    return loss if batched or reduction != "none" else loss.squeeze(0)


def ctc_loss_grad(
    grad_output: Tensor,
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | tuple[int, ...] | list[int],
    target_lengths: Tensor | tuple[int, ...] | list[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> tuple[Tensor]:
    r"""Hand-derived gradient of :func:`ctc_loss` with respect to ``log_probs``, in torch's convention.

    .. math::

        g_{t,b,c} = \Big(e^{\ell_t(c)} - \sum_{s: z'_s = c} e^{\alpha_t(s) + \beta_t(s) + l_b - \ell_t(c)}\Big)
        \, w_b \quad (t < T_b), \qquad 0 \quad (t \ge T_b),

    with :math:`w_b` = ``grad_output[b]`` ('none'), ``grad_output`` ('sum') or
    ``grad_output / (N max(S_b, 1))`` ('mean'); :math:`w_b = 0` for infinite :math:`l_b` when
    ``zero_infinity``. Returns ``(grad_log_probs,)`` shaped like ``log_probs``.
    """
    reduction = _reduction.resolve(FN, reduction)
    lp, ext, il, tl, _ = _prepare(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    lp_ext = lp.gather(2, ext.expand(lp.shape[0], -1, -1))
    log_alpha, log_beta = ctc_alpha_beta(lp_ext, ext, il, tl)
    nll = ctc_nll(log_alpha, il, tl)
    return (_grad_from_alpha_beta(grad_output, lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll, reduction,
                                  zero_infinity).reshape(log_probs.shape),)


def _prepare(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    """Validate as torch does; return log_probs as (T, N, C), the extended labels z' as (N, 2 S_max + 1),
    the lengths as int64 (N,) tensors, and whether the input was batched."""
    _check_argument_types(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    il, tl = _lengths(input_lengths, "input_lengths"), _lengths(target_lengths, "target_lengths")
    if log_probs.numel() == 0:
        raise RuntimeError(f"{FN}(): log_probs tensor must not be empty (argument log_probs has shape "
                           f"{tuple(log_probs.shape)})")
    _checks.check_floating(FN, "ctc_loss_cpu", log_probs.dtype, what="log_probs")
    if log_probs.dtype not in (torch.float32, torch.float64):
        name = _checks.dtype_name(log_probs.dtype)
        raise NotImplementedError(f'{FN}(): "ctc_loss_cpu" not implemented for \'{name}\' '
                                  "(argument log_probs: torch has float32 and float64 kernels only)")
    batched = log_probs.dim() == 3
    lp = log_probs
    if not batched:  # torch unsqueezes a non-3-D input as one unbatched sample
        lp = log_probs.unsqueeze(1)  # 1-D targets stay the concatenated form: exactly sum(target_lengths) labels
    if lp.dim() != 3:
        raise RuntimeError(f"{FN}(): Expected 3-dimensional tensor, but got {lp.dim()}-dimensional tensor for "
                           f"argument #1 'log_probs' (log_probs must be (T, N, C) or unbatched (T, C))")
    if not 1 <= targets.dim() <= 2:
        raise RuntimeError(f"{FN}(): Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional tensor for "
                           "argument #2 'targets' (targets must be padded (N, S) or concatenated 1-D)")
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"{FN}(): blank must be in label range (argument blank={blank}, expected 0 <= blank < {C})")
    for name, lengths in (("input_lengths", il), ("target_lengths", tl)):
        if lengths.numel() != N:
            raise RuntimeError(f"{FN}(): {name} must be of size batch_size (expected {N} entries, got "
                               f"{lengths.numel()})")
    input_lengths, target_lengths = il.tolist(), tl.tolist()  # on the CPU: checks in Python, not kernels
    if min(target_lengths) < 0:
        raise RuntimeError(f"{FN}(): Expected target_lengths to have value at least 0, but got value "
                           f"{min(target_lengths)} (argument target_lengths)")
    s_max = max(target_lengths)
    if targets.dim() == 1:  # the concatenation of every target
        if targets.shape[0] != sum(target_lengths):
            raise RuntimeError(f"{FN}(): Expected tensor to have size {sum(target_lengths)} at dimension 0, but got "
                               f"size {targets.shape[0]} for argument #2 'targets' (concatenated targets must have "
                               "sum(target_lengths) entries)")
        starts = tl.cumsum(0) - tl
        index = (starts[:, None] + torch.arange(s_max)).clamp_max_(max(targets.shape[0] - 1, 0))
        padded = targets[index.to(targets.device)]
    else:
        if targets.shape[0] != N:
            raise RuntimeError(f"{FN}(): Expected tensor to have size {N} at dimension 0, but got size "
                               f"{targets.shape[0]} for argument #2 'targets' (one padded row per sample)")
        if targets.shape[1] < s_max:
            raise RuntimeError(f"{FN}(): Expected tensor to have size at least {s_max} at dimension 1, but got size "
                               f"{targets.shape[1]} for argument #2 'targets' (target_lengths exceed the padding)")
        padded = targets[:, :s_max]
    if min(input_lengths) < 0:
        raise RuntimeError(f"{FN}(): Expected input_lengths to have value at least 0, but got value "
                           f"{min(input_lengths)} (argument input_lengths)")
    if max(input_lengths) > T:
        raise RuntimeError(f"{FN}(): Expected input_lengths to have value at most {T}, but got value "
                           f"{max(input_lengths)} (argument input_lengths longer than log_probs)")
    padded = padded.to(lp.device, torch.long)
    if min(target_lengths) < s_max:  # entries past S_b are ignored, whatever they hold
        used = torch.arange(s_max, device=lp.device) < tl.to(lp.device)[:, None]
        padded = torch.where(used, padded, blank)
    if padded.numel() and not 0 <= int(padded.min()) <= int(padded.max()) < C:
        raise RuntimeError(f"{FN}(): targets must be class indices in [0, {C}) (argument targets holds a label "
                           "outside that range; torch does not check and reads out of bounds)")
    ext = torch.full((N, 2 * s_max + 1), blank, dtype=torch.long, device=lp.device)
    ext[:, 1::2] = padded
    return lp, ext, il.to(lp.device), tl.to(lp.device), batched


def _check_argument_types(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    for name, value in (("log_probs", log_probs), ("targets", targets)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{FN}() received an invalid combination of arguments: argument '{name}' must be "
                            f"Tensor, not {type(value).__name__}")
    as_tensors = isinstance(input_lengths, Tensor), isinstance(target_lengths, Tensor)
    if as_tensors[0] != as_tensors[1] or not as_tensors[0] and not all(
        isinstance(v, (list, tuple)) and all(isinstance(i, int) for i in v) for v in (input_lengths, target_lengths)
    ):
        raise TypeError(f"{FN}() received an invalid combination of arguments: input_lengths and target_lengths "
                        "must both be Tensors or both tuples of ints, got "
                        f"{type(input_lengths).__name__} and {type(target_lengths).__name__}")
    if isinstance(blank, bool) or not isinstance(blank, int):
        raise TypeError(f"{FN}() received an invalid combination of arguments: argument 'blank' must be int, "
                        f"not {type(blank).__name__}")
    if not isinstance(zero_infinity, bool):
        raise TypeError(f"{FN}() received an invalid combination of arguments: argument 'zero_infinity' must be "
                        f"bool, not {type(zero_infinity).__name__}")


def _lengths(value, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            raise RuntimeError(f"{FN}(): {name} must be integral (argument {name} has dtype {value.dtype})")
        return value.detach().to("cpu", torch.long).reshape(-1)
    return torch.tensor(list(value), dtype=torch.long).reshape(-1)


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
    restarts = {T - length: (torch.cat((is_alpha, (il == length)[:, None])), torch.cat((end, end)))
                for length in set(il.tolist()) if 0 < length < T}
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


def log_space_recursion(first: Tensor, frames: Tensor, jump: Tensor,
                        restarts: dict[int, tuple[Tensor, Tensor]] | None = None) -> Tensor:
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
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll = ctx.saved_tensors
        grad = _grad_from_alpha_beta(grad_output, lp, lp_ext, ext, il, tl, log_alpha, log_beta, nll, ctx.reduction,
                                     ctx.zero_infinity)
        return grad, None, None, None, None, None
