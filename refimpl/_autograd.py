"""Autograd plumbing shared by the losses whose backward torch does not differentiate again.

torch implements no derivative of ``multi_margin_loss_backward``, ``multilabel_margin_loss_backward`` and
``_ctc_loss_backward``: with ``create_graph=True`` their first gradient is returned, and differentiating it
raises ``RuntimeError: derivative for aten::<op> is not implemented``. refimpl's hand-derived gradients are plain
tensor arithmetic that autograd *could* differentiate, but a drop-in must fail where torch fails rather than
return a second derivative torch does not define, so those backwards pass their gradient through
:func:`derivative_not_implemented`.
"""

import torch
from torch import Tensor


class _DerivativeNotImplemented(torch.autograd.Function):
    """The identity on a gradient; its own backward raises torch's error for ``op``."""

    generate_vmap_rule = True  # per-sample gradients (vmap over grad) pass through it

    @staticmethod
    def forward(op: str, grad: Tensor, *inputs: Tensor) -> Tensor:
        return grad.clone()

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        ctx.op = inputs[0]

    @staticmethod
    def backward(ctx, *grad_outputs: Tensor):
        raise RuntimeError(f"derivative for aten::{ctx.op} is not implemented")


def derivative_not_implemented(op: str, grad: Tensor, *inputs: Tensor) -> Tensor:
    """``grad`` itself, as part of the graph when autograd records one (``create_graph=True``): it then depends on
    ``inputs`` (the loss's differentiable inputs), and differentiating it raises as torch's ``op`` does."""
    if not torch.is_grad_enabled():  # an ordinary backward: no graph, nothing to guard
        return grad
    return _DerivativeNotImplemented.apply(op, grad, *inputs)
