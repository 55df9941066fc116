"""Time refimpl against torch, forward plus backward, side by side in one process.

For every loss and size, the two implementations run interleaved (torch, refimpl, torch, refimpl, ...)
so that both see the same machine state; each timing is the median of ``--repeats`` runs. The ratio
refimpl / torch is printed per loss, with the geometric mean over the large size.

    python benchmarks/bench.py                  # CPU, and CUDA when available
    python benchmarks/bench.py --threads 1      # single-threaded
    python benchmarks/bench.py --repeats 31 --loss huber_loss
"""

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch

import refimpl.functional as RF
from refimpl.testing import torch_functional

SIZES = {"small": (64, 16), "large": (4096, 1024)}  # (N, D): latency and throughput


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def regression_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    x = torch.randn(n, d, generator=generator).to(device)
    y = torch.randn(n, d, generator=generator).to(device)
    return (x, y), {}


def probability_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    p = torch.rand(n, d, generator=generator).clamp(1e-3, 1 - 1e-3).to(device)
    y = torch.rand(n, d, generator=generator).to(device)
    return (p, y), {}


def logit_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    z = (3 * torch.randn(n, d, generator=generator)).to(device)
    y = torch.rand(n, d, generator=generator).round().to(device)
    return (z, y), {}


def signed_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    z = (3 * torch.randn(n, d, generator=generator)).to(device)
    y = (2 * torch.rand(n, d, generator=generator).round() - 1).to(device)
    return (z, y), {}


def class_index_inputs(n: int, c: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    z = (3 * torch.randn(n, c, generator=generator)).to(device)
    y = torch.randint(0, c, (n,), generator=generator).to(device)
    return (z, y), {}


def log_probability_inputs(n: int, c: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    z = torch.randn(n, c, generator=generator)
    log_p = z - z.logsumexp(1, keepdim=True)
    y = torch.randint(0, c, (n,), generator=generator)
    return (log_p.to(device), y.to(device)), {}


def kl_inputs(n: int, c: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    z, t = torch.randn(n, c, generator=generator), torch.randn(n, c, generator=generator)
    return ((z - z.logsumexp(1, keepdim=True)).to(device), (t - t.logsumexp(1, keepdim=True)).exp().to(device)), {}


def count_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    x = torch.randn(n, d, generator=generator).to(device)
    y = torch.poisson(torch.full((n, d), 3.0), generator=generator).to(device)
    return (x, y), {}


def gaussian_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    x, y = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    var = torch.rand(n, d, generator=generator) + 0.1
    return (x.to(device), y.to(device), var.to(device)), {}


def pair_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    """Two score tensors and a +-1 target per element (margin ranking)."""
    generator = _generator()
    x1, x2 = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    y = 2 * torch.rand(n, d, generator=generator).round() - 1
    return (x1.to(device), x2.to(device), y.to(device)), {}


def embedding_pair_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    """Two batches of embeddings and a +-1 target per row (cosine embedding)."""
    generator = _generator()
    x1, x2 = torch.randn(n, d, generator=generator), torch.randn(n, d, generator=generator)
    y = 2 * torch.rand(n, generator=generator).round() - 1
    return (x1.to(device), x2.to(device), y.to(device)), {}


def triplet_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = _generator()
    a, p, m = (torch.randn(n, d, generator=generator).to(device) for _ in range(3))
    return (a, p, m), {}


def multilabel_index_inputs(n: int, c: int, device: str) -> tuple[tuple, dict]:
    """Scores and, per row, 5 label indices followed by -1 padding (multilabel margin; at most 100 classes)."""
    generator = _generator()
    c = min(c, 100)
    x = torch.randn(n, c, generator=generator)
    y = torch.full((n, c), -1, dtype=torch.long)
    y[:, :5] = torch.randint(0, c, (n, 5), generator=generator)
    return (x.to(device), y.to(device)), {}


def ctc_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    """Log-probabilities (T, N, C) from a log-softmax and padded targets. The large size is the issue's
    realistic one (T = 50, N = 16, C = 20, S = 10); the small one a quarter of it in each dimension."""
    t, batch, c, s = (50, 16, 20, 10) if n >= 1024 else (12, 4, 5, 3)
    generator = _generator()
    z = torch.randn(t, batch, c, generator=generator)
    log_probs = z - z.logsumexp(2, keepdim=True)
    targets = torch.randint(1, c, (batch, s), generator=generator)
    lengths = (torch.full((batch,), t, dtype=torch.long), torch.full((batch,), s, dtype=torch.long))
    return (log_probs.to(device), targets.to(device), lengths[0].to(device), lengths[1].to(device)), {}


def linear_projection_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    """Hidden states (N, d), an output projection (C, d) with C = 8 d, and class targets: the large-vocabulary
    shape of linear_cross_entropy, through torch's chunked path (``options=LinearCrossEntropyOptions()``)."""
    n, d = (2048, 256) if n >= 1024 else (64, 16)
    generator = _generator()
    x = torch.randn(n, d, generator=generator).to(device)
    w = (torch.randn(8 * d, d, generator=generator) / d**0.5).to(device)
    y = torch.randint(0, 8 * d, (n,), generator=generator).to(device)
    return (x, w, y), {"options": torch.nn.LinearCrossEntropyOptions()}


def adaptive_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    """Hidden states, Zipf-distributed targets over C classes and the weights of an adaptive softmax with
    cutoffs [C/10, C/2] and div_value 4 (head, then each tail's projection and output layer)."""
    n, d, c = (4096, 256, 20000) if n >= 1024 else (64, 16, 200)
    cutoffs = [c // 10, c // 2]
    generator = _generator()
    x = torch.randn(n, d, generator=generator)
    ranks = torch.arange(1, c + 1, dtype=torch.float64)
    y = torch.multinomial(1 / ranks, n, replacement=True, generator=generator)
    weights = [torch.randn(cutoffs[0] + 2, d, generator=generator) / d**0.5]
    for i, (low, high) in enumerate(zip(cutoffs, [*cutoffs[1:], c], strict=True)):
        hidden = d // 4 ** (i + 1)
        weights += [torch.randn(hidden, d, generator=generator) / d**0.5,
                    torch.randn(high - low, hidden, generator=generator) / hidden**0.5]
    return (x.to(device), y.to(device), *(w.to(device) for w in weights)), {}


BENCHMARKS: dict[str, tuple[Callable, dict]] = {
    # loss name: (input maker, keyword arguments); the first positional tensor is differentiated
    "l1_loss": (regression_inputs, {}),
    "mse_loss": (regression_inputs, {}),
    "huber_loss": (regression_inputs, {"delta": 0.5}),
    "smooth_l1_loss": (regression_inputs, {"beta": 0.5}),
    "poisson_nll_loss": (count_inputs, {}),
    "gaussian_nll_loss": (gaussian_inputs, {}),
    "kl_div": (kl_inputs, {"reduction": "batchmean"}),
    "binary_cross_entropy": (probability_inputs, {}),
    "binary_cross_entropy_with_logits": (logit_inputs, {}),
    "nll_loss": (log_probability_inputs, {}),
    "cross_entropy": (class_index_inputs, {}),
    "soft_margin_loss": (signed_inputs, {}),
    "multilabel_soft_margin_loss": (logit_inputs, {}),
    "hinge_embedding_loss": (signed_inputs, {}),
    "margin_ranking_loss": (pair_inputs, {"margin": 0.1}),
    "multi_margin_loss": (class_index_inputs, {}),
    "multilabel_margin_loss": (multilabel_index_inputs, {}),
    "cosine_embedding_loss": (embedding_pair_inputs, {"margin": 0.2}),
    "triplet_margin_loss": (triplet_inputs, {}),
    "triplet_margin_with_distance_loss": (triplet_inputs, {}),
    "adaptive_log_softmax": (adaptive_inputs, {}),
    "linear_cross_entropy": (linear_projection_inputs, {}),
    "ctc_loss": (ctc_inputs, {}),
}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_once(fn: Callable, args: tuple, kwargs: dict, device: str) -> float:
    """Seconds for one forward and backward pass (inputs prepared outside the timed region)."""
    leaf = args[0].detach().requires_grad_(True)
    call_args = (leaf, *args[1:])
    _sync(device)
    start = time.perf_counter()
    fn(*call_args, **kwargs).backward()
    _sync(device)
    return time.perf_counter() - start


def compare(name: str, size: str, device: str, repeats: int) -> tuple[float, float]:
    """Median seconds (torch, refimpl) over interleaved repetitions, after a warm-up of each."""
    make_inputs, options = BENCHMARKS[name]
    args, extra = make_inputs(*SIZES[size], device)
    kwargs = {**options, **extra}
    torch_fn, ref_fn = torch_functional(name), getattr(RF, name)
    for fn in (torch_fn, ref_fn):
        time_once(fn, args, kwargs, device)
    torch_times, ref_times = [], []
    for _ in range(repeats):
        torch_times.append(time_once(torch_fn, args, kwargs, device))
        ref_times.append(time_once(ref_fn, args, kwargs, device))
    return statistics.median(torch_times), statistics.median(ref_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed repetitions per implementation (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--loss", action="append", help="only these losses (repeatable)")
    parser.add_argument("--device", action="append", help="only these devices (default: cpu, and cuda if present)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    devices = options.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    names = options.loss or list(BENCHMARKS)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {options.repeats}, "
          "forward + backward")
    for device in devices:
        print(f"\n{device}: {'loss':<33} {'size':<6} {'torch ms':>9} {'refimpl ms':>11} {'ratio':>6}")
        large_ratios = []
        for name in names:
            for size in SIZES:
                t_torch, t_ref = compare(name, size, device, options.repeats)
                ratio = t_ref / t_torch
                if size == "large":
                    large_ratios.append(ratio)
                print(f"{'':<5} {name:<33} {size:<6} {1e3 * t_torch:>9.3f} {1e3 * t_ref:>11.3f} {ratio:>6.2f}")
        geometric_mean = math.exp(sum(map(math.log, large_ratios)) / len(large_ratios))
        print(f"{device}: geometric mean of the large-size ratios: {geometric_mean:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
