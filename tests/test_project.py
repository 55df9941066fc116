"""The habits of a maintained project: one version everywhere, the licences stated, the type hints shipped."""

import importlib.metadata
import re

import tomllib

import refimpl
from registry import ROOT_PACKAGE

ROOT = ROOT_PACKAGE.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_version_in_the_metadata_the_package_the_citation_and_the_changelog():
    version = _pyproject()["project"]["version"]
    assert refimpl.__version__ == importlib.metadata.version("refimpl") == version
    citation = re.search(r"^version: (\S+)$", (ROOT / "CITATION.cff").read_text(), re.MULTILINE)
    assert citation and citation.group(1) == version, "CITATION.cff's version differs from pyproject.toml's"
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text(), "CHANGELOG.md has no section for the version"


def test_the_licences_are_files_the_metadata_and_the_readme_name():
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    for name in ("LICENSE", "LICENSE-text"):
        assert (ROOT / name).is_file(), name
        assert name in project["license-files"], name
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "(CC BY 4.0)" in (ROOT / "LICENSE-text").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "[LICENSE](LICENSE)" in readme and "[LICENSE-text](LICENSE-text)" in readme


def test_the_package_ships_its_type_hints():
    """PEP 561: a ``py.typed`` marker inside the package, and pyproject.toml ships it as package data."""
    assert (ROOT_PACKAGE / "py.typed").is_file()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["refimpl"]


def _public_callables():
    """(name, callable) of the public API: the functional losses and their gradients, refimpl.fast, the loss
    modules' constructors and forwards, refimpl.testing's functions, recommend and diagnose."""
    import inspect

    import refimpl.fast
    import refimpl.functional
    import refimpl.nn
    import refimpl.testing

    for name in refimpl.functional.__all__:
        yield f"refimpl.functional.{name}", getattr(refimpl.functional, name)
    for name in refimpl.fast.__all__:
        yield f"refimpl.fast.{name}", getattr(refimpl.fast, name)
    for name in refimpl.nn.__all__:
        cls = getattr(refimpl.nn, name)
        if isinstance(cls, type):
            yield f"refimpl.nn.{name}.__init__", cls.__init__
            yield f"refimpl.nn.{name}.forward", cls.forward
    for name, fn in vars(refimpl.testing).items():
        if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == "refimpl.testing":
            yield f"refimpl.testing.{name}", fn
    yield "refimpl.recommend", refimpl.recommend
    yield "refimpl.diagnose", refimpl.diagnose


def test_every_public_function_has_type_hints():
    """Every parameter (``*args`` and ``**kwargs`` included) and every return of the public API is annotated, so
    that the ``py.typed`` marker promises something."""
    import inspect

    missing = []
    for name, fn in _public_callables():
        signature = inspect.signature(fn)
        missing += [
            f"{name}({p.name})"
            for p in signature.parameters.values()
            if p.name != "self" and p.annotation is inspect.Parameter.empty
        ]
        if signature.return_annotation is inspect.Signature.empty:
            missing.append(f"{name} -> ?")
    assert not missing, f"missing type hints: {missing}"
