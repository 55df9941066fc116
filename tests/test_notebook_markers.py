"""No chapter reaches its stored outputs by telling nbval to look away.

nbval honours comment markers (``# NBVAL_SKIP``, ``# NBVAL_IGNORE_OUTPUT``, ``# NBVAL_RAISES_EXCEPTION``, ...) and
cell tags (``nbval-skip``, ``nbval-ignore-output``, ``raises-exception``, ...). Each one weakens the strict
comparison that makes the notebooks tests, so every marker in the book must be listed in ``ALLOWED`` with the
reason it is there. The list is empty: an output that varies from one machine to the next is made robust
(rounded, computed in float64, or stated as a bound), never ignored.
"""

import nbformat
import pytest

from conftest import NOTEBOOKS, ROOT, nbval_options

# (notebook relative to the repository, cell id) -> why the marker is there. None today.
ALLOWED: dict[tuple[str, str], str] = {}
# tags nbval reads besides its own 'nbval-*' ones
NBVAL_TAGS = ("raises-exception",)


def markers(cell) -> dict:
    """nbval's options set on a code cell by comments or tags, plus any tag nbval would read."""
    found = nbval_options(cell)
    tags = [tag for tag in cell.metadata.get("tags", []) if tag.startswith("nbval") or tag in NBVAL_TAGS]
    return found | {f"tag:{tag}": True for tag in tags}


def marked_cells(notebooks) -> dict[tuple[str, str], dict]:
    """(notebook, cell id) -> the markers, for every marked code cell; notebooks outside the repository by name."""
    found = {}
    for path in notebooks:
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and (options := markers(cell)):
                found[(name, cell.get("id", "?"))] = options
    return found


def test_every_nbval_marker_in_the_book_is_listed_with_its_reason():
    found = marked_cells(NOTEBOOKS)
    unlisted = {key: options for key, options in found.items() if key not in ALLOWED}
    assert not unlisted, f"nbval markers without a written reason in ALLOWED: {unlisted}"
    assert all(reason.strip() for reason in ALLOWED.values()), "every allowed marker needs its reason"
    stale = set(ALLOWED) - set(found)
    assert not stale, f"listed in ALLOWED but no longer in the book: {sorted(stale)}"


@pytest.mark.parametrize(
    "source, tags",
    [
        ("# NBVAL_IGNORE_OUTPUT\nprint(1)", []),
        ("# NBVAL_SKIP\nprint(1)", []),
        ("# NBVAL_RAISES_EXCEPTION\n1 / 0", []),
        ("print(1)", ["nbval-ignore-output"]),
        ("print(1)", ["nbval-skip"]),
        ("1 / 0", ["raises-exception"]),
    ],
)
def test_the_scan_finds_each_kind_of_marker(tmp_path, source, tags):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = tags
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), cell]
    path = tmp_path / "marked.ipynb"
    nbformat.write(nb, path)
    found = marked_cells([path])
    assert list(found) == [("marked.ipynb", cell.id)], "the marked cell, and only it, is found"
