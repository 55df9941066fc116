"""Time refimpl against torch, forward plus backward, side by side in one process.

Every loss is timed twice: as a function (``refimpl.functional.<name>`` against
``torch.nn.functional.<name>``) and as a module (``refimpl.nn.<Class>`` against ``torch.nn.<Class>``, built
with the same options and weights, called on the same inputs). For every loss, kind and size, the two
implementations run interleaved (torch, refimpl, torch, refimpl, ...) so that both see the same machine
state; each timing is the median of ``--repeats`` runs. The ratio refimpl / torch is printed per loss, with
the geometric mean over the large size; ``--json PATH`` also writes the results and the machine.

    python benchmarks/bench.py                  # CPU, and CUDA when available
    python benchmarks/bench.py --threads 1      # single-threaded
    python benchmarks/bench.py --repeats 31 --loss huber_loss --kind functional
    python benchmarks/bench.py --json results.json
"""

import argparse
import datetime
import itertools
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import refimpl.functional as RF
import refimpl.nn as RN
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


MODULES: dict[str, str] = {
    # loss name: the torch.nn (and refimpl.nn) class; the options above are its constructor's keyword arguments
    "l1_loss": "L1Loss",
    "mse_loss": "MSELoss",
    "huber_loss": "HuberLoss",
    "smooth_l1_loss": "SmoothL1Loss",
    "poisson_nll_loss": "PoissonNLLLoss",
    "gaussian_nll_loss": "GaussianNLLLoss",
    "kl_div": "KLDivLoss",
    "binary_cross_entropy": "BCELoss",
    "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
    "nll_loss": "NLLLoss",
    "cross_entropy": "CrossEntropyLoss",
    "soft_margin_loss": "SoftMarginLoss",
    "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
    "hinge_embedding_loss": "HingeEmbeddingLoss",
    "margin_ranking_loss": "MarginRankingLoss",
    "multi_margin_loss": "MultiMarginLoss",
    "multilabel_margin_loss": "MultiLabelMarginLoss",
    "cosine_embedding_loss": "CosineEmbeddingLoss",
    "triplet_margin_loss": "TripletMarginLoss",
    "triplet_margin_with_distance_loss": "TripletMarginWithDistanceLoss",
    "adaptive_log_softmax": "AdaptiveLogSoftmaxWithLoss",
    "linear_cross_entropy": "LinearCrossEntropyLoss",
    "ctc_loss": "CTCLoss",
}
KINDS = ("functional", "module")


class ModuleLoss:
    """A loss module called as a function of the benchmark's positional inputs, returning the loss.

    The modules with weights (adaptive softmax, linear cross-entropy) take them from the inputs, as the
    functional forms do, and keep them frozen: both kinds then do the same work, the loss's forward and its
    backward to the first input. ``AdaptiveLogSoftmaxWithLoss`` returns ``(output, loss)``; its ``loss`` is timed.
    """

    def __init__(self, namespace: object, name: str, args: tuple, kwargs: dict, device: str):
        module_class = getattr(namespace, MODULES[name])
        self.inputs, weights = range(len(args)), ()  # which positional inputs the module takes; its weights
        if name == "adaptive_log_softmax":
            x, _, head, *tails = args
            sizes = [w.shape[0] for w in tails[1::2]]
            shortlist = head.shape[0] - len(sizes)
            cutoffs = list(itertools.accumulate([shortlist, *sizes[:-1]]))
            self.module = module_class(x.shape[1], shortlist + sum(sizes), cutoffs, div_value=4.0)
            self.inputs, weights = (0, 1), (head, *tails)
        elif name == "linear_cross_entropy":
            x, w, _ = args
            self.module = module_class(x.shape[1], w.shape[0], **kwargs)
            self.inputs, weights = (0, 2), (w,)
        else:
            self.module = module_class(**kwargs)
        self.module.load_state_dict(dict(zip(self.module.state_dict(), weights, strict=True)))
        self.module.to(device).requires_grad_(False)
        self.adaptive = name == "adaptive_log_softmax"

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        result = self.module(*(args[i] for i in self.inputs))
        return result.loss if self.adaptive else result


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


def implementations(name: str, kind: str, size: str, device: str) -> tuple[Callable, Callable, tuple, dict]:
    """``(torch's, refimpl's, positional inputs, keyword arguments)`` of one loss, kind and size."""
    make_inputs, options = BENCHMARKS[name]
    args, extra = make_inputs(*SIZES[size], device)
    kwargs = {**options, **extra}
    if kind == "functional":
        return torch_functional(name), getattr(RF, name), args, kwargs
    torch_module, ref_module = (ModuleLoss(namespace, name, args, kwargs, device) for namespace in (torch.nn, RN))
    return torch_module, ref_module, args, {}


class _OpCounter(TorchDispatchMode):
    """Counts the aten operations dispatched below autograd (forward, backward and autograd's own), and those
    of them that write a tensor of ``numel`` elements, new or in place (views and detaches excluded)."""

    def __init__(self, numel: int):
        super().__init__()
        self.numel, self.ops, self.writes = numel, 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        writes = isinstance(out, torch.Tensor) and not (func.is_view or func._opname == "detach")
        if writes and out.numel() == self.numel:
            self.writes += 1
        return out


def graph_nodes(loss: torch.Tensor) -> int:
    """The nodes of the autograd graph behind ``loss`` (gradient accumulation into the leaves not counted):
    each is a separate backward computation."""
    seen, stack = set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen or type(node).__name__ == "AccumulateGrad":
            continue
        seen.add(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return len(seen)


def count_ops(name: str, kind: str, device: str) -> dict:
    """What one forward and backward at the small size does, for torch and refimpl: ``*_ops``, the aten
    operations dispatched (each costs a fixed few microseconds of Python, dispatcher and kernel launch before any
    arithmetic); ``*_writes``, those writing a tensor of the first input's size, new or in place (one pass over
    memory each); ``*_nodes``, the nodes of the autograd graph."""
    torch_fn, ref_fn, args, kwargs = implementations(name, kind, "small", device)
    counts = {}
    for side, fn in (("torch", torch_fn), ("refimpl", ref_fn)):
        leaf = args[0].detach().requires_grad_(True)
        with _OpCounter(leaf.numel()) as counter:
            loss = fn(leaf, *args[1:], **kwargs)
            counts[f"{side}_nodes"] = graph_nodes(loss)
            loss.backward()
        counts[f"{side}_ops"], counts[f"{side}_writes"] = counter.ops, counter.writes
    return counts


def op_latency_us(device: str, calls: int = 2000) -> float:
    """Median microseconds of one small elementwise operation (``a + b`` on two 64 x 16 tensors): the fixed
    cost of an operation whose arithmetic is negligible."""
    a, b = torch.ones(64, 16, device=device), torch.ones(64, 16, device=device)
    times = []
    for _ in range(calls):
        _sync(device)
        start = time.perf_counter()
        torch.add(a, b)
        _sync(device)
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def compare(name: str, kind: str, size: str, device: str, repeats: int) -> tuple[float, float]:
    """Median seconds (torch, refimpl) over interleaved repetitions, after a warm-up of each."""
    torch_fn, ref_fn, args, kwargs = implementations(name, kind, size, device)
    for fn in (torch_fn, ref_fn):
        time_once(fn, args, kwargs, device)
    torch_times, ref_times = [], []
    for _ in range(repeats):
        torch_times.append(time_once(torch_fn, args, kwargs, device))
        ref_times.append(time_once(ref_fn, args, kwargs, device))
    return statistics.median(torch_times), statistics.median(ref_times)


def machine(threads: int) -> dict:
    """What the numbers were measured on: CPU model and cores, torch version and threads, GPU, date (UTC)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed repetitions per implementation (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--loss", action="append", help="only these losses (repeatable)")
    parser.add_argument("--kind", action="append", choices=KINDS, help="functional, module (default: both)")
    parser.add_argument("--device", action="append", help="only these devices (default: cpu, and cuda if present)")
    parser.add_argument("--json", metavar="PATH", help="also write the results and the machine to PATH")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)
    devices = options.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    names = options.loss or list(BENCHMARKS)
    kinds = options.kind or list(KINDS)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {options.repeats}, "
          "forward + backward")
    results, means, latency = [], [], {}
    for device in devices:
        latency[device] = op_latency_us(device)
        print(f"\n{device}: {'loss':<33} {'kind':<10} {'size':<6} {'torch ms':>9} {'refimpl ms':>11} {'ratio':>6}")
        large_ratios: dict[str, list[float]] = {kind: [] for kind in kinds}
        for name in names:
            for kind in kinds:
                for size in SIZES:
                    t_torch, t_ref = compare(name, kind, size, device, options.repeats)
                    ratio = t_ref / t_torch
                    if size == "large":
                        large_ratios[kind].append(ratio)
                    results.append({"loss": name, "kind": kind, "size": size, "device": device,
                                    "torch_ms": 1e3 * t_torch, "refimpl_ms": 1e3 * t_ref, "ratio": ratio})
                    if size == "small":
                        results[-1].update(count_ops(name, kind, device))
                    print(f"{'':<5} {name:<33} {kind:<10} {size:<6} {1e3 * t_torch:>9.3f} {1e3 * t_ref:>11.3f} "
                          f"{ratio:>6.2f}", flush=True)
        for kind in kinds:
            mean = geometric_mean(large_ratios[kind])
            means.append({"device": device, "kind": kind, "size": "large", "geometric_mean": mean})
            print(f"{device}: geometric mean of the large-size {kind} ratios: {mean:.2f} (target <= 1.25)")
    if options.json:
        record = {"machine": machine(torch.get_num_threads()), "repeats": options.repeats,
                  "sizes": SIZES, "op_latency_us": latency, "results": results, "geometric_means": means}
        with open(options.json, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
