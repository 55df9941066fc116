"""The test-run record: what the parity tests verified, written to ``book/_data/test_run.json``.

A pytest plugin, registered only when asked (``--write-run-record``, which ``python tests/report.py --record``
passes): a test run never writes a tracked file otherwise. At the end of a session that collected the whole
registry tests (``test_parity``, ``test_gradients``, ``test_errors``, ``test_modules``) without deselection and ran
them with no failure, it writes::

    {"torch": "2.13.0+cpu", "python": "3.11.7", "devices": ["cpu"], "date": "2026-11-30",
     "losses": {"l1_loss": {"passed": 123, "skipped": 4, "devices": ["cpu"], "dtypes": ["float32", ...]}, ...}}

Per loss, ``passed`` and ``skipped`` count the test items whose ``case`` parameter is that loss;
``devices`` are the devices its ``test_parity`` items passed on and ``dtypes`` the dtypes they passed in.
The top-level ``devices`` are those on which ``test_parity`` passed for every loss. A partial run (``-k``,
``-m``, ``--lf``, a node id, a subset of the four files) or any failure leaves the file untouched,
and so does a run spread over pytest-xdist workers (the README's command): each worker sees only part of the
run. Keys are
written sorted, so the file changes only when the facts do. The book's ``verified`` extension prints it under
each chapter's title.
"""

import datetime
import json
import platform
from pathlib import Path

import pytest
import torch

RECORD = Path(__file__).resolve().parent.parent / "book" / "_data" / "test_run.json"
REGISTRY_MODULES = ("test_parity.py", "test_gradients.py", "test_errors.py", "test_modules.py")


class RunRecorder:
    """Collects per-loss outcomes of the registry tests during one pytest session."""

    def __init__(self):
        self.losses: dict[str, dict] = {}
        self.modules_collected: set[str] = set()
        self.partial_reasons: list[str] = []
        self.failed = 0

    # -- collection -------------------------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, config, items):
        self.modules_collected = {item.path.name for item in items if item.path.name in REGISTRY_MODULES}
        if config.option.keyword:
            self.partial_reasons.append(f"-k {config.option.keyword!r}")
        if config.option.markexpr:
            self.partial_reasons.append(f"-m {config.option.markexpr!r}")
        if any("::" in arg for arg in config.args):
            self.partial_reasons.append("node ids selected")

    def pytest_deselected(self, items):
        self.partial_reasons.append(f"{len(items)} items deselected")

    # -- outcomes ---------------------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed += 1
        if report.when == "call" and report.passed or report.skipped and report.when in ("setup", "call"):
            self._count(report)

    def _count(self, report):
        params = getattr(report, "_loss_params", None)
        if params is None:
            return
        name, device, dtype, is_parity = params
        entry = self.losses.setdefault(
            name, {"passed": 0, "skipped": 0, "devices": set(), "dtypes": set(), "parity_passed": 0}
        )
        if report.skipped:
            entry["skipped"] += 1
            return
        entry["passed"] += 1
        if is_parity:
            entry["parity_passed"] += 1
            entry["devices"].add(device)
            entry["dtypes"].add(dtype)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        params = _loss_params(item)
        if params is not None:
            outcome.get_result()._loss_params = params

    # -- the record -------------------------------------------------------------------------------------------
    def pytest_sessionfinish(self, session, exitstatus):
        reason = self.incomplete_reason(exitstatus)
        if reason is not None:
            if self.modules_collected:
                print(f"\n{RECORD.name} not written: {reason}")
            return
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(self.record(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"\nwrote {RECORD}")

    def incomplete_reason(self, exitstatus) -> str | None:
        from registry import ORDER  # the registry, imported late: only sessions that ran its tests need it

        missing_modules = sorted(set(REGISTRY_MODULES) - self.modules_collected)
        if missing_modules:
            return f"not collected: {', '.join(missing_modules)}"
        if self.partial_reasons:
            return "partial run (" + "; ".join(self.partial_reasons) + ")"
        if exitstatus != 0 or self.failed:
            return f"exit status {int(exitstatus)}, {self.failed} failed reports"
        unverified = [name for name in ORDER if self.losses.get(name, {}).get("parity_passed", 0) == 0]
        if unverified:
            return f"no passing test_parity for {', '.join(unverified)}"
        return None

    def record(self) -> dict:
        losses = {
            name: {
                "passed": entry["passed"],
                "skipped": entry["skipped"],
                "devices": sorted(entry["devices"]),
                "dtypes": sorted(entry["dtypes"]),
            }
            for name, entry in self.losses.items()
        }
        common_devices = set.intersection(*(set(entry["devices"]) for entry in losses.values()))
        return {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "devices": sorted(common_devices),
            "date": datetime.date.today().isoformat(),
            "losses": losses,
        }


def _loss_params(item) -> tuple[str, str, str, bool] | None:
    """(loss name, device, dtype, is a parity test) for a registry test item, else None."""
    callspec = getattr(item, "callspec", None)
    if item.path.name not in REGISTRY_MODULES or callspec is None or "case" not in callspec.params:
        return None
    params = callspec.params
    device = params.get("device", "cpu")
    dtype = params.get("dtype")
    dtype_name = str(dtype).removeprefix("torch.") if dtype is not None else ""
    return params["case"].name, device, dtype_name, item.originalname == "test_parity"


def pytest_addoption(parser):
    parser.addoption(
        "--write-run-record",
        action="store_true",
        default=False,
        help=f"after a complete, passing run of the registry tests, write {RECORD.name} (tracked)",
    )


def pytest_configure(config):
    if not config.getoption("write_run_record") or hasattr(config, "workerinput"):
        return  # not asked for; or a pytest-xdist worker, which sees only its share of the tests
    config.pluginmanager.register(RunRecorder(), "run_record")
