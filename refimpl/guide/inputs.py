"""Typical valid inputs of each loss, of a chosen size, from a seeded generator: ``typical_inputs``.

One maker per loss serves every consumer that needs ordinary inputs rather than edge cases: the benchmarks
(``benchmarks/bench.py``, at 64 x 16 and 4096 x 1024), the convexity probes behind the loss cards
(``refimpl.guide.card_checks``), the large-sum tests and the fuzzed parity tests (their ``typical`` draws). The
registry's samples (``tests/registry/``) are the edge cases; these are the common case. The first positional
tensor is the input, the argument a probe varies and a benchmark differentiates.

``n`` is the batch and ``d`` the width (features or classes); losses whose realistic shape is another one
(CTC's (T, N, C), an adaptive softmax's vocabulary) read ``n >= 1024`` as "large" and pick their own sizes, and
below it keep ``n`` as the batch (so a test can change the shape, as the torch.compile tests do).
Values are drawn in float32 on the CPU, then converted, so they are the same on every device and in every dtype.
"""

from collections.abc import Callable

import torch
from torch import Tensor


def _regression(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    x = torch.randn(n, d, generator=generator)
    y = torch.randn(n, d, generator=generator)
    return (x, y), {}


def _probability(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    p = torch.rand(n, d, generator=generator).clamp(1e-3, 1 - 1e-3)
    y = torch.rand(n, d, generator=generator)
    return (p, y), {}


def _logit(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    z = 3 * torch.randn(n, d, generator=generator)
    y = torch.rand(n, d, generator=generator).round()
    return (z, y), {}


def _signed(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    z = 3 * torch.randn(n, d, generator=generator)
    y = 2 * torch.rand(n, d, generator=generator).round() - 1
    return (z, y), {}


def _class_index(n: int, c: int, generator: torch.Generator) -> tuple[tuple, dict]:
    z = 3 * torch.randn(n, c, generator=generator)
    y = torch.randint(0, c, (n,), generator=generator)
    return (z, y), {}


def _log_probability(n: int, c: int, generator: torch.Generator) -> tuple[tuple, dict]:
    z = torch.randn(n, c, generator=generator)
    log_p = z - z.logsumexp(1, keepdim=True)
    y = torch.randint(0, c, (n,), generator=generator)
    return (log_p, y), {}


def _kl(n: int, c: int, generator: torch.Generator) -> tuple[tuple, dict]:
    z, t = torch.randn(n, c, generator=generator), torch.randn(n, c, generator=generator)
    return ((z - z.logsumexp(1, keepdim=True)), (t - t.logsumexp(1, keepdim=True)).exp()), {}


def _count(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    x = torch.randn(n, d, generator=generator)
    y = torch.poisson(torch.full((n, d), 3.0), generator=generator)
    return (x, y), {}


def _gaussian(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    x, y = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    var = torch.rand(n, d, generator=generator) + 0.1
    return (x, y, var), {}


def _pair(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    """Two score tensors and a +-1 target per element (margin ranking)."""
    x1, x2 = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    y = 2 * torch.rand(n, d, generator=generator).round() - 1
    return (x1, x2, y), {}


def _embedding_pair(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    """Two batches of embeddings and a +-1 target per row (cosine embedding)."""
    x1, x2 = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    y = 2 * torch.rand(n, generator=generator).round() - 1
    return (x1, x2, y), {}


def _triplet(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    a, p, m = (torch.randn(n, d, generator=generator) for _ in range(3))
    return (a, p, m), {}


def _multilabel_index(n: int, c: int, generator: torch.Generator) -> tuple[tuple, dict]:
    """Scores and, per row, 5 label indices followed by -1 padding (multilabel margin; at most 100 classes)."""
    c = min(c, 100)
    x = torch.randn(n, c, generator=generator)
    y = torch.full((n, c), -1, dtype=torch.long)
    y[:, :5] = torch.randint(0, c, (n, 5), generator=generator)
    return (x, y), {}


def _ctc(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    """Log-probabilities (T, N, C) from a log-softmax and padded targets. The large size is the issue's
    realistic one (T = 50, N = 16, C = 20, S = 10); a small one has T = 12, C = 5, S = 3 and a batch of ``n``
    (4 from the benchmark's small size, 64, on: a quarter of the large one in each dimension)."""
    t, batch, c, s = (50, 16, 20, 10) if n >= 1024 else (12, n if n < 64 else 4, 5, 3)
    z = torch.randn(t, batch, c, generator=generator)
    log_probs = z - z.logsumexp(2, keepdim=True)
    targets = torch.randint(1, c, (batch, s), generator=generator)
    lengths = (torch.full((batch,), t, dtype=torch.long), torch.full((batch,), s, dtype=torch.long))
    return (log_probs, targets, lengths[0], lengths[1]), {}


def _linear_projection(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    """Hidden states (N, d), an output projection (C, d) with C = 8 d, and class targets: the large-vocabulary
    shape of linear_cross_entropy, through torch's chunked path (``options=LinearCrossEntropyOptions()``)."""
    n, d = (2048, 256) if n >= 1024 else (n, d)
    x = torch.randn(n, d, generator=generator)
    w = torch.randn(8 * d, d, generator=generator) / d**0.5
    y = torch.randint(0, 8 * d, (n,), generator=generator)
    return (x, w, y), {"options": torch.nn.LinearCrossEntropyOptions()}


def _adaptive(n: int, d: int, generator: torch.Generator) -> tuple[tuple, dict]:
    """Hidden states, Zipf-distributed targets over C classes and the weights of an adaptive softmax with
    cutoffs [C/10, C/2] and div_value 4 (head, then each tail's projection and output layer)."""
    n, d, c = (4096, 256, 20000) if n >= 1024 else (n, d, 200)
    cutoffs = [c // 10, c // 2]
    x = torch.randn(n, d, generator=generator)
    ranks = torch.arange(1, c + 1, dtype=torch.float64)
    y = torch.multinomial(1 / ranks, n, replacement=True, generator=generator)
    weights = [torch.randn(cutoffs[0] + 2, d, generator=generator) / d**0.5]
    for i, (low, high) in enumerate(zip(cutoffs, [*cutoffs[1:], c], strict=True)):
        hidden = max(1, d // 4 ** (i + 1))
        weights += [
            torch.randn(hidden, d, generator=generator) / d**0.5,
            torch.randn(high - low, hidden, generator=generator) / hidden**0.5,
        ]
    return (x, y, *weights), {}


MAKERS: dict[str, tuple[Callable[[int, int, torch.Generator], tuple[tuple, dict]], dict]] = {
    # loss name: (maker, options); the first positional tensor is the input
    "l1_loss": (_regression, {}),
    "mse_loss": (_regression, {}),
    "huber_loss": (_regression, {"delta": 0.5}),
    "smooth_l1_loss": (_regression, {"beta": 0.5}),
    "poisson_nll_loss": (_count, {}),
    "gaussian_nll_loss": (_gaussian, {}),
    "kl_div": (_kl, {"reduction": "batchmean"}),
    "binary_cross_entropy": (_probability, {}),
    "binary_cross_entropy_with_logits": (_logit, {}),
    "nll_loss": (_log_probability, {}),
    "cross_entropy": (_class_index, {}),
    "soft_margin_loss": (_signed, {}),
    "multilabel_soft_margin_loss": (_logit, {}),
    "hinge_embedding_loss": (_signed, {}),
    "margin_ranking_loss": (_pair, {"margin": 0.1}),
    "multi_margin_loss": (_class_index, {}),
    "multilabel_margin_loss": (_multilabel_index, {}),
    "cosine_embedding_loss": (_embedding_pair, {"margin": 0.2}),
    "triplet_margin_loss": (_triplet, {}),
    "triplet_margin_with_distance_loss": (_triplet, {}),
    "adaptive_log_softmax": (_adaptive, {}),
    "linear_cross_entropy": (_linear_projection, {}),
    "ctc_loss": (_ctc, {}),
}


def typical_inputs(
    name: str,
    n: int,
    d: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[tuple, dict]:
    """``(args, kwargs)`` for ``torch.nn.functional.<name>`` (or refimpl's): typical valid inputs of batch ``n``
    and width ``d``, floating tensors in ``dtype`` on ``device``, class indices and lengths as int64. The
    generator defaults to one seeded with 0."""
    if name not in MAKERS:
        raise KeyError(f"typical_inputs(): no maker for name={name!r}; known: {sorted(MAKERS)}")
    maker, options = MAKERS[name]
    args, extra = maker(n, d, generator if generator is not None else torch.Generator().manual_seed(0))
    return tuple(_place(a, dtype, device) for a in args), {**options, **extra}


def _place(value: object, dtype: torch.dtype, device: str | torch.device) -> object:
    if not isinstance(value, Tensor):
        return value
    return value.to(device=device, dtype=dtype) if value.is_floating_point() else value.to(device)
