"""Numbers quoted in the prose come from executed cells (myst-nb glue), and every glued value is quoted.

A chapter quotes a computed number as ``{glue:text}`<key>:<format>``` in a markdown cell; the value comes from
``glue("<key>", value, display=False)`` in a code cell of the same notebook, whose stored output (a display_data
with ``metadata.scrapbook.name == key``) is what the book build reads. Checked per notebook:

- every key used in the markdown is glued by a code cell that calls ``glue(`` (its stored output carries it);
- every glued key is used in the markdown (no stale values left behind);
- keys are unique across the book (each key is prefixed with its chapter's name);
- the format spec of ``{glue:text}`` applies to the stored value (the build would otherwise warn).
"""

import ast
import json
import re
from pathlib import Path

import pytest

from conftest import BOOK, NOTEBOOKS, ROOT

# roles {glue}`key`, {glue:any}`key`, {glue:text}`key:fmt`, {glue:md}`key:fmt`, and the directives
# ```{glue} key, ```{glue:figure} key, ```{glue:math} key (also with ::: fences)
ROLE = re.compile(r"\{glue(?::(any|text|md))?\}`([^`]+)`")
DIRECTIVE = re.compile(r"^\s*(?:```+|:::+)\{glue(?::(?:any|figure|math))?\}\s+(\S+)", re.MULTILINE)
PREFIX = "application/papermill.record/"


def used_keys(cells: list[dict]) -> dict[str, set[str]]:
    """Keys quoted in markdown cells, each with the format specs it is quoted with ("" for none)."""
    used: dict[str, set[str]] = {}
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        for kind, body in ROLE.findall(text):
            key, spec = body, ""
            if kind in ("text", "md") and ":" in body:
                key, spec = body.rsplit(":", 1)
            used.setdefault(key, set()).add(spec if kind == "text" else "")
        for key in DIRECTIVE.findall(text):
            used.setdefault(key, set()).add("")
    return used


def glued_values(cells: list[dict]) -> dict[str, list[str | None]]:
    """Keys glued by code cells that call glue(, with the stored text/plain of each glue output."""
    glued: dict[str, list[str | None]] = {}
    for cell in cells:
        if cell["cell_type"] != "code" or "glue(" not in "".join(cell["source"]):
            continue
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if output.get("output_type") == "display_data" and name:
                data = output.get("data", {})
                text = data.get(PREFIX + "text/plain", data.get("text/plain"))
                glued.setdefault(name, []).append("".join(text) if text is not None else None)
    return glued


def glue_problems(cells: list[dict]) -> list[str]:
    """What is wrong with one notebook's glue: undefined, unused, repeated or unformattable keys."""
    used, glued = used_keys(cells), glued_values(cells)
    problems = [f"{key!r} is quoted but no code cell glues it" for key in sorted(used.keys() - glued.keys())]
    problems += [f"{key!r} is glued but never quoted" for key in sorted(glued.keys() - used.keys())]
    problems += [f"{key!r} is glued {len(v)} times" for key, v in sorted(glued.items()) if len(v) > 1]
    for key in sorted(used.keys() & glued.keys()):
        for text in glued[key]:
            for spec in used[key] - {""}:
                try:
                    value = ast.literal_eval(text)
                    format(float(value) if spec[-1] in "eEfFgGn%" else value, spec)
                except (TypeError, ValueError, SyntaxError) as error:
                    problems.append(f"{key!r}: stored value {text!r} does not take the format {spec!r} ({error})")
    return problems


def load(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text())["cells"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(BOOK)))
def test_every_quoted_key_is_glued_and_every_glued_key_is_quoted(notebook):
    problems = glue_problems(load(notebook))
    assert not problems, f"{notebook.relative_to(ROOT)}: " + "; ".join(problems)


def test_glue_keys_are_unique_across_the_book():
    owners: dict[str, list[str]] = {}
    for notebook in NOTEBOOKS:
        for key in glued_values(load(notebook)):
            owners.setdefault(key, []).append(str(notebook.relative_to(BOOK)))
    repeated = {key: where for key, where in owners.items() if len(where) > 1}
    assert not repeated, f"glue keys defined in more than one notebook: {repeated}"
    assert owners, "no notebook glues a value: the prose quotes no executed numbers"


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "source": [text]}


def _code(source: str, *keys_and_values: tuple[str, str]) -> dict:
    outputs = [
        {
            "output_type": "display_data",
            "data": {PREFIX + "text/plain": value},
            "metadata": {"scrapbook": {"name": key, "mime_prefix": PREFIX}},
        }
        for key, value in keys_and_values
    ]
    return {"cell_type": "code", "source": [source], "outputs": outputs}


def test_the_check_finds_missing_unused_repeated_and_unformattable_keys():
    good = [_code('glue("ch-a", a, display=False)', ("ch-a", "0.5")), _markdown("a is {glue:text}`ch-a:.2f`.")]
    assert glue_problems(good) == []
    assert glue_problems(good + [_markdown("and {glue:text}`ch-b:.2f`")]) == [
        "'ch-b' is quoted but no code cell glues it"
    ]
    assert glue_problems(good + [_code('glue("ch-c", c)', ("ch-c", "1.0"))]) == ["'ch-c' is glued but never quoted"]
    assert glue_problems(good + [_code('glue("ch-a", a)', ("ch-a", "0.5"))]) == ["'ch-a' is glued 2 times"]
    tensor = [_code('glue("ch-t", t)', ("ch-t", "tensor(0.5000)")), _markdown("{glue:text}`ch-t:.2f`")]
    assert glue_problems(tensor)[0].startswith("'ch-t': stored value 'tensor(0.5000)' does not take the format")
    # an output that merely looks glued, from a cell that never calls glue(, defines nothing
    assert glue_problems([_code("display(x)", ("ch-a", "0.5")), good[1]]) == [
        "'ch-a' is quoted but no code cell glues it"
    ]
    assert set(used_keys([_markdown("{glue}`k1` {glue:any}`k2` {glue:md}`k3:myst`\n```{glue:figure} k4\n```")])) == {
        "k1",
        "k2",
        "k3",
        "k4",
    }
