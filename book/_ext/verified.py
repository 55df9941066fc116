"""Sphinx extension: under each loss chapter's title, the line saying what the test run verified.

The line is generated from ``book/_data/test_run.json``, which ``python tests/report.py --record`` writes after a
complete, passing run of the registry tests (``tests/_run_record.py``); nothing in it is typed by hand. Which
chapter documents which loss comes from refimpl itself: ``refimpl.functional`` re-exports each loss from
``refimpl.<part>.<chapter>``, and the chapter of that module is ``book/<part>/<chapter>``. A loss function is one
named like its ``torch.nn.functional`` counterpart (or like its chapter, for the module-only
``adaptive_log_softmax``), so the ``*_grad`` functions and helpers are not losses. A chapter whose loss has no entry
in the record gets a warning, which fails a ``-W`` build.
"""

import json
from pathlib import Path

import torch.nn.functional
from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

RECORD = Path("book") / "_data" / "test_run.json"


def chapter_losses() -> dict[str, list[str]]:
    """Docname of each loss chapter -> the loss names (registry and record keys) it documents."""
    import refimpl.functional

    chapters: dict[str, list[str]] = {}
    for name in refimpl.functional.__all__:
        module = getattr(refimpl.functional, name).__module__.split(".")
        if len(module) != 3 or module[0] != "refimpl" or name.endswith("_grad"):
            continue
        _, part, chapter = module
        if hasattr(torch.nn.functional, name) or name == chapter:
            chapters.setdefault(f"book/{part}/{chapter}", []).append(name)
    return chapters


def verified_sentence(record: dict, losses: list[str]) -> str:
    """'Verified against torch 2.13.0 on cpu in float32 and float64: 1234 checks passed (...), 2026-11-30.'"""
    entries = [record["losses"][name] for name in losses]
    passed = sum(entry["passed"] for entry in entries)
    devices = sorted(set.intersection(*(set(entry["devices"]) for entry in entries)))
    dtypes = sorted(set().union(*(entry["dtypes"] for entry in entries)))
    cuda = "" if "cuda" in devices else " (CUDA: not available in the recorded run)"
    return (
        f"Verified against torch {record['torch']} on {_and(devices)} in {_and(dtypes)}: "
        f"{passed} checks passed{cuda}, {record['date']}."
    )


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _load_record(app) -> dict | None:
    path = Path(app.srcdir) / RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def insert_verified_line(app, doctree):
    docname = app.env.docname
    losses = app.env.verified_chapters.get(docname)
    if losses is None:
        return
    app.env.note_dependency(str(Path(app.srcdir) / RECORD))
    record = _load_record(app)
    if record is None:
        logger.warning(f"no test-run record {RECORD}: run the test suite to write it", location=docname)
        return
    missing = [name for name in losses if name not in record["losses"]]
    if missing:
        logger.warning(f"{RECORD} has no entry for {', '.join(missing)}", location=docname)
        return
    section = doctree.next_node(nodes.section)
    if section is None or not isinstance(section[0], nodes.title):
        logger.warning("no title to put the verified line under", location=docname)
        return
    line = nodes.paragraph("", "", nodes.emphasis(text=verified_sentence(record, losses)), classes=["verified"])
    section.insert(1, line)


def setup(app):
    def builder_inited(app):
        app.env.verified_chapters = chapter_losses()

    app.connect("builder-inited", builder_inited)
    app.connect("doctree-read", insert_verified_line)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
