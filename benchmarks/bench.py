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
import torch.nn.functional as F

import refimpl.functional as RF

SIZES = {"small": (64, 16), "large": (4096, 1024)}  # (N, D): latency and throughput


def regression_inputs(n: int, d: int, device: str) -> tuple[tuple, dict]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=generator).to(device)
    y = torch.randn(n, d, generator=generator).to(device)
    return (x, y), {}


BENCHMARKS: dict[str, tuple[Callable, dict]] = {
    # loss name: (input maker, keyword arguments); the first positional tensor is differentiated
    "l1_loss": (regression_inputs, {}),
    "mse_loss": (regression_inputs, {}),
    "huber_loss": (regression_inputs, {"delta": 0.5}),
    "smooth_l1_loss": (regression_inputs, {"beta": 0.5}),
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
    torch_fn, ref_fn = getattr(F, name), getattr(RF, name)
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
        print(f"\n{device}: {'loss':<18} {'size':<6} {'torch ms':>9} {'refimpl ms':>11} {'ratio':>6}")
        large_ratios = []
        for name in names:
            for size in SIZES:
                t_torch, t_ref = compare(name, size, device, options.repeats)
                ratio = t_ref / t_torch
                if size == "large":
                    large_ratios.append(ratio)
                print(f"{'':<5} {name:<18} {size:<6} {1e3 * t_torch:>9.3f} {1e3 * t_ref:>11.3f} {ratio:>6.2f}")
        geometric_mean = math.exp(sum(map(math.log, large_ratios)) / len(large_ratios))
        print(f"{device}: geometric mean of the large-size ratios: {geometric_mean:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
