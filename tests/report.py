"""The test figures, generated: ``python tests/report.py`` writes them into README.md and the book.

``python tests/report.py --record`` first runs the registry tests (one process, no pytest-xdist, about as long as
the whole suite on one core) with ``--write-run-record``, which rewrites ``book/_data/test_run.json``, the record
the book's chapters and these figures cite. Nothing else writes it. ``python tests/report.py --check`` writes
nothing: it fails, saying why, when the committed record or figures no longer match the registry (CI runs it).

For each loss, from the registry (``tests/registry/``) and by running its malformed calls:

- parity calls: the samples in every dtype the registry tests, per device (each sample already fixes its
  reduction, so samples x dtypes x reductions is the number of parity comparisons on that device);
- bad inputs: the malformed calls in the registry, how many torch and refimpl refuse with the same exception
  type on this machine, and how many need a device this machine lacks (calls that mix CPU and CUDA);
- dtypes per device: ``supported_dtypes`` from ``tests/test_dtypes.py`` when that module exists, else the
  registry's ``LossCase.dtypes``;

plus the totals of the last full test run, from ``book/_data/test_run.json`` when it exists. The text has no
timings and no paths, so two runs on the same machine write the same bytes.

The functions here are also what the book's bad-inputs page (``book/reference/bad_inputs.ipynb``) calls.
"""

import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from registry import CASES  # noqa: E402  (the registry imports its siblings by name: tests/ must be on sys.path)
from registry.core import ERROR_CATEGORIES, ErrorInput, LossCase  # noqa: E402
from registry.devices import device_errors  # noqa: E402

README = ROOT / "README.md"
FIGURES_PAGE = ROOT / "book" / "foundations" / "testing_figures.md"
RUN_RECORD = ROOT / "book" / "_data" / "test_run.json"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


@dataclass
class Refusal:
    """One malformed call run through torch and refimpl: the exceptions (None: nothing raised, or not run)."""

    error: ErrorInput
    runnable: bool
    torch_exc: BaseException | None = None
    ref_exc: BaseException | None = None

    @property
    def same_type(self) -> bool:
        """Both refused, refimpl with torch's exception type (an instance of it: refimpl's ``NotATensorError`` is
        both the TypeError a tensor argument should raise and the AttributeError torch raises for some)."""
        return self.torch_exc is not None and isinstance(self.ref_exc, type(self.torch_exc))


def first_line(exc: BaseException | None, width: int = 110) -> str:
    """An exception's message, first line, trimmed to ``width`` characters ('' for None)."""
    if exc is None:
        return ""
    text = (str(exc).strip().splitlines() or [""])[0].strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def all_errors(case: LossCase) -> list[ErrorInput]:
    """The loss's malformed calls: its ``errors()`` and its mixed-device call."""
    return list(case.errors()) + device_errors(case)


def device_available(device: str) -> bool:
    return device == "" or device == "cpu" or (device == "cuda" and torch.cuda.is_available())


def refusals(case: LossCase) -> list[Refusal]:
    """Every malformed call of ``case`` run through torch and refimpl (those needing a missing device: not run)."""
    out = []
    for error in all_errors(case):
        if not device_available(error.device):
            out.append(Refusal(error, runnable=False))
            continue
        out.append(Refusal(error, True, error.raised_by(case.torch_fn), error.raised_by(case.ref_fn)))
    return out


def _dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def dtypes_per_device(case: LossCase) -> tuple[str, dict[str, list[str]]]:
    """(source, device -> dtype names): ``supported_dtypes(name, device)`` from ``tests/test_dtypes.py`` (which
    asks torch, and gives the registry's declaration for a device this machine lacks) if that module exists,
    else the registry's ``LossCase.dtypes``."""
    try:
        supported_dtypes = importlib.import_module("test_dtypes").supported_dtypes
    except (ImportError, AttributeError):
        return "the registry", {d: [_dtype_name(t) for t in dtypes] for d, dtypes in case.dtypes.items()}
    source = "`supported_dtypes` in tests/test_dtypes.py (on a device this machine lacks: the registry)"
    return source, {d: [_dtype_name(t) for t in supported_dtypes(case.name, d)] for d in case.dtypes}


def parity_calls(case: LossCase) -> dict[str, int]:
    """Device -> the number of parity comparisons: samples summed over the dtypes tested on that device (the
    samples are generated on the CPU; a device's samples are the same list)."""
    per_dtype = {}
    for dtypes in case.dtypes.values():
        for dtype in dtypes:
            if dtype not in per_dtype:
                per_dtype[dtype] = len(case.samples("cpu", dtype))
    return {device: sum(per_dtype[d] for d in dtypes) for device, dtypes in case.dtypes.items()}


def figures() -> list[dict]:
    """One row of figures per loss, in the book's order."""
    rows = []
    for case in CASES:
        ran = refusals(case)
        source, dtypes = dtypes_per_device(case)
        rows.append(
            dict(
                name=case.name,
                parity=parity_calls(case),
                samples=len(case.samples("cpu", torch.float64)),
                bad=len(ran),
                run=sum(r.runnable for r in ran),
                same=sum(r.same_type for r in ran),
                not_run=sum(not r.runnable for r in ran),
                categories={c: sum(r.error.category == c for r in ran) for c in ERROR_CATEGORIES},
                dtypes=dtypes,
                dtype_source=source,
            )
        )
    return rows


def _run_record_text() -> str:
    if not RUN_RECORD.exists():
        return (
            "No full test run is recorded yet (`python tests/report.py --record` writes "
            "`book/_data/test_run.json` after a complete, passing run of the registry tests)."
        )
    record = json.loads(RUN_RECORD.read_text())
    losses = record.get("losses", {})
    passed = sum(v.get("passed", 0) for v in losses.values())
    skipped = sum(v.get("skipped", 0) for v in losses.values())
    devices = ", ".join(record.get("devices", [])) or "none"
    return (
        f"Last full test run ({record.get('date', 'date unknown')}, torch {record.get('torch', '?')}, "
        f"Python {record.get('python', '?')}): {passed} registry tests passed and {skipped} were skipped over "
        f"{len(losses)} losses; parity held on: {devices}."
    )


def render(rows: list[dict]) -> str:
    """The figures as Markdown (a table per loss and the totals)."""
    devices = sorted({d for row in rows for d in row["parity"]}, key=lambda d: (d != "cpu", d))
    head = ["loss", "samples"] + [f"parity calls ({d})" for d in devices]
    head += ["bad inputs", "same type as torch", "not run here"] + [f"dtypes ({d})" for d in devices]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"`{row['name']}`", str(row["samples"])] + [str(row["parity"].get(d, 0)) for d in devices]
        cells += [str(row["bad"]), f"{row['same']} of {row['run']}", str(row["not_run"])]
        cells += [", ".join(row["dtypes"].get(d, [])) for d in devices]
        lines.append("| " + " | ".join(cells) + " |")
    total = {k: sum(row[k] for row in rows) for k in ("samples", "bad", "run", "same", "not_run")}
    calls = {d: sum(row["parity"].get(d, 0) for row in rows) for d in devices}
    categories = {c: sum(row["categories"][c] for row in rows) for c in ERROR_CATEGORIES}
    sources = sorted({row["dtype_source"] for row in rows})
    summary = [
        f"{len(rows)} losses; {total['samples']} parity samples (float64), "
        + "; ".join(f"{calls[d]} parity calls on {d}" for d in devices)
        + ".",
        f"{total['bad']} malformed calls: torch and refimpl refused {total['same']} of the {total['run']} run on "
        f"this machine with the same exception type; {total['not_run']} need a CUDA device this machine lacks (without "
        "one, tests/test_errors.py mixes CPU with meta tensors instead, where torch refuses that too).",
        "Malformed calls by category: " + ", ".join(f"{c} {n}" for c, n in categories.items() if n) + ".",
        f"Dtypes per device from {' and '.join(sources)}.",
        _run_record_text(),
    ]
    note = "<!-- generated by `python tests/report.py`; do not edit by hand -->"
    return "\n".join([note, "", *[f"- {s}" for s in summary], "", *lines, ""])


def write_readme(text: str) -> None:
    readme = README.read_text()
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md lacks the markers {START} and {END}")
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    README.write_text(f"{before}{START}\n{text}{END}{after}")


def write_page(text: str) -> None:
    FIGURES_PAGE.write_text(text)


def record_run() -> None:
    """Run the registry tests in one process with ``--write-run-record`` (see the module docstring)."""
    import subprocess

    from _run_record import REGISTRY_MODULES

    command = [
        sys.executable,
        "-m",
        "pytest",
        *(f"tests/{name}" for name in REGISTRY_MODULES),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--write-run-record",
    ]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


class _ItemCounter:
    """A pytest plugin that counts the collected registry test items of each loss."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def pytest_collection_modifyitems(self, items):
        from _run_record import _loss_params

        for item in items:
            params = _loss_params(item)
            if params is not None:
                self.counts[params[0]] = self.counts.get(params[0], 0) + 1


def stale_record_reasons() -> list[str]:
    """Why the committed ``book/_data/test_run.json`` no longer describes the registry tests (empty: it does).
    Collects the registry tests (no run) and compares each loss's number of test items with the record's passed
    plus skipped, and the record's torch release with the installed one."""
    import pytest
    from _run_record import REGISTRY_MODULES

    if not RUN_RECORD.is_file():
        return [f"{RUN_RECORD.relative_to(ROOT)} does not exist"]
    record = json.loads(RUN_RECORD.read_text())
    counter = _ItemCounter()
    modules = [str(TESTS / name) for name in REGISTRY_MODULES]
    options = ["--collect-only", "-qq", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:warnings"]
    code = pytest.main([*modules, *options], [counter])
    if code != 0:
        return [f"collecting the registry tests failed (pytest exit code {int(code)})"]
    reasons = []
    release = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    if not record.get("torch", "").startswith(release + "."):
        reasons.append(f"the record is of torch {record.get('torch')}, torch {torch.__version__} is installed")
    recorded = {name: entry["passed"] + entry["skipped"] for name, entry in record.get("losses", {}).items()}
    for name in sorted(set(counter.counts) | set(recorded)):
        if counter.counts.get(name) != recorded.get(name):
            reasons.append(
                f"{name}: {counter.counts.get(name, 0)} registry tests now, {recorded.get(name, 0)} recorded"
            )
    return reasons


def check() -> int:
    """``--check``: exit status 1, saying why, if the committed record or figures are stale (CI runs this)."""
    problems = [f"{RUN_RECORD.relative_to(ROOT)}: {reason}" for reason in stale_record_reasons()]
    text = render(figures())
    readme = README.read_text()
    if f"{START}\n{text}{END}" not in readme:
        problems.append("README.md: the figures differ from what tests/report.py writes now")
    if not FIGURES_PAGE.is_file() or FIGURES_PAGE.read_text() != text:
        problems.append(f"{FIGURES_PAGE.relative_to(ROOT)}: the figures differ from what tests/report.py writes now")
    for problem in problems:
        print(f"stale: {problem}")
    if problems:
        print("run `python tests/report.py --record` and commit README.md, the figures page and the record")
        return 1
    print("the test-run record and the figures are current")
    return 0


def main() -> None:
    if "--check" in sys.argv[1:]:
        raise SystemExit(check())
    if "--record" in sys.argv[1:]:
        record_run()
    text = render(figures())
    write_readme(text)
    write_page(text)
    print(f"wrote the figures to {README.relative_to(ROOT)} and {FIGURES_PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
