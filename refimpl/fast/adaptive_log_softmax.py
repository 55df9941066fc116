r"""``AdaptiveLogSoftmaxWithLoss`` and ``adaptive_log_softmax``, tuned: the backward of each cluster's target
log-probability reuses the forward's log-sum-exp and builds its gradient in one temporary, in place.

The readable :mod:`refimpl.large_output.adaptive_log_softmax` recomputes the log-sum-exp in the backward (a pass
over the cluster's logits, with its own exponentials). Here the forward saves it, and the backward uses it unless a
graph is being built for a double backward, where a tensor written in place would corrupt the second derivative.
Everything else (validation, the clusters, the weights) is the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

from collections.abc import Sequence

import torch
from torch import Tensor

from refimpl.fast._transforms import readable_under_transforms
from refimpl.large_output import adaptive_log_softmax as readable
from refimpl.large_output.adaptive_log_softmax import _accumulate_dtype, _logsumexp


def target_log_prob(logits: Tensor, target: Tensor) -> Tensor:
    r""":func:`refimpl.large_output.adaptive_log_softmax.target_log_prob`,
    whose forward saves its log-sum-exp for the backward (:func:`target_log_prob_grad`)."""
    return _TargetLogProb.apply(logits, target)


def target_log_prob_grad(grad_output: Tensor, logits: Tensor, target: Tensor, lse: Tensor | None = None) -> Tensor:
    r"""The gradient of
    :func:`refimpl.large_output.adaptive_log_softmax.target_log_prob_grad`. ``lse`` (N, 1), the forward's
    log-sum-exp, is reused when given: then nothing here is differentiated and the one temporary is updated in
    place. Without it (a graph is being built for double backward) the log-sum-exp is recomputed from ``logits``
    with differentiable out-of-place operations."""
    acc = _accumulate_dtype(logits.dtype)
    z = logits.to(acc)
    g = grad_output.to(acc).unsqueeze(1)
    if lse is not None:
        # half precision: torch's backward reads its rounded log-softmax output, so round log p once before exp
        p = (z - lse).to(logits.dtype).to(acc).exp_()
        return p.mul_(-g).scatter_add_(1, target.unsqueeze(1), g).to(logits.dtype)
    p = (z - _logsumexp(z)).to(logits.dtype).to(acc).exp()
    grad = (g * p).neg_()  # a fresh product: mul saved g and p, not its result, so in place is safe
    return grad.scatter_add(1, target.unsqueeze(1), g).to(logits.dtype)


class _TargetLogProb(torch.autograd.Function):
    """Forward: :func:`target_log_prob`'s formula. Backward: :func:`target_log_prob_grad`."""

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor) -> Tensor:
        z = logits.to(_accumulate_dtype(logits.dtype))
        lse = _logsumexp(z)
        ctx.save_for_backward(logits, target, lse)
        return (z.gather(1, target.unsqueeze(1)) - lse).squeeze(1).to(logits.dtype)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        logits, target, lse = ctx.saved_tensors
        # The saved lse is a constant to autograd: reuse it only when no graph is built (no double backward).
        reuse = None if torch.is_grad_enabled() else lse
        return target_log_prob_grad(grad_output, logits, target, reuse), None


class AdaptiveLogSoftmaxWithLoss(readable.AdaptiveLogSoftmaxWithLoss):
    """The readable module, with the tuned :func:`target_log_prob` in its forward."""

    def forward(self, input_: Tensor, target_: Tensor) -> readable._ASMoutput:
        """``(output, loss)``: each target's log-probability and their negated mean (see the class)."""
        batched = readable._validate_adaptive_log_softmax(input_, target_, self.n_classes)
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
        return readable._ASMoutput(output if batched else output.squeeze(0), loss)


@readable_under_transforms(readable.adaptive_log_softmax)  # torch.func, forward AD: see refimpl/fast/_transforms.py
def adaptive_log_softmax(
    input: Tensor,
    target: Tensor,
    head_weight: Tensor,
    *tail_weights: Tensor,
    head_bias: Tensor | None = None,
    cutoffs: Sequence[int] | None = None,
    reduction: str = "mean",
) -> Tensor:
    """:func:`refimpl.large_output.adaptive_log_softmax.adaptive_log_softmax` with the tuned module."""
    return readable.call_with_weights(
        AdaptiveLogSoftmaxWithLoss,
        input,
        target,
        head_weight,
        *tail_weights,
        head_bias=head_bias,
        cutoffs=cutoffs,
        reduction=reduction,
    )
