"""Time torch, refimpl, torch.compile(refimpl) and refimpl.fast, forward plus backward, side by side in one process.

Four contenders per loss, called as functions on the same inputs:

- ``torch``: ``torch.nn.functional.<name>`` (torch's fused kernel, or its chain of operations);
- ``refimpl``: ``refimpl.functional.<name>``, the readable reference the book prints;
- ``compiled``: ``torch.compile(refimpl.functional.<name>)`` (inductor; on the CPU it generates C++);
- ``fast``: ``refimpl.fast.<name>``, the hand-tuned implementation (the readable one where nothing pays).

Modules (``--kind module``) compare ``torch.nn.<Class>`` with ``refimpl.nn.<Class>`` only. For every loss and
size the contenders run interleaved (torch, refimpl, compiled, fast, torch, ...) so that all see the same machine
state; each timing is the median of ``--repeats`` runs, after a warm-up call of each (which is where
torch.compile compiles). The ratios to torch are printed per loss, with their geometric mean over the large
size; ``--json PATH`` also writes the results and the machine. ``--memory`` adds the peak memory of the
large-output losses (each contender in a fresh process, at the large size).

    python benchmarks/bench.py                  # CPU, and CUDA when available
    python benchmarks/bench.py --threads 1      # single-threaded
    python benchmarks/bench.py --repeats 31 --loss huber_loss
    python benchmarks/bench.py --json results.json --memory
    python benchmarks/bench.py --malloc keep    # glibc keeps freed memory for reuse (no page faults)

The allocator matters at the large size. A 4096 x 1024 float32 tensor is 16 MiB; glibc's malloc hands memory
that large back to the kernel when it is freed, beyond about two such blocks, so every further temporary of a
call is fresh memory that the kernel must map and zero page by page (page faults) before the first write. Code
with more temporaries (the readable refimpl more than torch's fused kernels) pays for that, and how much varies
from run to run with what the heap holds. ``--malloc keep`` sets glibc's thresholds so that freed memory is kept
and reused, as the jemalloc and tcmalloc allocators that PyTorch's CPU performance guide recommends do: the
timings then measure the arithmetic and the memory traffic alone. ``speed_page.py`` records both.
"""

import argparse
import ctypes
import ctypes.util
import datetime
import functools
import itertools
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import refimpl.fast as FAST
import refimpl.functional as RF
import refimpl.nn as RN
from refimpl.guide.inputs import typical_inputs
from refimpl.testing import torch_functional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from registry import CASES, CASES_BY_NAME  # noqa: E402  (the losses, their torch modules: tests/registry/)

SIZES = {"small": (64, 16), "large": (4096, 1024)}  # (N, D): latency and throughput


KINDS = ("functional", "module")


class ModuleLoss:
    """A loss module called as a function of the benchmark's positional inputs, returning the loss.

    The modules with weights (adaptive softmax, linear cross-entropy) take them from the inputs, as the
    functional forms do, and keep them frozen: both kinds then do the same work, the loss's forward and its
    backward to the first input. ``AdaptiveLogSoftmaxWithLoss`` returns ``(output, loss)``; its ``loss`` is timed.
    """

    def __init__(self, namespace: object, name: str, args: tuple, kwargs: dict, device: str):
        module_class = getattr(namespace, CASES_BY_NAME[name].torch_module.__name__)
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


def keep_freed_memory() -> None:
    """Make glibc's malloc keep freed memory for reuse: blocks up to 32 MiB (its largest mmap threshold) come
    from the heap, and the heap is never trimmed (``mallopt``, Linux with glibc only)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    if not (libc.mallopt(m_mmap_threshold, 32 * 2**20) and libc.mallopt(m_trim_threshold, 2**31 - 1)):
        raise RuntimeError("mallopt refused the thresholds")


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


CONTENDERS = ("torch", "refimpl", "compiled", "fast")
MODULE_CONTENDERS = ("torch", "refimpl")
LARGE_OUTPUT = ("adaptive_log_softmax", "linear_cross_entropy")  # the losses whose point is memory


@functools.cache
def compiled(name: str) -> Callable:
    """``torch.compile`` of the readable refimpl function (one compiled callable per loss, reused across sizes)."""
    return torch.compile(getattr(RF, name))


def contenders(name: str, kind: str, size: str, device: str) -> tuple[dict[str, Callable], tuple, dict]:
    """``({contender: callable}, positional inputs, keyword arguments)`` of one loss, kind and size."""
    args, kwargs = typical_inputs(name, *SIZES[size], device=device)
    if kind == "functional":
        functions = {
            "torch": torch_functional(name),
            "refimpl": getattr(RF, name),
            "compiled": compiled(name),
            "fast": getattr(FAST, name),
        }
        return functions, args, kwargs
    modules = {
        side: ModuleLoss(namespace, name, args, kwargs, device)
        for side, namespace in (("torch", torch.nn), ("refimpl", RN))
    }
    return modules, args, {}


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
    """What one forward and backward at the small size does, for torch, refimpl and refimpl.fast: ``*_ops``, the
    aten operations dispatched (each costs a fixed few microseconds of Python, dispatcher and kernel launch before
    any arithmetic); ``*_writes``, those writing a tensor of the first input's size, new or in place (one pass
    over memory each); ``*_nodes``, the nodes of the autograd graph."""
    functions, args, kwargs = contenders(name, kind, "small", device)
    counts = {}
    for side, fn in functions.items():
        if side == "compiled":
            continue  # a compiled graph dispatches its own kernels, not aten operations
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


def compare(name: str, kind: str, size: str, device: str, repeats: int) -> tuple[dict[str, float], dict[str, str]]:
    """({contender: median seconds}, {contender: error}) over interleaved repetitions, after a warm-up of each (a
    contender whose warm-up raises, such as a failed compilation, is reported with its error and not timed). The
    order rotates from one repetition to the next, so that no contender always runs right after the same other one."""
    functions, args, kwargs = contenders(name, kind, size, device)
    errors = {}
    for side, fn in list(functions.items()):
        try:
            time_once(fn, args, kwargs, device)
        except Exception as error:  # noqa: BLE001 - recorded in the results, e.g. a torch.compile failure
            errors[side] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
            del functions[side]
    times: dict[str, list[float]] = {side: [] for side in functions}
    order = list(functions)
    for _ in range(repeats):
        for side in order:
            times[side].append(time_once(functions[side], args, kwargs, device))
        order = order[1:] + order[:1]  # rotate: each contender runs after each other one equally often
    return {side: statistics.median(values) for side, values in times.items()}, errors


def peak_memory_mib(name: str, contender: str, device: str) -> float:
    """Peak resident memory of one forward and backward of ``contender`` at the large size, in MiB above the
    inputs: measured in a fresh process (its ``VmHWM``), so that nothing else has touched its pages."""
    command = [sys.executable, __file__, "--memory-child", f"{name}:{contender}:{device}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["extra_mib"]


def memory_child(spec: str) -> None:
    """The child of :func:`peak_memory_mib`: print the peak RSS above the RSS with the inputs allocated."""
    name, contender, device = spec.split(":")
    functions, args, kwargs = contenders(name, "functional", "large", device)
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    time_once(functions[contender], args, kwargs, device)
    # VmHWM, the peak of this address space: unlike ru_maxrss it starts afresh at exec, so it does not inherit
    # the peak of the parent that started this process
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024  # kB
    print(json.dumps({"extra_mib": peak - before}))


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
    parser.add_argument("--repeats", type=int, default=15, help="timed repetitions per contender (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--loss", action="append", help="only these losses (repeatable)")
    parser.add_argument("--kind", action="append", choices=KINDS, help="functional (default), module")
    parser.add_argument("--device", action="append", help="only these devices (default: cpu, and cuda if present)")
    parser.add_argument("--memory", action="store_true", help="also the peak memory of the large-output losses")
    parser.add_argument("--json", metavar="PATH", help="also write the results and the machine to PATH")
    parser.add_argument(
        "--malloc",
        choices=("glibc", "keep"),
        default="glibc",
        help="glibc: the allocator's defaults; keep: freed memory is kept for reuse (see above)",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.memory_child:
        memory_child(options.memory_child)
        return
    if options.malloc == "keep":
        keep_freed_memory()
    if options.threads:
        torch.set_num_threads(options.threads)
    devices = options.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    names = options.loss or [case.name for case in CASES]
    kinds = options.kind or ["functional"]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, malloc {options.malloc}, median of "
        f"{options.repeats}, forward + backward; ratios to torch"
    )
    results, means, latency, memory = [], [], {}, []
    for device in devices:
        latency[device] = op_latency_us(device)
        print(
            f"\n{device}: {'loss':<33} {'kind':<10} {'size':<6} {'torch ms':>9} "
            + " ".join(f"{side:>9}" for side in CONTENDERS[1:])
        )
        large_ratios: dict[tuple[str, str], list[float]] = {}
        for name in names:
            for kind in kinds:
                for size in SIZES:
                    seconds, errors = compare(name, kind, size, device, options.repeats)
                    ratios = {side: seconds[side] / seconds["torch"] for side in seconds if side != "torch"}
                    if size == "large":
                        for side, ratio in ratios.items():
                            large_ratios.setdefault((kind, side), []).append(ratio)
                    result = {
                        "loss": name,
                        "kind": kind,
                        "size": size,
                        "device": device,
                        "ms": {side: 1e3 * t for side, t in seconds.items()},
                        "ratios": ratios,
                        "errors": errors,
                        "torch_ms": 1e3 * seconds["torch"],
                        "refimpl_ms": 1e3 * seconds["refimpl"],
                        "ratio": ratios["refimpl"],
                    }
                    if size == "small":
                        result.update(count_ops(name, kind, device))
                    results.append(result)
                    cells = " ".join(
                        f"{ratios[side]:>9.2f}" if side in ratios else f"{'error':>9}"
                        for side in (CONTENDERS[1:] if kind == "functional" else MODULE_CONTENDERS[1:])
                    )
                    print(f"{'':<5} {name:<33} {kind:<10} {size:<6} {1e3 * seconds['torch']:>9.3f} {cells}", flush=True)
        for (kind, side), values in large_ratios.items():
            mean = geometric_mean(values)
            means.append(
                {
                    "device": device,
                    "kind": kind,
                    "contender": side,
                    "size": "large",
                    "geometric_mean": mean,
                    "losses": len(values),
                }
            )
            print(f"{device}: geometric mean of the large-size {kind} ratios, {side}: {mean:.2f} over {len(values)}")
        if options.memory and device == "cpu":
            for name in (n for n in names if n in LARGE_OUTPUT):
                row = {"loss": name, "device": device, "extra_mib": {}}
                for side in CONTENDERS:
                    row["extra_mib"][side] = peak_memory_mib(name, side, device)
                memory.append(row)
                print(
                    f"{device}: {name} peak MiB above the inputs: "
                    + ", ".join(f"{side} {mib:.0f}" for side, mib in row["extra_mib"].items())
                )
    if options.json:
        record = {
            "machine": machine(torch.get_num_threads()),
            "malloc": options.malloc,
            "repeats": options.repeats,
            "sizes": SIZES,
            "contenders": list(CONTENDERS),
            "op_latency_us": latency,
            "results": results,
            "geometric_means": means,
            "peak_memory": memory,
        }
        with open(options.json, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
