r"""Connectionist temporal classification (CTC), as ``torch.nn.functional.ctc_loss`` computes it on the CPU.

Chapter: ``book/sequence/ctc.ipynb``.
"""

import torch
from torch import Tensor

from refimpl import _checks, _reduction
from refimpl._autograd import derivative_not_implemented
from refimpl._module import Loss

FN = "ctc_loss"
_INF = float("inf")


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
    reduction = _validate_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
    input_lengths, target_lengths = torch.as_tensor(input_lengths), torch.as_tensor(target_lengths)  # tuples too
    return _CTCLossFunction.apply(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)


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

    With the occupation :math:`\gamma_t(c) = \sum_{s: z'_s = c} e^{\alpha_t(s) + \beta_t(s) + l_b - \ell_t(c)}`
    (the posterior probability that frame :math:`t` emits :math:`c`; :math:`\partial l_b / \partial \ell_t(c)
    = -\gamma_t(c)`),

    .. math::

        g_{t,b,c} = \big(e^{\ell_t(c)} - \gamma_t(c)\big) \, w_b \quad (t < T_b), \qquad 0 \quad (t \ge T_b),

    the gradient with respect to the logits of a log_softmax that produced :math:`\ell`. :math:`w_b` is
    ``grad_output[b]`` ('none'), ``grad_output`` ('sum') or ``grad_output / (N max(S_b, 1))`` ('mean'). As in
    torch, an infinite :math:`l_b` gives NaN on every class of its valid frames (0 with ``zero_infinity``), and so
    does :math:`\ell_t(c) = -\infty`. Returns ``(grad_log_probs,)`` shaped like ``log_probs``.
    """
    lp, z, T_b, S_b = batched(log_probs, targets, input_lengths, target_lengths, blank)
    T, N, C = lp.shape
    positions = z.expand(T, -1, -1)
    emit = lp.gather(2, positions)  # l_t(z'_s)
    alpha, beta = ctc_alpha(emit, z), ctc_beta(emit, z, T_b, S_b)
    nll = ctc_nll(alpha, T_b, S_b)
    occupation = (alpha + beta + nll[:, None] - emit).exp()  # P(the path is at position s at frame t)
    gamma = torch.zeros_like(lp).scatter_add(2, positions, occupation)  # summed over the positions of class c
    grad = lp.exp() - gamma  # -gamma is d l_b / d l_t(c); + e^l is the log_softmax's backward, fused as in torch
    # torch's kernel gives NaN on every class of a non-finite loss, and wherever l_t(c) = -inf
    grad = torch.where(~nll.isfinite()[:, None] | (lp == -_INF), torch.nan, grad)
    weight = _reduction.grad_scale(grad_output, reduction, N).reshape(-1)  # dL/dl_b
    if reduction == "mean":
        weight = weight / S_b.clamp_min(1)
    valid = torch.arange(T, device=lp.device)[:, None] < T_b  # (T, N): frames past T_b get no gradient
    if zero_infinity:
        valid = valid & (nll != _INF)
    return (torch.where(valid[:, :, None], grad * weight[:, None], 0.0).reshape(log_probs.shape),)


class _CTCLossFunction(torch.autograd.Function):
    """Forward: the alpha recursion, the loss read at each sample's last frame, the reduction.
    Backward: :func:`ctc_loss_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity):
        lp, z, T_b, S_b = batched(log_probs, targets, input_lengths, target_lengths, blank)
        emit = lp.gather(2, z.expand(lp.shape[0], -1, -1))  # l_t(z'_s): (T, N, 2 S_max + 1)
        loss = ctc_nll(ctc_alpha(emit, z), T_b, S_b)
        if zero_infinity:
            loss = torch.where(loss == _INF, 0.0, loss)
        if reduction == "mean":
            return (loss / S_b.clamp_min(1)).mean()  # each loss divided by its target length first
        if reduction == "sum":
            return loss.sum()
        return loss if log_probs.dim() == 3 else loss[0]  # unbatched: one 0-dim loss

    @staticmethod
    def setup_context(ctx, inputs, output):
        log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity = inputs
        ctx.save_for_backward(log_probs, targets, input_lengths, target_lengths)
        ctx.blank, ctx.reduction, ctx.zero_infinity = blank, reduction, zero_infinity

    @staticmethod
    def backward(ctx, grad_output):
        log_probs, targets, input_lengths, target_lengths = ctx.saved_tensors
        (grad,) = ctc_loss_grad(
            grad_output, log_probs, targets, input_lengths, target_lengths, ctx.blank, ctx.reduction, ctx.zero_infinity
        )
        # torch's gradient is not differentiable again: neither is this one (refimpl/_autograd.py)
        return derivative_not_implemented("_ctc_loss_backward", grad, log_probs), None, None, None, None, None, None


def batched(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int):
    """What the recursion runs on: log_probs as (T, N, C), the extended labels z' (N, 2 S_max + 1), and the
    lengths T_b, S_b as int64 (N,) tensors, all on log_probs' device."""
    lp = log_probs if log_probs.dim() == 3 else log_probs.unsqueeze(1)  # unbatched (T, C): one sample
    T_b = torch.as_tensor(input_lengths).reshape(-1).to(lp.device, torch.long)
    S_b = torch.as_tensor(target_lengths).reshape(-1).to(lp.device, torch.long)
    return lp, extended_labels(targets.to(lp.device), S_b, blank), T_b, S_b


def extended_labels(targets: Tensor, S_b: Tensor, blank: int) -> Tensor:
    r""":math:`z' = (\varnothing, z_1, \varnothing, z_2, \dots, z_{S_b}, \varnothing)` for every sample, padded with
    blanks to :math:`2 S_{\max} + 1`: (N, 2 S_max + 1) int64. ``targets`` padded (N, S) or concatenated 1-D."""
    S_max = int(S_b.max())
    if targets.dim() == 1:  # concatenated: sample b's labels start after S_1 + ... + S_{b-1}
        start = S_b.cumsum(0) - S_b
        targets = targets[(start[:, None] + torch.arange(S_max, device=S_b.device)).clamp_max(targets.numel() - 1)]
    used = torch.arange(S_max, device=S_b.device) < S_b[:, None]
    labels = torch.where(used, targets[:, :S_max].long(), blank)  # entries past S_b are ignored, whatever they hold
    z = torch.full((len(S_b), 2 * S_max + 1), blank, device=S_b.device)
    z[:, 1::2] = labels  # the odd positions hold the labels, the even ones the blanks
    return z


def shift(a: Tensor, k: int, fill: float) -> Tensor:
    """At position s of the last dimension, ``a``'s value at s - k (``fill`` where s - k is outside):
    k = 1, 2 read the left neighbours (alpha), k = -1, -2 the right ones (beta)."""
    return torch.nn.functional.pad(a, (2, 2), value=fill)[..., 2 - k : 2 - k + a.shape[-1]]


def log_paths_in(a: Tensor, may_skip: Tensor, d: int) -> Tensor:
    r"""One step of the recursion, on every sample and position at once:
    :math:`\log\big(e^{a(s)} + e^{a(s-d)} + [e^{a(s-2d)}]_{\text{may\_skip}(s)}\big)` (stay, move one, skip a
    blank); d = 1 for alpha, -1 for beta. ``torch.logaddexp`` of two -inf is -inf, not NaN."""
    skip = torch.where(may_skip, shift(a, 2 * d, -_INF), -_INF)
    return torch.logaddexp(torch.logaddexp(a, shift(a, d, -_INF)), skip)


def ctc_alpha(emit: Tensor, z: Tensor) -> Tensor:
    r"""The forward variables :math:`\alpha_t(s)`, (T, N, L), from :math:`\ell_t(z'_s)` = ``emit`` (T, N, L):

    :math:`\alpha_0(s) = \ell_0(z'_s)` for :math:`s \in \{0, 1\}` and :math:`-\infty` elsewhere, then
    :math:`\alpha_t(s) = \operatorname{logsumexp}(\alpha_{t-1}(s), \alpha_{t-1}(s-1),
    [\alpha_{t-1}(s-2)]_{z'_s \ne z'_{s-2}}) + \ell_t(z'_s)`.
    """
    may_skip = z != shift(z, 2, -1)  # never onto a blank (z'_{s-2} is one too), never between repeated labels
    alpha = [torch.where(torch.arange(z.shape[1], device=z.device) < 2, emit[0], -_INF)]
    for t in range(1, emit.shape[0]):
        alpha.append(log_paths_in(alpha[-1], may_skip, 1) + emit[t])
    return torch.stack(alpha)


def ctc_beta(emit: Tensor, z: Tensor, T_b: Tensor, S_b: Tensor) -> Tensor:
    r"""The backward variables :math:`\beta_t(s)`, (T, N, L): the same recursion from each sample's last frame,

    :math:`\beta_{T_b-1}(s) = \ell_{T_b-1}(z'_s)` for :math:`s \in \{2S_b-1, 2S_b\}` and :math:`-\infty`
    elsewhere (and for :math:`t \ge T_b`), then :math:`\beta_t(s) = \operatorname{logsumexp}(\beta_{t+1}(s),
    \beta_{t+1}(s+1), [\beta_{t+1}(s+2)]_{z'_s \ne z'_{s+2}}) + \ell_t(z'_s)`.
    """
    may_skip = z != shift(z, -2, -1)
    s = torch.arange(z.shape[1], device=z.device)
    ends = (s == 2 * S_b[:, None]) | (s == 2 * S_b[:, None] - 1)  # the final blank and the last label
    start = torch.where(ends, 0.0, -_INF).to(emit.dtype)  # log 1 on the two end positions
    beta = [torch.full_like(emit[0], -_INF)]  # past the last frame of every sample: no path
    for t in reversed(range(emit.shape[0])):
        last = (T_b == t + 1)[:, None]  # the samples whose last frame is t start here
        beta.append(torch.where(last, start, log_paths_in(beta[-1], may_skip, -1)) + emit[t])
    return torch.stack(beta[:0:-1])  # beta_0 ... beta_{T-1}


def ctc_nll(alpha: Tensor, T_b: Tensor, S_b: Tensor) -> Tensor:
    r"""Per sample :math:`l_b = -\operatorname{logsumexp}(\alpha_{T_b-1}(2S_b), \alpha_{T_b-1}(2S_b-1))`: every
    path ends on the final blank or on the last label (:math:`\infty` if none does). Without frames
    (:math:`T_b = 0`) only the empty target has a path, of probability 1: :math:`l_b = -\log 1` (-0.0, as in torch)."""
    last = alpha[T_b - 1, torch.arange(len(T_b), device=T_b.device)]  # (N, L): alpha at each sample's last frame
    s = torch.arange(alpha.shape[2], device=T_b.device)
    ends = (s == 2 * S_b[:, None]) | (s == 2 * S_b[:, None] - 1)
    nll = -torch.where(ends, last, -_INF).logsumexp(1)
    return torch.where(T_b > 0, nll, torch.where(S_b == 0, -0.0, _INF))


def _validate_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity) -> str:
    """torch's checks, with its exception types and key phrases; returns the resolved reduction."""
    reduction = _reduction.resolve(FN, reduction)
    _check_argument_types(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    il, tl = _lengths(input_lengths, "input_lengths"), _lengths(target_lengths, "target_lengths")
    if log_probs.numel() == 0:
        raise RuntimeError(
            f"{FN}(): log_probs tensor must not be empty (argument log_probs has shape {tuple(log_probs.shape)})"
        )
    _checks.check_floating(FN, "ctc_loss_cpu", log_probs.dtype, what="log_probs")
    if log_probs.dtype not in (torch.float32, torch.float64):
        name = _checks.dtype_name(log_probs.dtype)
        raise NotImplementedError(
            f"{FN}(): \"ctc_loss_cpu\" not implemented for '{name}' "
            "(argument log_probs: torch has float32 and float64 kernels only)"
        )
    lp = log_probs if log_probs.dim() == 3 else log_probs.unsqueeze(1)  # torch unsqueezes any non-3-D input
    if lp.dim() != 3:
        raise RuntimeError(
            f"{FN}(): Expected 3-dimensional tensor, but got {lp.dim()}-dimensional tensor for "
            f"argument #1 'log_probs' (log_probs must be (T, N, C) or unbatched (T, C))"
        )
    if not 1 <= targets.dim() <= 2:
        raise RuntimeError(
            f"{FN}(): Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional tensor for "
            "argument #2 'targets' (targets must be padded (N, S) or concatenated 1-D)"
        )
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError(f"{FN}(): blank must be in label range (argument blank={blank}, expected 0 <= blank < {C})")
    for name, lengths in (("input_lengths", il), ("target_lengths", tl)):
        if lengths.numel() != N:
            raise RuntimeError(
                f"{FN}(): {name} must be of size batch_size (expected {N} entries, got {lengths.numel()})"
            )
    input_lengths, target_lengths = il.tolist(), tl.tolist()  # on the CPU: checks in Python, not kernels
    if min(target_lengths) < 0:
        raise RuntimeError(
            f"{FN}(): Expected target_lengths to have value at least 0, but got value "
            f"{min(target_lengths)} (argument target_lengths)"
        )
    s_max = max(target_lengths)
    if targets.dim() == 1 and targets.shape[0] != sum(target_lengths):  # the concatenation of every target
        raise RuntimeError(
            f"{FN}(): Expected tensor to have size {sum(target_lengths)} at dimension 0, but got "
            f"size {targets.shape[0]} for argument #2 'targets' (concatenated targets must have "
            "sum(target_lengths) entries)"
        )
    if targets.dim() == 2 and targets.shape[0] != N:
        raise RuntimeError(
            f"{FN}(): Expected tensor to have size {N} at dimension 0, but got size "
            f"{targets.shape[0]} for argument #2 'targets' (one padded row per sample)"
        )
    if targets.dim() == 2 and targets.shape[1] < s_max:
        raise RuntimeError(
            f"{FN}(): Expected tensor to have size at least {s_max} at dimension 1, but got size "
            f"{targets.shape[1]} for argument #2 'targets' (target_lengths exceed the padding)"
        )
    if min(input_lengths) < 0:
        raise RuntimeError(
            f"{FN}(): Expected input_lengths to have value at least 0, but got value "
            f"{min(input_lengths)} (argument input_lengths)"
        )
    if max(input_lengths) > T:
        raise RuntimeError(
            f"{FN}(): Expected input_lengths to have value at most {T}, but got value "
            f"{max(input_lengths)} (argument input_lengths longer than log_probs)"
        )
    z = _checks.plain(extended_labels(targets, tl.to(targets.device), blank))  # the values, also under vmap
    if not 0 <= int(z.min()) <= int(z.max()) < C:
        raise RuntimeError(
            f"{FN}(): targets must be class indices in [0, {C}) (argument targets holds a label "
            "outside that range; torch does not check and reads out of bounds)"
        )
    return reduction


def _check_argument_types(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    for name, value in (("log_probs", log_probs), ("targets", targets)):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{FN}() received an invalid combination of arguments: argument '{name}' must be "
                f"Tensor, not {type(value).__name__}"
            )
    as_tensors = isinstance(input_lengths, Tensor), isinstance(target_lengths, Tensor)
    int_sequences = all(
        isinstance(v, (list, tuple)) and all(isinstance(i, int) for i in v) for v in (input_lengths, target_lengths)
    )
    if as_tensors[0] != as_tensors[1] or (not as_tensors[0] and not int_sequences):
        raise TypeError(
            f"{FN}() received an invalid combination of arguments: input_lengths and target_lengths "
            "must both be Tensors or both tuples of ints, got "
            f"{type(input_lengths).__name__} and {type(target_lengths).__name__}"
        )
    if isinstance(blank, bool) or not isinstance(blank, int):
        raise TypeError(
            f"{FN}() received an invalid combination of arguments: argument 'blank' must be int, "
            f"not {type(blank).__name__}"
        )
    if not isinstance(zero_infinity, bool):
        raise TypeError(
            f"{FN}() received an invalid combination of arguments: argument 'zero_infinity' must be "
            f"bool, not {type(zero_infinity).__name__}"
        )


def _lengths(value, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            raise RuntimeError(f"{FN}(): {name} must be integral (argument {name} has dtype {value.dtype})")
        return value.detach().to("cpu", torch.long).reshape(-1)
    return torch.tensor(list(value), dtype=torch.long).reshape(-1)


class CTCLoss(Loss):
    """Drop-in for ``torch.nn.CTCLoss``: ``CTCLoss(blank=0, reduction='mean', zero_infinity=False)``."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths: Tensor, target_lengths: Tensor) -> Tensor:
        return ctc_loss(
            log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction, self.zero_infinity
        )
