r"""Measurements behind the loss cards: convexity by sampling, the statistic by fitting a constant, robustness
by injecting outliers. ``tests/test_cards.py`` asserts that each card's claim equals the measurement, and the
comparison table in the book shows the measurements next to the claims.

- **Convexity** (in the input, every other argument fixed): midpoint convexity
  :math:`f(\tfrac{a+b}{2}) \le \tfrac12 (f(a) + f(b))` over random pairs :math:`a, b` in the input's domain.
  A gap above ``1e-6`` is a counterexample; all gaps below ``1e-9`` (relative) count as convex.
- **Statistic**: the constant :math:`c^\star = \arg\min_c \frac1N \sum_n l(c, y_n)` over a fixed sample,
  compared with the statistic the card names (mean, median, log of the mean, frequencies...).
- **Robustness**: fit :math:`c^\star` on a clean sample, then with 5% of the targets moved by :math:`D` and by
  :math:`10 D`. A robust loss moves :math:`c^\star` by a bounded amount (the two shifts agree within 50%); a
  non-robust one moves it in proportion to :math:`D` (the far shift is over 5 times the near one).

Every loss here is refimpl's; the constants are fitted by golden-section search (one parameter) or L-BFGS.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from refimpl import functional as F
from refimpl.guide.inputs import typical_inputs

DTYPE = torch.float64


@dataclass(frozen=True)
class ConvexityCheck:
    """``convex``: no sampled pair violated midpoint convexity; ``worst_gap``: the largest violation."""

    name: str
    convex: bool
    worst_gap: float
    pairs: int


@dataclass(frozen=True)
class StatisticCheck:
    """The fitted constant (in the statistic's units), the statistic computed directly, and whether they agree."""

    name: str
    statistic: str
    fitted: tuple[float, ...]
    expected: tuple[float, ...]
    agrees: bool


@dataclass(frozen=True)
class RobustnessCheck:
    """How far the fitted constant moves when 5% of the targets move by ``distance`` and by ten times that."""

    name: str
    distance: float
    shift_near: float
    shift_far: float
    robust: bool


def _rand(g: torch.Generator, *shape: int) -> Tensor:
    return torch.rand(*shape, generator=g, dtype=DTYPE)


def _randn(g: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=g, dtype=DTYPE)


def convexity_probe(name: str, g: torch.Generator) -> tuple[Callable[[Tensor], Tensor], Callable[[], Tensor]]:
    """``(f, draw)``: the loss as a function of its input alone, every other argument fixed at a draw of the loss's
    typical inputs (``refimpl.guide.inputs``, 4 rows of width 5), and a sampler of inputs from the same maker."""

    def typical() -> tuple[tuple, dict]:
        return typical_inputs(name, 4, 5, generator=g, dtype=DTYPE)

    (_, *others), options = typical()
    loss = getattr(F, name)
    return (lambda x: loss(x, *others, **options)), (lambda: typical()[0][0])


def check_convexity(name: str, pairs: int = 400, seed: int = 0) -> ConvexityCheck:
    """Midpoint convexity of the loss in its input over ``pairs`` random pairs (see the module docstring)."""
    f, draw = convexity_probe(name, torch.Generator().manual_seed(seed))
    worst, scale = midpoint_gap(f, draw, pairs)
    if 1e-9 * (1 + scale) < worst <= 1e-6:
        raise ArithmeticError(f"check_convexity({name!r}): inconclusive, the worst gap is {worst:.3g}")
    return ConvexityCheck(name, worst <= 1e-6, worst, pairs)


def midpoint_gap(f: Callable[[Tensor], Tensor], draw: Callable[[], Tensor], pairs: int) -> tuple[float, float]:
    """``(worst, scale)``: the largest :math:`f(\\tfrac{a+b}{2}) - \\tfrac12(f(a) + f(b))` over ``pairs`` pairs drawn
    by ``draw`` (positive: a counterexample to convexity) and the largest :math:`|f|` seen."""
    worst, scale = -math.inf, 0.0
    with torch.no_grad():
        for _ in range(pairs):
            a, b = draw(), draw()
            fa, fb, fm = float(f(a)), float(f(b)), float(f((a + b) / 2))
            worst = max(worst, fm - (fa + fb) / 2)
            scale = max(scale, abs(fa), abs(fb))
    return worst, scale


def golden_section(f: Callable[[float], float], low: float, high: float, steps: int = 120) -> float:
    """The minimiser of a convex ``f`` on ``[low, high]`` by golden-section search (the bracket shrinks by
    0.618 per step)."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def _lbfgs(objective: Callable[[Tensor], Tensor], size: int) -> Tensor:
    theta = torch.zeros(size, dtype=DTYPE, requires_grad=True)
    optimiser = torch.optim.LBFGS([theta], max_iter=500, tolerance_grad=1e-12, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = objective(theta)
        loss.backward()
        return loss

    optimiser.step(closure)
    return theta.detach()


def _normalise(theta: Tensor) -> Tensor:
    """Log-probabilities from free parameters: :math:`\\theta - \\log\\sum e^\\theta`."""
    return theta - torch.logsumexp(theta, 0)


def fit_scalar(name: str, y: Tensor) -> float:
    """The constant prediction that minimises the mean loss over targets ``y`` (one value for every example),
    in the input's units (log rate for Poisson, probability for BCE, logit for the logistic losses)."""

    def mean_loss(c: float) -> float:
        x = torch.full_like(y, c)
        if name == "gaussian_nll_loss":
            return float(F.gaussian_nll_loss(x, y, torch.ones_like(y)))
        return float(getattr(F, name)(x, y))

    bounds = {"poisson_nll_loss": (-10.0, 10.0), "binary_cross_entropy": (1e-9, 1 - 1e-9)}
    low, high = bounds.get(name, (float(y.min()) - 20, float(y.max()) + 20))
    return golden_section(mean_loss, low, high)


def fit_vector(name: str, y: Tensor, classes: int) -> Tensor:
    """The constant score vector (one per class or label) that minimises the mean loss over targets ``y``."""
    n = y.shape[0]
    if name == "kl_div":
        return _lbfgs(lambda t: F.kl_div(_normalise(t).expand(n, -1), y, reduction="batchmean"), classes)
    if name == "nll_loss":
        return _normalise(_lbfgs(lambda t: F.nll_loss(_normalise(t).expand(n, -1), y), classes))
    if name == "cross_entropy":
        return _lbfgs(lambda t: F.cross_entropy(t.expand(n, -1), y), classes)
    if name == "multilabel_soft_margin_loss":
        return _lbfgs(lambda t: F.multilabel_soft_margin_loss(t.expand(n, -1), y), classes)
    if name == "multi_margin_loss":  # piecewise linear: subgradient descent with a decaying step
        theta = torch.zeros(classes, dtype=DTYPE, requires_grad=True)
        for step in range(1, 401):
            loss = F.multi_margin_loss(theta.expand(n, -1), y)
            (grad,) = torch.autograd.grad(loss, theta)
            with torch.no_grad():
                theta -= grad / math.sqrt(step)
        return theta.detach()
    raise ValueError(f"fit_vector(): no fit for name={name!r}")


def _close(a: Tensor, b: Tensor) -> bool:
    return bool(torch.allclose(a, b, rtol=0, atol=1e-4))


def _statistic(name: str, g: torch.Generator) -> tuple[Tensor, Tensor, bool]:
    """(fitted, expected, agree) for one loss on a fixed, skewed sample drawn from ``g``."""
    if name in ("l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "gaussian_nll_loss"):
        y = -torch.log(_rand(g, 201)) * 2  # exponential: skewed, so the mean and the median differ by ~0.6
        fitted = torch.tensor([fit_scalar(name, y)], dtype=DTYPE)
        if name == "l1_loss":
            expected = y.median().reshape(1)
        elif name in ("mse_loss", "gaussian_nll_loss"):
            expected = y.mean().reshape(1)
        else:  # a Huber M-estimate lies strictly between the median and the mean
            low, high = y.median(), y.mean()
            return fitted, torch.stack([low, high]), bool(low + 1e-3 < fitted[0] < high - 1e-3)
        return fitted, expected, _close(fitted, expected)
    if name == "poisson_nll_loss":
        counts = torch.poisson(torch.full((300,), 3.0, dtype=DTYPE), generator=g)
        fitted = torch.tensor([fit_scalar(name, counts)], dtype=DTYPE)
        return fitted, counts.mean().log().reshape(1), _close(fitted, counts.mean().log().reshape(1))
    if name in ("binary_cross_entropy", "binary_cross_entropy_with_logits", "soft_margin_loss"):
        ones = (_rand(g, 300) < 0.3).to(DTYPE)
        y = ones * 2 - 1 if name == "soft_margin_loss" else ones
        fitted = torch.tensor([fit_scalar(name, y)], dtype=DTYPE)
        p = ones.mean()
        expected = p if name == "binary_cross_entropy" else torch.log(p / (1 - p))
        return fitted, expected.reshape(1), _close(fitted, expected.reshape(1))
    if name in ("kl_div", "nll_loss", "cross_entropy", "multi_margin_loss"):
        probabilities = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=DTYPE)
        labels = torch.multinomial(probabilities, 400, replacement=True, generator=g)
        frequencies = torch.bincount(labels, minlength=4).to(DTYPE) / 400
        if name == "kl_div":
            y = _rand(g, 400, 4) ** 2
            y = y / y.sum(1, keepdim=True)
            fitted = _normalise(fit_vector(name, y, 4)).exp()
            return fitted, y.mean(0), _close(fitted, y.mean(0))
        fitted = fit_vector(name, labels, 4)
        if name == "multi_margin_loss":  # only the decision: the argmax is the most frequent class
            return fitted, frequencies, int(fitted.argmax()) == int(frequencies.argmax())
        fitted = _normalise(fitted).exp()
        return fitted, frequencies, _close(fitted, frequencies)
    if name == "multilabel_soft_margin_loss":
        y = (_rand(g, 400, 3) < torch.tensor([0.2, 0.5, 0.7], dtype=DTYPE)).to(DTYPE)
        fitted, p = fit_vector(name, y, 3), y.mean(0)
        return fitted, torch.log(p / (1 - p)), _close(fitted, torch.log(p / (1 - p)))
    raise ValueError(f"check_statistic(): the statistic of {name!r} is not measured")


STATISTIC_MEASURED = (
    "l1_loss",
    "mse_loss",
    "huber_loss",
    "smooth_l1_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "kl_div",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "nll_loss",
    "cross_entropy",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "multi_margin_loss",
)
"""The losses whose elicited statistic is measured by fitting a constant."""


def check_statistic(name: str, statistic: str, seed: int = 0) -> StatisticCheck:
    """Fit a constant by minimising the mean loss over a fixed sample and compare it with the statistic."""
    fitted, expected, agrees = _statistic(name, torch.Generator().manual_seed(seed))
    return StatisticCheck(name, statistic, tuple(fitted.tolist()), tuple(expected.tolist()), agrees)


ROBUSTNESS_MEASURED = ("l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "poisson_nll_loss", "gaussian_nll_loss")
"""The losses whose robustness to outliers in the target is measured by injecting them."""


def _fitted_location(name: str, y: Tensor) -> float:
    c = fit_scalar(name, y)
    return math.exp(c) if name == "poisson_nll_loss" else c  # Poisson: compare rates, not log rates


def check_robustness(name: str, distance: float = 100.0, seed: int = 0) -> RobustnessCheck:
    """Move 5% of the targets by ``distance`` and by ``10 * distance`` and measure how far the fit moves."""
    g = torch.Generator().manual_seed(seed)
    if name == "poisson_nll_loss":
        y = torch.poisson(torch.full((200,), 3.0, dtype=DTYPE), generator=g)
    else:
        y = _randn(g, 200)
    moved = torch.zeros_like(y)
    moved[:10] = 1.0
    clean = _fitted_location(name, y)
    near = abs(_fitted_location(name, y + distance * moved) - clean)
    far = abs(_fitted_location(name, y + 10 * distance * moved) - clean)
    if far > 5 * near:
        robust = False
    elif far < 1.5 * near:
        robust = True
    else:
        raise ArithmeticError(f"check_robustness({name!r}): inconclusive, shifts {near:.3g} and {far:.3g}")
    return RobustnessCheck(name, distance, near, far, robust)


__all__ = [
    "ROBUSTNESS_MEASURED",
    "STATISTIC_MEASURED",
    "ConvexityCheck",
    "RobustnessCheck",
    "StatisticCheck",
    "check_convexity",
    "check_robustness",
    "check_statistic",
    "convexity_probe",
    "fit_scalar",
    "fit_vector",
    "golden_section",
    "midpoint_gap",
]
