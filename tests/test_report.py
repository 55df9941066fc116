"""The figures report (tests/report.py): its totals, the run record it reads, and the files it writes."""

import json

import report


def _row(name, bad, run, same):
    return dict(
        name=name,
        parity={"cpu": 8, "cuda": 12},
        samples=4,
        bad=bad,
        run=run,
        same=same,
        not_run=bad - run,
        categories={c: (bad if c == "shape" else 0) for c in report.ERROR_CATEGORIES},
        dtypes={"cpu": ["float64"], "cuda": ["float64", "float16"]},
        dtype_source="the registry",
    )


def test_render_sums_the_rows_and_says_when_no_run_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RUN_RECORD", tmp_path / "missing.json")
    text = report.render([_row("a_loss", 3, 2, 2), _row("b_loss", 5, 5, 4)])
    assert "2 losses; 8 parity samples (float64), 16 parity calls on cpu; 24 parity calls on cuda." in text
    assert "8 malformed calls: torch and refimpl refused 6 of the 7 run on this machine" in text
    assert "Malformed calls by category: shape 8." in text
    assert "No full test run is recorded yet" in text
    assert "| `b_loss` | 4 | 8 | 12 | 5 | 4 of 5 | 0 | float64 | float64, float16 |" in text
    assert text == report.render([_row("a_loss", 3, 2, 2), _row("b_loss", 5, 5, 4)])


def test_render_reads_the_totals_of_the_last_run(tmp_path, monkeypatch):
    record = {
        "torch": "2.13.0",
        "python": "3.11.7",
        "devices": ["cpu"],
        "date": "2026-11-30",
        "losses": {"a_loss": {"passed": 10, "skipped": 2}, "b_loss": {"passed": 5, "skipped": 1}},
    }
    (tmp_path / "run.json").write_text(json.dumps(record))
    monkeypatch.setattr(report, "RUN_RECORD", tmp_path / "run.json")
    text = report.render([_row("a_loss", 1, 1, 1)])
    assert (
        "Last full test run (2026-11-30, torch 2.13.0, Python 3.11.7): 15 registry tests passed and 3 were "
        "skipped over 2 losses; parity held on: cpu."
    ) in text


def test_readme_section_is_replaced_between_the_markers(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{report.START}\nold figures\n{report.END}\nafter\n")
    monkeypatch.setattr(report, "README", readme)
    report.write_readme("new figures\n")
    assert readme.read_text() == f"before\n{report.START}\nnew figures\n{report.END}\nafter\n"
