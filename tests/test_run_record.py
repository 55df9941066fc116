"""The test-run record (``_run_record.py``) and the book's verified-on line (``book/_ext/verified.py``)."""

import subprocess
import sys
from pathlib import Path

import pytest
from _run_record import RECORD, RunRecorder

from registry import ORDER

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from verified import chapter_losses, verified_sentence  # noqa: E402


def test_every_registry_loss_has_exactly_one_chapter():
    documented = [name for losses in chapter_losses().values() for name in losses]
    assert sorted(documented) == sorted(ORDER)
    for docname in chapter_losses():
        assert (ROOT / f"{docname}.ipynb").is_file() or (ROOT / f"{docname}.md").is_file(), docname


def test_verified_sentence_sums_the_chapter_losses():
    record = {
        "torch": "2.13.0",
        "date": "2026-11-30",
        "devices": ["cpu"],
        "python": "3.11.7",
        "losses": {
            "a": {"passed": 3, "skipped": 1, "devices": ["cpu"], "dtypes": ["float32", "float64"]},
            "b": {"passed": 4, "skipped": 0, "devices": ["cpu", "cuda"], "dtypes": ["float16"]},
        },
    }
    assert verified_sentence(record, ["a"]) == (
        "Verified against torch 2.13.0 on cpu in float32 and float64: 3 checks passed "
        "(CUDA: not available in the recorded run), 2026-11-30."
    )
    assert verified_sentence(record, ["b"]) == (
        "Verified against torch 2.13.0 on cpu and cuda in float16: 4 checks passed, 2026-11-30."
    )
    assert "7 checks passed (CUDA" in verified_sentence(record, ["a", "b"])


def test_incomplete_runs_are_not_recorded():
    recorder = RunRecorder()
    recorder.modules_collected = {"test_parity.py"}
    assert "not collected" in recorder.incomplete_reason(0)
    recorder.modules_collected = {"test_parity.py", "test_gradients.py", "test_errors.py", "test_modules.py"}
    recorder.partial_reasons = ["-k 'huber'"]
    assert "partial run" in recorder.incomplete_reason(0)
    recorder.partial_reasons = []
    assert "exit status 1" in recorder.incomplete_reason(1)
    assert "no passing test_parity for l1_loss" in recorder.incomplete_reason(0)


@pytest.mark.skipif(not RECORD.is_file(), reason="no test-run record yet: run the whole test suite once")
def test_a_selected_run_leaves_the_record_alone():
    before = RECORD.read_bytes(), RECORD.stat().st_mtime_ns
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_parity.py",
            "tests/test_gradients.py",
            "tests/test_errors.py",
            "tests/test_modules.py",
            "-k",
            "moves_like_torch and HuberLoss",
            "-q",
            "-p",
            "no:cacheprovider",
            "--write-run-record",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "test_run.json not written: partial run" in result.stdout
    assert (RECORD.read_bytes(), RECORD.stat().st_mtime_ns) == before


def test_the_record_is_written_only_when_asked(pytestconfig):
    """Tests never write tracked files on their own: the recorder exists in a session exactly when
    ``--write-run-record`` was given (``python tests/report.py --record`` gives it)."""
    recorder = pytestconfig.pluginmanager.get_plugin("run_record")
    assert (recorder is not None) == pytestconfig.getoption("write_run_record")
