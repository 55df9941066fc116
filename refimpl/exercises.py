"""Exercises: ``self_check`` grades a reader's own implementation against torch and says in words what is wrong.

"your 'sum' result is 12 times the expected value: did you average instead of summing?". Every chapter's
exercises call it; ``exercise_inputs(name)`` are the inputs it grades on, chosen per loss to sit on the kinks
and thresholds where plausible wrong answers differ from the right one.
"""

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from refimpl.testing import torch_functional


class CheckResult:
    """The verdict of :func:`self_check`: truthy when the answer is right; ``message`` says why not."""

    def __init__(self, passed: bool, message: str) -> None:
        self.passed = passed
        self.message = message

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message


def _regression_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """``input`` and ``target`` of shape (4, 5) whose residuals include 0, the thresholds ±0.5, ±1 and ±2,
    small and large values."""
    target = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    residual = 3 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    residual[0, :5] = torch.tensor([0.0, 0.5, -1.0, 2.0, -2.0], dtype=torch.float64)
    residual[1, :2] = torch.tensor([1e-3, 50.0], dtype=torch.float64)
    return target + residual, target


def _gaussian_nll_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """``input``, ``target`` and ``var`` of shape (4, 5): ordinary variances between 0.05 and 5, and in the
    first row a variance of 0, one below ``eps = 1e-6``, one exactly at it, one just above it and a large one."""
    input = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    target = input + torch.randn(4, 5, generator=generator, dtype=torch.float64)
    var = 0.05 + 5 * torch.rand(4, 5, generator=generator, dtype=torch.float64)
    var[0, :5] = torch.tensor([0.0, 1e-9, 1e-6, 2e-6, 100.0], dtype=torch.float64)
    return input, target, var


def _soft_margin_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Scores ``input`` and labels ``target`` (-1/+1) of shape (4, 5); the first row has the margins
    y x = 0, 20, -20, 30 and -30 (large, but below the overflow of torch's formula in float64)."""
    input = 3 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 2, (4, 5), generator=generator).double() * 2 - 1
    input[0], target[0] = (
        torch.tensor([0.0, 20.0, -20.0, -30.0, 30.0], dtype=torch.float64),
        torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0], dtype=torch.float64),
    )
    return input, target


def _multilabel_soft_margin_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Logits ``input`` and 0/1 targets ``target`` of shape (4, 5) (4 samples, 5 classes); the first row has
    the logits 0 and +-15 with both labels, the second one soft target 0.3."""
    input = 2 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    target = torch.randint(0, 2, (4, 5), generator=generator).double()
    input[0], target[0] = (
        torch.tensor([0.0, 15.0, -15.0, 15.0, -15.0], dtype=torch.float64),
        torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64),
    )
    target[1, 0] = 0.3
    return input, target


def _bce_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Probabilities ``input`` and targets of shape (4, 5): ordinary values plus x = 0 and 1 (the log clamp at
    -100), x = 1e-50 (below e^-100), hard and soft targets."""
    input = torch.sigmoid(2 * torch.randn(4, 5, generator=generator, dtype=torch.float64))
    target = torch.rand(4, 5, generator=generator, dtype=torch.float64)
    input[0] = torch.tensor([0.0, 1.0, 1e-50, 0.5, 1.0 - 1e-9], dtype=torch.float64)
    target[0] = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0], dtype=torch.float64)
    target[1] = (target[1] > 0.5).to(torch.float64)
    return input, target


def _bce_with_logits_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Logits ``input`` and targets of shape (4, 5): ordinary values plus logits of +-1e4 and +-50, where a
    naive log(sigmoid(x)) overflows or underflows, hard and soft targets."""
    input = 3 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    target = torch.rand(4, 5, generator=generator, dtype=torch.float64)
    input[0] = torch.tensor([-1e4, 1e4, 0.0, -50.0, 50.0], dtype=torch.float64)
    target[0] = torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0], dtype=torch.float64)
    target[1] = (target[1] > 0.5).to(torch.float64)
    return input, target


def _poisson_nll_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Log-rates ``input`` and counts ``target`` of shape (4, 5); the first row's counts are 0, 1, 2, 3 and 50,
    around the Stirling term's threshold y > 1 and far above it."""
    log_rate = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    counts = torch.poisson(log_rate.exp() * 3, generator=generator)
    counts[0] = torch.tensor([0.0, 1.0, 2.0, 3.0, 50.0], dtype=torch.float64)
    return log_rate, counts


def _kl_div_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Log-probabilities ``input`` and probabilities ``target`` of shape (4, 5) (each row a distribution); the
    first target row is one-hot and the second has a zero, where 0 log 0 must count as 0."""
    logits = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    log_q = logits - logits.logsumexp(1, keepdim=True)
    p = torch.rand(4, 5, generator=generator, dtype=torch.float64) + 0.1
    p[0] = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    p[1, 3] = 0.0
    return log_q, p / p.sum(1, keepdim=True)


def _nll_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Log-probabilities ``input`` of shape (6, 5) (each row normalised) and class indices ``target`` of shape
    (6,): every class once, and one target equal to the default ``ignore_index`` -100."""
    logits = 2 * torch.randn(6, 5, generator=generator, dtype=torch.float64)
    return logits - logits.logsumexp(1, keepdim=True), torch.tensor([0, 1, 2, 3, 4, -100])


def _cross_entropy_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Logits ``input`` of shape (6, 5) and class indices ``target`` of shape (6,); the first row's logits are
    of size 800 (``exp`` overflows even in float64 without the max shift) and the second row is uniform."""
    logits = 2 * torch.randn(6, 5, generator=generator, dtype=torch.float64)
    logits[0] = torch.tensor([800.0, 790.0, -800.0, 0.0, 805.0], dtype=torch.float64)
    logits[1] = 0.5
    return logits, torch.tensor([0, 1, 2, 3, 4, 2])


def _multi_margin_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Scores ``input`` of shape (6, 5) and class indices ``target`` of shape (6,) (every class once); the first
    row has a wrong class exactly at the margin 1 (z = 0), one tied with the true class and one far below."""
    input = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    input[0] = torch.tensor([2.0, 1.0, 2.0, -3.0, 0.5], dtype=torch.float64)
    return input, torch.tensor([0, 1, 2, 3, 4, 2])


def _multilabel_margin_exercise_inputs(generator: torch.Generator) -> tuple[Tensor, ...]:
    """Scores ``input`` of shape (4, 5) and -1 padded label lists ``target`` of shape (4, 5): two labels, a
    duplicated label with valid entries after the -1, every class a label (no -1), and a pair exactly at the
    hinge (x_j - x_i = 1) in the first row."""
    input = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    input[0] = torch.tensor([1.0, 0.0, 2.0, 0.5, -1.0], dtype=torch.float64)
    target = torch.tensor([[0, 3, -1, -1, -1], [2, 2, 4, -1, 1], [4, 0, 1, 2, 3], [1, -1, 0, 0, 0]])
    return input, target


EXERCISE_INPUTS: dict[str, Callable[[torch.Generator], tuple[Tensor, ...]]] = {
    # loss name: maker of seeded float64 inputs (ordinary values plus the kinks) for its exercises
    "l1_loss": _regression_exercise_inputs,
    "mse_loss": _regression_exercise_inputs,
    "huber_loss": _regression_exercise_inputs,
    "smooth_l1_loss": _regression_exercise_inputs,
    "binary_cross_entropy": _bce_exercise_inputs,
    "binary_cross_entropy_with_logits": _bce_with_logits_exercise_inputs,
    "soft_margin_loss": _soft_margin_exercise_inputs,
    "multilabel_soft_margin_loss": _multilabel_soft_margin_exercise_inputs,
    "gaussian_nll_loss": _gaussian_nll_exercise_inputs,
    "poisson_nll_loss": _poisson_nll_exercise_inputs,
    "kl_div": _kl_div_exercise_inputs,
    "nll_loss": _nll_exercise_inputs,
    "cross_entropy": _cross_entropy_exercise_inputs,
    "multi_margin_loss": _multi_margin_exercise_inputs,
    "multilabel_margin_loss": _multilabel_margin_exercise_inputs,
}


def exercise_inputs(name: str) -> tuple[Tensor, ...]:
    """Seeded float64 inputs for the exercises of loss ``name`` (see ``EXERCISE_INPUTS``)."""
    if name not in EXERCISE_INPUTS:
        raise KeyError(f"no exercise inputs for {name!r}; pass inputs=... to self_check")
    return EXERCISE_INPUTS[name](torch.Generator().manual_seed(0))


def self_check(
    answer: Callable,
    name: str,
    *,
    kind: str = "loss",
    reduction: str | None = None,
    inputs: Sequence[Tensor] | None = None,
    **options: Any,
) -> CheckResult:
    """Grade ``answer`` against ``torch.nn.functional.<name>`` and print a verdict in words.

    ``kind='loss'``: ``answer(*inputs, **options)`` must return the loss with ``reduction``
    (default ``'none'``). ``kind='grad'``: it must return the gradient of the loss with ``reduction``
    (default ``'sum'``) with respect to the first input. ``inputs`` are the positional tensors both are
    called with (default: :func:`exercise_inputs`); only the first is differentiated. ``reduction`` is
    passed to ``answer`` only if it asks for it. Returns a :class:`CheckResult` (truthy when right) and
    prints its message.
    """
    if kind not in ("loss", "grad"):
        raise ValueError(f"self_check(): kind={kind!r} is not valid (expected 'loss' or 'grad')")
    if reduction is None:
        reduction = "none" if kind == "loss" else "sum"
    inputs = tuple(exercise_inputs(name) if inputs is None else inputs)
    leaves = [t.clone().requires_grad_(i == 0) for i, t in enumerate(inputs)]
    expected = torch_functional(name)(*leaves, reduction=reduction, **options)
    if kind == "grad":
        expected = torch.autograd.grad(expected.sum(), leaves[0])[0]
    expected = expected.detach()
    what = "loss" if kind == "loss" else "gradient"
    call_options = dict(options)
    if "reduction" in inspect.signature(answer).parameters:
        call_options["reduction"] = reduction
    try:
        got = answer(*[t.clone() for t in inputs], **call_options)
    except NotImplementedError:
        result = CheckResult(
            False, f"Not done yet: {answer.__name__} raises NotImplementedError. Replace the `raise` with your formula."
        )
    except Exception as error:  # a reader's bug, reported in words
        result = CheckResult(False, f"{answer.__name__} raised {type(error).__name__}: {error}")
    else:
        result = _judge(got, expected, inputs, what, reduction)
    print(result.message)
    return result


def _judge(got: object, expected: Tensor, inputs: Sequence[Tensor], what: str, reduction: str) -> CheckResult:
    """Compare a reader's tensor with torch's and explain the first thing that is wrong."""
    if got is None:
        return CheckResult(False, "Your function returned None: did you forget `return`?")
    if not isinstance(got, Tensor):
        return CheckResult(False, f"Your function returned a {type(got).__name__}, expected a torch.Tensor.")
    got = got.detach()
    if got.shape != expected.shape:
        hint = ""
        if expected.dim() == 0 and got.shape == inputs[0].shape:
            hint = f" You returned one value per element: reduction='{reduction}' asks for a single number."
        elif got.dim() == 0 and expected.shape == inputs[0].shape:
            hint = f" You reduced to one number: reduction='{reduction}' asks for one value per element."
        return CheckResult(False, f"Your {what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}.{hint}")
    got = got.to(expected.dtype)
    if torch.allclose(got, expected, rtol=1e-7, atol=1e-9, equal_nan=True):
        return CheckResult(True, f"Correct: your {what} matches torch on all {expected.numel()} values.")
    factor = _constant_factor(got, expected)
    if factor is not None:
        return CheckResult(False, _explain_factor(factor, what, reduction, inputs[0].numel()))
    bad = ~torch.isclose(got, expected, rtol=1e-7, atol=1e-9, equal_nan=True)
    index = int(torch.nonzero(bad.flatten())[0])
    position = tuple(int(i) for i in torch.unravel_index(torch.tensor(index), expected.shape))
    detail = ""
    if len(inputs) > 1 and expected.shape == inputs[0].shape == inputs[1].shape and not inputs[0].is_complex():
        residual = inputs[0][position] - inputs[1][position]
        detail = (
            f" (input {float(inputs[0][position]):.4g}, target {float(inputs[1][position]):.4g}, x - y = "
            f"{float(residual):.4g})"
        )
    return CheckResult(
        False,
        f"Your {what} differs from torch at {int(bad.sum())} of {expected.numel()} values. "
        f"First at index {position}{detail}: expected {float(expected[position]):.6g}, "
        f"got {float(got[position]):.6g}.",
    )


def _constant_factor(got: Tensor, expected: Tensor) -> float | None:
    """The constant ``k`` with ``got == k * expected`` everywhere, if there is one (and it is not 1)."""
    nonzero = expected != 0
    if not nonzero.any() or not torch.isfinite(got).all() or not torch.isfinite(expected).all():
        return None
    ratios = got[nonzero] / expected[nonzero]
    k = float(ratios.flatten()[0])
    if not torch.allclose(ratios, torch.full_like(ratios, k), rtol=1e-6):
        return None
    if not torch.allclose(got[~nonzero], torch.zeros_like(got[~nonzero])):
        return None
    return k


def _explain_factor(k: float, what: str, reduction: str, numel: int) -> str:
    """Name the usual cause of a result that is off by a constant factor ``k``."""
    if math.isclose(k, -1.0, rel_tol=1e-6):
        return f"Your {what} has the wrong sign: check the order of x - y or a missing minus."
    if math.isclose(k, numel, rel_tol=1e-6):
        return f"Your {what} is {numel} times the expected value: did you sum where reduction='{reduction}' averages?"
    if math.isclose(k, 1 / numel, rel_tol=1e-6):
        return f"Your '{reduction}' {what} is 1/{numel} of the expected value: did you average instead of summing?"
    return f"Your {what} is {k:.6g} times the expected value: look for a missing or extra constant factor."
