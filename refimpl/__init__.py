"""refimpl: every ``torch.nn`` loss re-derived from plain tensor math, with hand-derived gradients.

    >>> import torch, refimpl
    >>> x, y = torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0])
    >>> refimpl.huber_loss(x, y, delta=1.0)          # same call as torch.nn.functional.huber_loss
    tensor(1.3125)

``refimpl.functional`` mirrors ``torch.nn.functional``, ``refimpl.nn`` mirrors the ``torch.nn`` loss
classes, ``refimpl.fast`` has the same functions tuned, and ``refimpl.testing`` compares any of them with torch.
The book's teaching tools live apart: ``refimpl.exercises`` (the chapters' self-checks), ``refimpl.guide`` (loss
cards, ``recommend``, ``diagnose``) and ``refimpl.experiments``.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from refimpl import fast, functional, nn, testing
from refimpl.functional import *  # noqa: F403  (the functional API, re-exported at the top level)
from refimpl.functional import __all__ as _functional_names

TORCH_VERSION = "2.13"
"""The torch release series every loss in refimpl is verified against."""

try:
    __version__ = _version("refimpl")
    """refimpl's version, from the installed package's metadata (pyproject.toml's ``version``)."""
except _PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["fast", "functional", "nn", "testing", "TORCH_VERSION", "__version__", *_functional_names]


def __getattr__(name: str) -> object:  # PEP 562: the guide's two entry points, imported when first used
    """``refimpl.recommend`` and ``refimpl.diagnose``, the teaching tools of :mod:`refimpl.guide`, imported on first
    use so that ``import refimpl`` loads the losses alone."""
    if name == "recommend":
        from refimpl.guide.recommend import recommend

        return recommend
    if name == "diagnose":
        from refimpl.guide.diagnose import diagnose

        return diagnose
    raise AttributeError(f"module 'refimpl' has no attribute {name!r}")
