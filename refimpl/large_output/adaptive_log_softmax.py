r"""Adaptive softmax, as ``torch.nn.AdaptiveLogSoftmaxWithLoss`` computes it (Grave et al., 2017).

torch has this loss as a module only. The module here has torch's constructor, submodules, parameter
names (``head``, ``tail.<i>.0``, ``tail.<i>.1``), ``forward``, ``log_prob`` and ``predict``; the two
projections are plain ``nn.Linear`` layers (autograd differentiates them), and the log-softmax of each
cluster is derived from the log-sum-exp with a hand-derived gradient: :func:`target_log_prob` and
:func:`target_log_prob_grad`. :func:`adaptive_log_softmax` is a functional form that torch lacks: the
module run with given weights, for tests and exercises.

Chapter: ``book/large_output/adaptive_log_softmax.ipynb``.
"""

import itertools
from collections import namedtuple
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from refimpl import _checks

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])  # torch's name and fields

_NAME = "adaptive_log_softmax"


def _accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for float16/bfloat16 (torch's CPU log-softmax accumulates in float32), else ``dtype``."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _logsumexp(z: Tensor) -> Tensor:
    r""":math:`m + \log\sum_k e^{z_k - m}` along dim 1 with :math:`m = \max_k z_k` (detached), written out as torch's
    ``log_softmax`` computes it, so non-finite rows match torch: a row holding :math:`+\infty` gives NaN
    (``torch.logsumexp`` gives :math:`+\infty`, and then :math:`\log p = -\infty` beside a NaN)."""
    _checks.check_floating(_NAME, "log_softmax_lastdim_kernel_impl", z.dtype, what="the logits")
    m = z.detach().amax(1, keepdim=True)
    return m + (z - m).exp().sum(1, keepdim=True).log()


def target_log_prob(logits: Tensor, target: Tensor) -> Tensor:
    r"""The log-probability of each row's target under the softmax of its logits.

    For logits :math:`z \in \mathbb{R}^{N \times K}` and targets :math:`t_n \in \{0..K-1\}`:

    .. math::

        f_n = z_{n t_n} - \operatorname{lse}(z_n), \qquad
        \operatorname{lse}(z_n) = m_n + \log \sum_k e^{z_{nk} - m_n}, \quad m_n = \max_k z_{nk},

    the stable log-sum-exp (:func:`_logsumexp` shifts by the maximum, so nothing overflows). Half
    precision is computed in float32 and rounded once, as torch's CPU ``log_softmax`` does. Only the
    target's entry is formed: the full :math:`N \times K` log-softmax is never materialised.

    Gradient: :func:`target_log_prob_grad`. Shapes: ``logits`` (N, K), ``target`` (N,) int64; result (N,).
    """
    return _TargetLogProbFunction.apply(logits, target)


class _TargetLogProbFunction(torch.autograd.Function):
    """Forward: :func:`target_log_prob`'s formula. Backward: :func:`target_log_prob_grad`."""

    generate_vmap_rule = True  # torch.func.vmap runs forward and backward on batched tensors

    @staticmethod
    def forward(logits: Tensor, target: Tensor) -> Tensor:
        z = logits.to(_accumulate_dtype(logits.dtype))
        return (z.gather(1, target.unsqueeze(1)) - _logsumexp(z)).squeeze(1).to(logits.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        logits, target = inputs
        ctx.save_for_backward(logits, target)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        logits, target = ctx.saved_tensors
        return target_log_prob_grad(grad_output, logits, target), None


def target_log_prob_grad(grad_output: Tensor, logits: Tensor, target: Tensor) -> Tensor:
    r"""Hand-derived gradient of :func:`target_log_prob` with respect to ``logits``.

    .. math::

        \frac{\partial f_n}{\partial z_{nk}} = [k = t_n] - p_{nk}, \qquad
        p_{nk} = e^{z_{nk} - \operatorname{lse}(z_n)},

    so :math:`\partial L/\partial z_{nk} = g_n([k = t_n] - p_{nk})` for upstream :math:`g`: the
    "one-hot minus softmax" of cross-entropy with the sign flipped (this is a log-likelihood, not a loss).
    Each row of the gradient sums to 0.
    """
    z = logits.to(_accumulate_dtype(logits.dtype))
    # log p rounded to the logits' dtype first: torch's backward reads its float16/bfloat16 log-softmax output
    p = (z - _logsumexp(z)).to(logits.dtype).to(z.dtype).exp()
    one_hot = (target.unsqueeze(1) == torch.arange(z.shape[1], device=z.device)).to(z.dtype)  # [k = t_n]
    return (grad_output.to(z.dtype).unsqueeze(1) * (one_hot - p)).to(logits.dtype)


def _log_softmax(logits: Tensor) -> Tensor:
    r"""The full log-softmax along dim 1, :math:`z - \operatorname{lse}(z)` (for ``log_prob``; autograd)."""
    z = logits.to(_accumulate_dtype(logits.dtype))
    return (z - _logsumexp(z)).to(logits.dtype)


def _validate_adaptive_log_softmax(input_: Tensor, target_: Tensor, n_classes: int) -> bool:
    """torch's checks of ``AdaptiveLogSoftmaxWithLoss.forward``, with its messages; returns whether the call is
    batched (a 1-D target). torch finds a target outside ``[0, n_classes - 1]`` only after evaluating the
    clusters (no row falls in any cluster); checking it first raises the same error."""
    if target_.dim() == 1:
        if input_.size(0) != target_.size(0):
            raise RuntimeError(
                f"{_NAME} (AdaptiveLogSoftmaxWithLoss): Input and target should have the same size in the "
                f"batch dimension. (input_ has {input_.size(0)} rows, target_ has {target_.size(0)})"
            )
        if input_.dim() != 2:
            raise RuntimeError(
                f"{_NAME} (AdaptiveLogSoftmaxWithLoss): 1D target tensor expects 2D input tensors, "
                f"but found inputs with size {input_.size()} (argument input_)"
            )
    elif target_.dim() == 0:
        if input_.dim() != 1:
            raise RuntimeError(
                f"{_NAME} (AdaptiveLogSoftmaxWithLoss): 0D target tensor expects 1D input tensors, "
                f"but found inputs with size {input_.size()} (argument input_)"
            )
    else:
        raise RuntimeError(
            f"{_NAME} (AdaptiveLogSoftmaxWithLoss): 0D or 1D target tensor expected, multi-target not "
            f"supported (argument target_ has shape {tuple(target_.shape)})"
        )
    if target_.numel() > 0 and (target_.min() < 0 or target_.max() >= n_classes):
        raise RuntimeError(
            f"{_NAME} (AdaptiveLogSoftmaxWithLoss): Target values should be in [0, {n_classes - 1}], "
            f"but values in range [{target_.min().item()}, {target_.max().item()}] were found. "
            "(argument target_)"
        )
    if target_.dtype not in (torch.int64, torch.int32):
        raise RuntimeError(
            f"{_NAME} (AdaptiveLogSoftmaxWithLoss): gather(): Expected dtype int32/int64 for index "
            f"(argument target_ has dtype {target_.dtype})"
        )
    return target_.dim() == 1


class AdaptiveLogSoftmaxWithLoss(nn.Module):
    r"""Drop-in for ``torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value=4.0,
    head_bias=False, device=None, dtype=None)``.

    The classes, sorted by frequency, are split at ``cutoffs`` :math:`c_0 < c_1 < \dots < c_{K-1}`
    (:math:`c_K = C` is appended): the head holds the shortlist :math:`0..c_0-1` plus one entry per tail
    cluster :math:`i = 1..K`, which holds classes :math:`c_{i-1}..c_i-1`. The head is
    :math:`h(x) = W_h x (+ b_h)` of size :math:`c_0 + K`; tail :math:`i` is the two-layer
    :math:`B_i A_i x` with hidden size :math:`\lfloor d / \text{div\_value}^i \rfloor`. For input
    :math:`x_n` and target :math:`y_n`:

    .. math::

        \text{output}_n = \log p(y_n \mid x_n) = \begin{cases}
            \log\operatorname{softmax}(h(x_n))_{y_n} & y_n < c_0 \\
            \log\operatorname{softmax}(h(x_n))_{c_0 + i - 1}
            + \log\operatorname{softmax}(B_i A_i x_n)_{y_n - c_{i-1}} & c_{i-1} \le y_n < c_i
        \end{cases}

        \text{loss} = -\frac{1}{N} \sum_n \text{output}_n

    Always a mean (no ``reduction``, ``weight`` or ``ignore_index``); an empty batch gives NaN. Only the
    clusters that hold a target of the batch are evaluated, so the other tails get no gradient (their
    ``.grad`` stays ``None``, as in torch).

    Gradient: autograd through the linear layers; each log-softmax-and-gather is :func:`target_log_prob`
    with the hand-derived :func:`target_log_prob_grad`, :math:`g_n([k = t_n] - p_{nk})`.

    Shapes: input (N, d) or (d,); target (N,) or () int64; output (N,) or (); loss 0-dim.

    Raises:
        ValueError: empty ``cutoffs``; cutoffs not unique, positive, increasing integers below ``n_classes``.
        RuntimeError: target not 0-D/1-D; batch sizes differ; input not 2-D (1-D) for a 1-D (0-D) target;
            a target outside ``[0, n_classes - 1]``.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Sequence[int],
        div_value: float = 4.0,
        head_bias: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError(
                f"{_NAME} (AdaptiveLogSoftmaxWithLoss): cutoffs should be a sequence of length larger than 0 "
                "(argument cutoffs=[] is empty)"
            )
        if (
            cutoffs != sorted(cutoffs)
            or min(cutoffs) <= 0
            or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs)
            or any(int(c) != c for c in cutoffs)
        ):
            raise ValueError(
                f"{_NAME} (AdaptiveLogSoftmaxWithLoss): cutoffs should be a sequence of unique, positive "
                "integers sorted in an increasing order, where each value is between 1 and n_classes-1 "
                f"(got cutoffs={cutoffs} with n_classes={n_classes})"
            )
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = nn.Linear(self.in_features, self.head_size, bias=self.head_bias, **factory_kwargs)
        self.tail = nn.ModuleList()
        for i in range(self.n_clusters):
            hidden = int(self.in_features // (self.div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(
                nn.Sequential(
                    nn.Linear(self.in_features, hidden, bias=False, **factory_kwargs),
                    nn.Linear(hidden, size, bias=False, **factory_kwargs),
                )
            )

    def reset_parameters(self) -> None:
        """Re-initialise every layer as ``__init__`` does."""
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        """``(output, loss)``: each target's log-probability and their negated mean (see the class)."""
        batched = _validate_adaptive_log_softmax(input_, target_, self.n_classes)
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        # the cluster of each target: 0 for the shortlist, i for tail i (classes c_{i-1}..c_i - 1)
        cluster = torch.bucketize(target, target.new_tensor(self.cutoffs[:-1]), right=True)
        # the head entry each row reads: its own class in the shortlist, else its cluster's entry c_0 + i - 1
        head_index = torch.where(cluster == 0, target, self.shortlist_size + cluster - 1)
        output = target_log_prob(self.head(input), head_index)
        for i in range(1, self.n_clusters + 1):
            rows = (cluster == i).nonzero().flatten()
            if rows.numel() == 0:
                continue  # an unused cluster is never evaluated: its weights get no gradient
            cluster_logits = self.tail[i - 1](input[rows])
            output = output.index_add(0, rows, target_log_prob(cluster_logits, target[rows] - self.cutoffs[i - 1]))
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        """Log-probabilities of all classes: the head's, then each cluster's plus its head entry."""
        head_logprob = _log_softmax(head_output)
        parts = [head_logprob[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            parts.append(_log_softmax(self.tail[i](input)) + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return torch.cat(parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities of all ``n_classes`` classes, shape (N, n_classes)."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most probable class per row: ``log_prob(input).argmax(1)``, skipping the tails when the head's
        best entry is a shortlist class (a shortlist class beating every cluster entry beats every tail class)."""
        head_output = self.head(input)
        output = torch.argmax(head_output, dim=1)
        not_in_shortlist = output >= self.shortlist_size
        if not not_in_shortlist.any():
            return output
        if not_in_shortlist.all():
            return torch.argmax(self._full_log_prob(input, head_output), dim=1)
        log_prob = self._full_log_prob(input[not_in_shortlist], head_output[not_in_shortlist])
        output[not_in_shortlist] = torch.argmax(log_prob, dim=1)
        return output


def call_with_weights(
    module_class: type,
    input: Tensor,
    target: Tensor,
    head_weight: Tensor,
    *tail_weights: Tensor,
    head_bias: Tensor | None = None,
    cutoffs: Sequence[int] | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Run ``module_class`` (torch's or refimpl's) with these weights; the functional form of both.

    ``tail_weights`` are ``tail.0.0.weight, tail.0.1.weight, tail.1.0.weight, ...``. ``cutoffs`` and
    ``n_classes`` follow from the weights' shapes unless ``cutoffs`` is given. ``reduction='mean'`` returns
    the module's ``loss``; ``'none'`` the per-sample loss ``-output``; ``'sum'`` its sum.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{_NAME}(): reduction={reduction!r} is not a valid value for reduction")
    n_clusters = len(tail_weights) // 2
    sizes = [w.shape[0] for w in tail_weights[1::2]]
    shortlist = head_weight.shape[0] - n_clusters
    n_classes = shortlist + sum(sizes)
    if cutoffs is None:
        cutoffs = list(itertools.accumulate([shortlist] + sizes[:-1]))
    module = module_class(
        input.shape[-1], n_classes, cutoffs, div_value=1.0, head_bias=head_bias is not None, device="meta"
    )
    params = {"head.weight": head_weight}
    if head_bias is not None:
        params["head.bias"] = head_bias
    for i in range(n_clusters):
        params[f"tail.{i}.0.weight"] = tail_weights[2 * i]
        params[f"tail.{i}.1.weight"] = tail_weights[2 * i + 1]
    output, loss = torch.func.functional_call(module, params, (input, target))
    if reduction == "mean":
        return loss
    return -output if reduction == "none" else (-output).sum()


def adaptive_log_softmax(
    input: Tensor,
    target: Tensor,
    head_weight: Tensor,
    *tail_weights: Tensor,
    head_bias: Tensor | None = None,
    cutoffs: Sequence[int] | None = None,
    reduction: str = "mean",
) -> Tensor:
    """refimpl's :class:`AdaptiveLogSoftmaxWithLoss` as a function of its weights (see :func:`call_with_weights`).
    torch has no functional form; ``refimpl.testing`` runs torch's module the same way to compare."""
    return call_with_weights(
        AdaptiveLogSoftmaxWithLoss,
        input,
        target,
        head_weight,
        *tail_weights,
        head_bias=head_bias,
        cutoffs=cutoffs,
        reduction=reduction,
    )
