r"""Pitfall detectors: recognise the common mistakes in a loss call from the values it is given.

``diagnose(loss_name, input, target, ...)`` binds the call to the signature of
``refimpl.functional.<loss_name>`` (the same as torch's), runs every detector that applies to that loss and
returns a list of :class:`Finding` (empty when nothing looks wrong). It never calls the loss, so it also
explains calls that make torch raise.

    >>> import torch, refimpl
    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    >>> [f.code for f in refimpl.diagnose("cross_entropy", logits.softmax(1), torch.tensor([0, 2]))]
    ['probabilities-as-logits']

Every detector is conservative: it fires only on evidence that a correct call essentially cannot produce
(rows that sum to 1 where unnormalised scores are expected, labels that are exactly {0, 1} where the loss
expects -1 and +1, a float tensor of whole numbers where class indices are expected...). A false alarm
teaches users to ignore the tool, so each one is tested to stay silent on every sample of the parity
registry (``tests/registry/``) except the few samples that are themselves the mistake, and on realistic
correct calls. NaN, inf and empty tensors never trigger a finding.

Chapter: ``book/misconceptions.ipynb``.
"""

import inspect
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from refimpl import functional

SIGMOID_OF_ONE = 1.0 / (1.0 + math.exp(-1.0))  # 0.7311: the largest value sigmoid(sigmoid(z)) can take


@dataclass(frozen=True)
class Finding:
    """One recognised mistake: a short ``code``, the evidence in words (naming the argument) and the fix."""

    code: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message} Fix: {self.fix}"


# ----------------------------------------------------------------------------------------------------------
# Evidence helpers: all computed in float64 on finite, non-empty floating tensors only.


def _values(value: object) -> Tensor | None:
    """``value`` as a float64 tensor when it is a non-empty, all-finite floating tensor; otherwise None."""
    if not isinstance(value, Tensor) or not value.is_floating_point() or value.numel() == 0:
        return None
    values = value.detach().to(torch.float64)
    return values if bool(torch.isfinite(values).all()) else None


def _tolerance(value: Tensor) -> float:
    """How far from 1 a sum of probabilities may drift by rounding in ``value``'s dtype: each entry is off by
    at most its own relative rounding error, so the sum is off by at most that error times 1, whatever C."""
    return {torch.float64: 1e-6, torch.float32: 1e-4}.get(value.dtype, 2e-2)


def _class_dim(input: Tensor) -> int:
    """The class dimension of a classification input: 0 for an unbatched (C,) input, 1 otherwise."""
    return 0 if input.dim() == 1 else 1


def _on_simplex(value: object, dim: int) -> bool:
    """True when every slice of ``value`` along ``dim`` (at least 2 entries) is a probability vector:
    entries in [0, 1] that sum to 1 within rounding."""
    values = _values(value)
    if values is None or values.dim() == 0 or values.shape[dim] < 2:
        return False
    in_unit = bool(((values >= 0) & (values <= 1)).all())
    sums = values.sum(dim)
    return in_unit and bool(((sums - 1).abs() <= _tolerance(value)).all())


def _softmax_twice_evidence(value: Tensor, dim: int) -> str:
    """An extra sentence when every probability vector has max/min <= e: a softmax of values in [0, 1]
    can spread no further, so the probabilities went through a softmax twice."""
    values = value.detach().to(torch.float64)
    ratio = values.amax(dim) / values.amin(dim)
    if bool((ratio <= math.e * (1 + _tolerance(value))).all()):
        return (
            " Every vector's largest entry is at most e times its smallest, as after a softmax applied to"
            " probabilities: softmax was applied twice."
        )
    return ""


def _probability_like(value: object) -> bool:
    """All entries in [0, 1] and at least one clearly above 0: values that cannot be log-probabilities."""
    values = _values(value)
    if values is None:
        return False
    return bool(((values >= 0) & (values <= 1)).all()) and float(values.max()) > 1e-3


def _log_probability_like(value: object) -> bool:
    """All entries <= 0 and at least one clearly below 0: values that cannot be probabilities."""
    values = _values(value)
    if values is None:
        return False
    return bool((values <= 0).all()) and float(values.min()) < -1e-3


def _whole_numbers_in(value: Tensor, low: int, high: int) -> bool:
    """Every entry of ``value`` is a whole number in [low, high)."""
    values = _values(value)
    if values is None:
        return False
    return bool(((values == values.round()) & (values >= low) & (values < high)).all())


# ----------------------------------------------------------------------------------------------------------
# Detectors: one per mistake; each takes (loss_name, bound arguments) and returns a Finding or None.


def probabilities_as_logits(loss: str, args: dict) -> Finding | None:
    """Rule: the loss applies softmax (cross_entropy) or sigmoid (binary_cross_entropy_with_logits,
    multilabel_soft_margin_loss) itself, and ``input`` already looks like its output.

    cross_entropy: every slice along the class dimension (C >= 2) lies in [0, 1] and sums to 1. Logits are
    unnormalised scores; a correct call produces rows summing to exactly 1 only by coincidence.
    Sigmoid losses: at least 16 entries, all in [0, 1], some below 0.1 and some above 0.9: the spread of the
    probabilities of a model that separates anything. Logits that confident reach beyond [0, 1]; logits kept
    inside [0, 1] (a bias initialised at a class prior, small weights) do not span it, so they stay silent.
    """
    input = args["input"]
    if loss == "cross_entropy":
        if not isinstance(input, Tensor) or not _on_simplex(input, _class_dim(input)):
            return None
        return Finding(
            "probabilities-as-logits",
            "every slice of input along the class dimension lies in [0, 1] and sums to 1: cross_entropy expects"
            " unnormalised logits and applies log_softmax itself, so softmax is applied twice and the gradient"
            " shrinks." + _softmax_twice_evidence(input, _class_dim(input)),
            "pass the logits (the values before softmax); to train on probabilities use nll_loss(p.log(), target).",
        )
    values = _values(input)
    if values is None or values.numel() < 16 or not bool(((values >= 0) & (values <= 1)).all()):
        return None
    if not (float(values.min()) < 0.1 and float(values.max()) > 0.9):
        return None
    return Finding(
        "probabilities-as-logits",
        f"all {values.numel()} entries of input lie in [0, 1]: {loss} expects logits and applies sigmoid itself,"
        " so sigmoid is applied twice and every prediction is squeezed into [0.5, 0.73].",
        "pass the logits (the values before sigmoid), or use binary_cross_entropy on the probabilities.",
    )


def probabilities_as_log_probabilities(loss: str, args: dict) -> Finding | None:
    """Rule: the loss expects log-probabilities (nll_loss, ctc_loss, kl_div's input) and gets probabilities.

    nll_loss and ctc_loss: every slice along the class dimension (C >= 2) lies in [0, 1] and sums to 1;
    log-probabilities are <= 0, so such rows are impossible for them unless C = 1.
    kl_div: every entry in [0, 1] and one clearly above 0; a log-probability is never positive.
    """
    if loss == "kl_div":
        input = args["input"]
        if not _probability_like(input) or kl_div_arguments_swapped(loss, args) is not None:
            return None
        return Finding(
            "probabilities-as-log-probabilities",
            "input lies in [0, 1] with positive entries: kl_div expects log-probabilities for input (which are"
            " <= 0), and the 'divergence' it returns from probabilities can be negative.",
            "pass input.log() (or log_softmax of the logits) as input.",
        )
    name = "log_probs" if loss == "ctc_loss" else "input"
    input = args[name]
    dim = 2 if loss == "ctc_loss" and isinstance(input, Tensor) and input.dim() == 3 else -1
    if loss == "nll_loss" and isinstance(input, Tensor):
        dim = _class_dim(input)
    if not isinstance(input, Tensor) or not _on_simplex(input, dim):
        return None
    return Finding(
        "probabilities-as-log-probabilities",
        f"every slice of {name} along the class dimension lies in [0, 1] and sums to 1: {loss} expects"
        " log-probabilities (log_softmax output), not probabilities." + _softmax_twice_evidence(input, dim),
        "apply log_softmax to the logits instead of softmax (or pass the logits to cross_entropy).",
    )


def kl_div_arguments_swapped(loss: str, args: dict) -> Finding | None:
    """Rule: kl_div(input, target) with log_target=False, where input looks like probabilities (all in
    [0, 1], one clearly positive) and target like log-probabilities (all <= 0, one clearly negative).

    The correct call has the opposite signs on both arguments at once, so a correct call cannot match.
    """
    if loss != "kl_div" or args.get("log_target"):
        return None
    if not (_probability_like(args["input"]) and _log_probability_like(args["target"])):
        return None
    return Finding(
        "kl-div-arguments-swapped",
        "input looks like probabilities (all in [0, 1]) and target like log-probabilities (all <= 0): kl_div"
        " takes the model's log-probabilities first and the target distribution second (the reverse of"
        " KL(P || Q)'s reading order); a negative target gives NaN.",
        "call kl_div(log_q, p) with log_q the model's log-probabilities and p the target probabilities"
        " (or log_target=True with log p).",
    )


def log_probabilities_as_probabilities(loss: str, args: dict) -> Finding | None:
    """Rule: kl_div with log_target=False whose target is all <= 0 with one clearly negative entry while input
    is not probability-like (that case is the swap above). Probabilities are never negative, so a correct call
    cannot match; torch computes NaN from such a target.
    """
    if loss != "kl_div" or args.get("log_target") or not _log_probability_like(args["target"]):
        return None
    if _probability_like(args["input"]):
        return None
    return Finding(
        "log-probabilities-as-probabilities",
        "target is <= 0 everywhere with negative entries: with log_target=False kl_div expects probabilities,"
        " and the negative entries give NaN.",
        "pass log_target=True, or pass target.exp().",
    )


def class_indices_as_float(loss: str, args: dict) -> Finding | None:
    """Rule: a loss that takes class indices (cross_entropy, nll_loss, multi_margin_loss) gets a floating
    target shaped like the input without its class dimension, all whole numbers in [0, C).

    Class-probability targets (cross_entropy only) have the input's full shape, so they cannot match.
    """
    input, target = args["input"], args["target"]
    if not isinstance(input, Tensor) or not isinstance(target, Tensor) or input.dim() == 0:
        return None
    if not target.is_floating_point() or input.dim() != target.dim() + 1:
        return None
    dim = _class_dim(input)
    if tuple(target.shape) != tuple(input.shape[:dim] + input.shape[dim + 1 :]):
        return None
    if not _whole_numbers_in(target, 0, input.shape[dim]):
        return None
    return Finding(
        "class-indices-as-float",
        f"target is {target.dtype} holding whole numbers in [0, {input.shape[dim]}) with the input's shape less"
        f" its class dimension: {loss} expects class indices as an integer (int64) tensor.",
        "pass target.long().",
    )


def silent_broadcast(loss: str, args: dict) -> Finding | None:
    """Rule: one elementwise argument has the other's shape plus a trailing dimension of size 1, and the two
    broadcast to more elements than either: (N, 1) against (N,) gives (N, N), so every prediction is compared
    with every target. torch 2.13 only warns in l1, mse, huber, smooth_l1 and kl_div, says nothing in
    poisson_nll_loss, gaussian_nll_loss and hinge_embedding_loss, and raises in the BCE losses.

    Deliberate broadcasting (a (C,) target against (N, C), a scalar, (3, 1) against (1, 4)) does not add a
    single trailing 1 to the other shape, so it cannot match; empty tensors are ignored.
    """
    names = [n for n in ("input", "target", "input1", "input2") if isinstance(args.get(n), Tensor)]
    for first in names:
        for second in names:
            a, b = args[first], args[second]
            if tuple(a.shape) != (*b.shape, 1) or b.numel() == 0:
                continue
            try:
                shape = torch.broadcast_shapes(a.shape, b.shape)
            except RuntimeError:
                continue
            if math.prod(shape) <= max(a.numel(), b.numel()):
                continue
            return Finding(
                "silent-broadcast",
                f"{first} has shape {tuple(a.shape)} and {second} {tuple(b.shape)}; they broadcast to"
                f" {tuple(shape)}, so {loss} compares every entry of one with every entry of the other and"
                " averages over the wrong pairs.",
                f"give both the same shape, e.g. {first}.squeeze(-1) or {second}.unsqueeze(-1).",
            )
    return None


def zero_one_labels(loss: str, args: dict) -> Finding | None:
    """Rule: a loss that expects labels in {-1, +1} (hinge_embedding_loss, soft_margin_loss,
    margin_ranking_loss, cosine_embedding_loss) gets a target whose values are exactly {0, 1}, both present.

    A correct target never contains 0 (these losses give a 0 label a meaning no one intends: a constant or
    nothing), and a target holding only 0s and 1s is the 0/1 convention of BCE.
    """
    target = args["target"]
    if not isinstance(target, Tensor) or target.numel() == 0 or target.is_complex():
        return None
    values = set(torch.unique(target.detach()).double().tolist())
    if values != {0.0, 1.0}:
        return None
    return Finding(
        "zero-one-labels",
        f"target holds only the values 0 and 1: {loss} expects labels -1 and +1, and a 0 label does not mean"
        " 'negative' to it.",
        "pass 2 * target - 1.",
    )


def logits_as_probabilities(loss: str, args: dict) -> Finding | None:
    """Rule: binary_cross_entropy gets an input with finite entries outside [0, 1]. Probabilities cannot be
    there (torch raises); these are logits."""
    input = args["input"]
    if not isinstance(input, Tensor) or not input.is_floating_point() or input.numel() == 0:
        return None
    values = input.detach().to(torch.float64)
    finite = values[torch.isfinite(values)]
    if not bool(((finite < 0) | (finite > 1)).any()):
        return None
    return Finding(
        "logits-as-probabilities",
        f"input has entries outside [0, 1] (from {float(finite.min()):.3g} to {float(finite.max()):.3g}):"
        " binary_cross_entropy expects probabilities, and these look like logits.",
        "use binary_cross_entropy_with_logits on the logits (stable), not sigmoid + binary_cross_entropy.",
    )


def sigmoid_applied_twice(loss: str, args: dict) -> Finding | None:
    """Rule: binary_cross_entropy gets at least 16 probabilities that all lie in (0.5, sigmoid(1)] and span
    that range (some below 0.55, some above 0.70). sigmoid(sigmoid(z)) fills exactly this band; a correct
    model that predicts 'positive' for every sample and also reaches both ends of the band while stopping
    at 0.7311 is vanishingly unlikely.
    """
    values = _values(args["input"])
    if values is None or values.numel() < 16:
        return None
    low, high = float(values.min()), float(values.max())
    upper = SIGMOID_OF_ONE + _tolerance(args["input"])
    if not (0.5 < low < 0.55 and 0.70 < high <= upper):
        return None
    return Finding(
        "sigmoid-applied-twice",
        f"all {values.numel()} entries of input lie in ({low:.3f}, {high:.3f}), inside (0.5, 0.731] = the range"
        " of sigmoid(sigmoid(z)): binary_cross_entropy's input went through sigmoid twice.",
        "apply sigmoid once, or better pass the logits to binary_cross_entropy_with_logits.",
    )


DETECTORS = {  # loss name -> the detectors that apply to it
    "cross_entropy": (probabilities_as_logits, class_indices_as_float),
    "binary_cross_entropy_with_logits": (probabilities_as_logits, silent_broadcast),
    "multilabel_soft_margin_loss": (probabilities_as_logits,),
    "nll_loss": (probabilities_as_log_probabilities, class_indices_as_float),
    "ctc_loss": (probabilities_as_log_probabilities,),
    "kl_div": (
        kl_div_arguments_swapped,
        probabilities_as_log_probabilities,
        log_probabilities_as_probabilities,
        silent_broadcast,
    ),
    "multi_margin_loss": (class_indices_as_float,),
    "binary_cross_entropy": (logits_as_probabilities, sigmoid_applied_twice, silent_broadcast),
    "l1_loss": (silent_broadcast,),
    "mse_loss": (silent_broadcast,),
    "huber_loss": (silent_broadcast,),
    "smooth_l1_loss": (silent_broadcast,),
    "poisson_nll_loss": (silent_broadcast,),
    "gaussian_nll_loss": (silent_broadcast,),
    "soft_margin_loss": (zero_one_labels, silent_broadcast),
    "hinge_embedding_loss": (zero_one_labels, silent_broadcast),
    "margin_ranking_loss": (zero_one_labels, silent_broadcast),
    "cosine_embedding_loss": (zero_one_labels,),
}


def diagnose(loss_name: str, input: object, target: object, *args: object, **kwargs: object) -> list[Finding]:
    """Look for common mistakes in the call ``<loss_name>(input, target, *args, **kwargs)``.

    The arguments are bound to ``refimpl.functional.<loss_name>``'s signature (torch's), so the call reads
    exactly as the loss call: ``diagnose("margin_ranking_loss", x1, x2, y, margin=0.5)``. The loss is not
    run. Returns the findings, most specific first; an empty list when no detector fires.

    Raises:
        ValueError: ``loss_name`` is not a loss of ``refimpl.functional``.
        TypeError: the arguments do not fit the loss's signature.
    """
    fn = getattr(functional, loss_name, None)
    if fn is None or loss_name.endswith("_grad") or not callable(fn):
        raise ValueError(f"diagnose(): loss_name={loss_name!r} is not a loss of refimpl.functional")
    bound = inspect.signature(fn).bind(input, target, *args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    findings = (detector(loss_name, arguments) for detector in DETECTORS.get(loss_name, ()))
    return [finding for finding in findings if finding is not None]
