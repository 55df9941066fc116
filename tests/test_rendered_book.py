"""The built book works offline: pages opened from file:// in headless Chromium show typeset math, whole
images, the exercise-solution toggles and working search, with no network.

The book is built once per session into a temporary folder (``jupyter-book build --path-output``), unless
``$BOOK_HTML_DIR`` names a build or ``_build/html`` is newer than every source of the book. Chromium (Debian
package ``chromium``) runs each sampled page's JavaScript (MathJax from the bundled sphinx-mathjax-offline copy,
togglebutton, search) and dumps the resulting DOM, which the tests read.
"""

import concurrent.futures
import html.parser
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
SOURCES = ["book/**/*.md", "book/**/*.ipynb", "book/**/*.bib", "book/**/*.json", "book/_ext/*", "refimpl/**/*.py"]
RAW_TEX = ("\\(", "\\[", "$$", "\\begin{", "\\frac", "\\sum")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"),
    pytest.mark.xdist_group("rendered_book"),  # under pytest-xdist (--dist loadgroup) one worker builds the book once
]


class Page(html.parser.HTMLParser):
    """What the checks need from one HTML document: text outside code and scripts, images, math, toggles."""

    SKIP = {"script", "style", "code", "pre", "textarea", "mjx-container", "mjx-assistive-mml", "math"}

    def __init__(self, text: str):
        super().__init__()
        self.skipping: list[str] = []
        self.text: list[str] = []
        self.images: list[str] = []
        self.math_spans = self.mathjax_outputs = 0
        self.solutions: list[str] = []
        self.toggle_targets: list[str] = []
        self.links: list[str] = []
        self.classes: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        self.classes += classes
        if tag in self.SKIP:
            self.skipping.append(tag)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "span" and "math" in classes:
            self.math_spans += 1
        if tag == "div" and "math" in classes:
            self.math_spans += 1
        if tag == "mjx-container":
            self.mathjax_outputs += 1
        if "solution" in classes and "dropdown" in classes and attrs.get("id"):
            self.solutions.append(attrs["id"])
        if tag == "button" and "toggle-button" in classes:
            self.toggle_targets.append(attrs.get("data-target"))

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping:
            self.text.append(data)


def _newest_source_mtime() -> float:
    paths = [p for pattern in SOURCES for p in ROOT.glob(pattern)] + [ROOT / "_config.yml", ROOT / "_toc.yml"]
    return max(p.stat().st_mtime for p in paths if p.is_file())


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory) -> Path:
    """The built HTML: ``$BOOK_HTML_DIR`` if set, ``_build/html`` when it is newer than the sources, else a fresh
    build in a temp folder."""
    if os.environ.get("BOOK_HTML_DIR"):
        return Path(os.environ["BOOK_HTML_DIR"])
    existing = ROOT / "_build" / "html"
    index = existing / "searchindex.js"  # written by every build
    if index.is_file() and index.stat().st_mtime > _newest_source_mtime():
        return existing
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"jupyter-book build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return out / "_build" / "html"


def sample_pages() -> list[str]:
    """The landing page, the first chapter of every part, the API reference and the bibliography."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]] + [part["chapters"][0]["file"] for part in toc["parts"]]
    pages += [p for p in ("book/reference/api", "book/bibliography") if p not in pages]
    return pages


def render(url: str, profile: Path) -> str:
    """The DOM of ``url`` after its scripts ran, as headless Chromium dumps it."""
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            "--virtual-time-budget=15000",
            f"--user-data-dir={profile}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"chromium failed on {url}: {result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="session")
def rendered(html_dir, tmp_path_factory) -> dict[str, tuple[Page, Page]]:
    """docname -> (the page as built, the page after Chromium ran its scripts), for the sampled pages."""
    pages = sample_pages()
    profiles = tmp_path_factory.mktemp("chromium")
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(pages)) as pool:
        doms = pool.map(
            lambda i_page: render((html_dir / f"{i_page[1]}.html").as_uri(), profiles / str(i_page[0])),
            enumerate(pages),
        )
        return {
            page: (Page((html_dir / f"{page}.html").read_text(encoding="utf-8")), Page(dom))
            for page, dom in zip(pages, doms, strict=True)
        }


def test_math_is_typeset_and_no_raw_tex_shows(rendered):
    assert sum(built.math_spans for built, _ in rendered.values()) > 0, "no sampled page has math to check"
    for page, (built, dom) in rendered.items():
        assert dom.mathjax_outputs >= built.math_spans, (
            f"{page}: {built.math_spans} math elements but MathJax typeset {dom.mathjax_outputs}"
        )
        text = "".join(dom.text)
        shown = [marker for marker in RAW_TEX if marker in text]
        assert not shown, (
            f"{page}: raw TeX {shown} in the rendered text near {text[text.find(shown[0]) - 80 :][:200]!r}"
        )


def test_no_broken_image(rendered, html_dir):
    checked = 0
    for page, (_, dom) in rendered.items():
        for src in dom.images:
            url = urlparse(src)
            assert url.scheme in ("", "file", "data"), f"{page}: image {src} needs the network"
            if url.scheme == "data":
                assert "," in src and src.split(",", 1)[1], f"{page}: empty inline image"
                continue
            path = Path(unquote(url.path)) if url.scheme == "file" else (html_dir / page).parent / unquote(url.path)
            assert path.is_file() and path.stat().st_size > 0, f"{page}: image {src} is missing or empty"
            checked += 1
    assert checked > 0, "no image on the sampled pages to check"


def test_exercise_solutions_have_toggles(rendered):
    solutions = 0
    for page, (_, dom) in rendered.items():
        assert sorted(dom.solutions) == sorted(t for t in dom.toggle_targets if t in dom.solutions), (
            f"{page}: solutions without a toggle button"
        )
        solutions += len(dom.solutions)
    assert solutions > 0, "no exercise solution on the sampled pages"


def test_search_finds_a_loss_offline(html_dir, tmp_path):
    """search.html loads searchindex.js and lists results from file:// (the query is a word of every chapter)."""
    dom = render((html_dir / "search.html").as_uri() + "?q=reduction", tmp_path / "profile")
    results = dom[dom.find('<ul class="search"') :]
    assert '<ul class="search"' in dom and "<li" in results, "the search page shows no results for 'reduction'"


def test_loss_chapters_say_what_was_verified_and_link_a_notebook(rendered):
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from verified import chapter_losses
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    loss_pages = [page for page in rendered if page in chapter_losses()]
    assert loss_pages, "no loss chapter among the sampled pages"
    for page in loss_pages:
        built = rendered[page][0]
        assert "verified" in built.classes and "Verified against torch" in "".join(built.text), (
            f"{page}: no verified-on line"
        )
        assert any(link.endswith(f"{Path(page).name}.ipynb") for link in built.links), f"{page}: no notebook download"
        assert any(link.startswith("https://colab.research.google.com/") for link in built.links), f"{page}: no Colab"
        assert any(link.startswith("https://mybinder.org/") for link in built.links), f"{page}: no Binder launch"
