"""refimpl: every ``torch.nn`` loss re-derived from plain tensor math, with hand-derived gradients.

    >>> import torch, refimpl
    >>> x, y = torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0])
    >>> refimpl.huber_loss(x, y, delta=1.0)          # same call as torch.nn.functional.huber_loss
    tensor(1.3125)

``refimpl.functional`` mirrors ``torch.nn.functional``, ``refimpl.nn`` mirrors the ``torch.nn`` loss
classes, and ``refimpl.testing`` compares any of them with torch.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from refimpl import fast, functional, nn, testing
from refimpl.diagnose import diagnose as diagnose  # pitfall detectors: book/misconceptions.ipynb
from refimpl.functional import *  # noqa: F403  (the functional API, re-exported at the top level)
from refimpl.functional import __all__ as _functional_names
from refimpl.recommend import recommend as recommend  # noqa: E402,I001  (see book/choosing/guide.ipynb)

TORCH_VERSION = "2.13"
"""The torch release series every loss in refimpl is verified against."""

try:
    __version__ = _version("refimpl")
    """refimpl's version, from the installed package's metadata (pyproject.toml's ``version``)."""
except _PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["fast", "functional", "nn", "testing", "TORCH_VERSION", "__version__", *_functional_names]
