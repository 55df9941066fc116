"""Record the book's Speed page: run bench.py, write the JSON files the pages read, re-execute the pages.

    python benchmarks/speed_page.py              # all threads and --threads 1 on the CPU; CUDA when available
    python benchmarks/speed_page.py --repeats 31

Each thread setting is recorded twice on the CPU: with glibc's allocator as it comes, and with freed memory kept
for reuse (``bench.py --malloc keep``; see bench.py on why that changes the large-size timings). Writes
``book/reference/speed_cpu.json`` (``{"runs": [all threads, one thread, all threads kept, one thread kept]}``,
each run a bench.py record) and, when a GPU is available, ``book/reference/speed_cuda.json``
(``{"runs": [cuda]}``); then executes ``book/reference/speed.ipynb`` and ``book/reference/formula_to_fast.ipynb``
in place. An existing ``speed_cuda.json`` is kept on a machine without a GPU, so a CUDA run recorded elsewhere
stays on the page.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"
PAGE_DIR = ROOT / "book" / "reference"


def run_bench(device: str, threads: int, repeats: int, malloc: str = "glibc") -> dict:
    """One bench.py run in a fresh process (so that the thread setting and the allocator start clean); the peak
    memory of the large-output losses is measured in the runs with glibc's defaults."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "run.json"
        command = [
            sys.executable,
            str(BENCH),
            "--device",
            device,
            "--repeats",
            str(repeats),
            "--json",
            str(path),
            "--malloc",
            malloc,
        ]
        if malloc == "glibc":
            command.append("--memory")
        if threads:
            command += ["--threads", str(threads)]
        print("$", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
        return json.loads(path.read_text())


def write(name: str, runs: list[dict]) -> None:
    """Write the runs next to the page, with the recorded peak memory of linear_cross_entropy (the page reads
    only files of its own folder)."""
    memory = json.loads((ROOT / "book" / "large_output" / "linear_cross_entropy_memory.json").read_text())
    path = PAGE_DIR / name
    path.write_text(json.dumps({"runs": runs, "linear_cross_entropy_memory": memory}, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="timed repetitions per implementation (median)")
    parser.add_argument("--no-execute", action="store_true", help="write the JSON files, leave the page alone")
    options = parser.parse_args()
    runs = [run_bench("cpu", threads, options.repeats, malloc) for malloc in ("glibc", "keep") for threads in (0, 1)]
    write("speed_cpu.json", runs)
    if torch.cuda.is_available():
        write("speed_cuda.json", [run_bench("cuda", 0, options.repeats)])
    if not options.no_execute:
        for page in (PAGE_DIR / "speed.ipynb", PAGE_DIR / "formula_to_fast.ipynb"):
            subprocess.run([sys.executable, "-m", "jupyter", "execute", "--inplace", str(page)], check=True, cwd=ROOT)
            print(f"executed {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
