"""Peak memory and time of linear cross-entropy, forward + backward, on the CPU.

Each variant runs in its own subprocess and reports its peak resident set size (``ru_maxrss``) and the
same minus the RSS just before the loss (inputs and weights allocated, so the difference is what the
loss itself needs):

- ``naive``: ``F.cross_entropy(F.linear(x, W), y)``, which holds the full (N, C) logits and their gradient;
- ``torch-chunked``: ``F.linear_cross_entropy(..., options=LinearCrossEntropyOptions())``;
- ``refimpl``: ``refimpl.functional.linear_cross_entropy`` (the readable loop over row chunks);
- ``refimpl-fast``: ``refimpl.fast.linear_cross_entropy`` (the tuned chunks).

Usage: ``python benchmarks/linear_cross_entropy_memory.py [--n 8192 --d 512 --c 32768] [--json PATH]``.
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

VARIANTS = ("naive", "torch-chunked", "refimpl", "refimpl-fast")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child(variant: str, n: int, d: int, c: int) -> None:
    import torch
    import torch.nn.functional as F

    import refimpl.fast
    import refimpl.functional as RF

    torch.manual_seed(0)
    x = torch.randn(n, d, requires_grad=True)
    w = (torch.randn(c, d) / d**0.5).requires_grad_()
    y = torch.randint(0, c, (n,))
    before = _rss_mib()
    start = time.perf_counter()
    if variant == "naive":
        loss = F.cross_entropy(F.linear(x, w), y)
    elif variant == "torch-chunked":
        loss = F.linear_cross_entropy(x, w, y, options=torch.nn.LinearCrossEntropyOptions())
    elif variant == "refimpl":
        loss = RF.linear_cross_entropy(x, w, y)
    else:
        loss = refimpl.fast.linear_cross_entropy(x, w, y)
    loss.backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {"variant": variant, "peak_mib": peak, "extra_mib": peak - before, "seconds": seconds, "loss": loss.item()}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--c", type=int, default=32768)
    parser.add_argument("--json", help="write the results (with the machine's description) to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.d, args.c)
        return
    rows = []
    for variant in VARIANTS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--n", str(args.n), "--d", str(args.d), "--c", str(args.c)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    logits_mib = args.n * args.c * 4 / 2**20
    print(f"N={args.n}, d={args.d}, C={args.c}, float32; the logits alone are {logits_mib:.0f} MiB")
    print(f"{'variant':<15}{'peak RSS MiB':>14}{'extra MiB':>12}{'seconds':>10}{'loss':>10}")
    for r in rows:
        print(f"{r['variant']:<15}{r['peak_mib']:>14.0f}{r['extra_mib']:>12.0f}{r['seconds']:>10.2f}{r['loss']:>10.4f}")
    if args.json:
        import torch

        machine = f"{platform.machine()} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
        with open(args.json, "w") as f:
            json.dump(
                {"machine": machine, "n": args.n, "d": args.d, "c": args.c, "logits_mib": logits_mib, "results": rows},
                f,
                indent=1,
            )
            f.write("\n")


if __name__ == "__main__":
    main()
