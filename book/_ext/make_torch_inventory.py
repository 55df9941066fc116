"""Write ``torch_objects.inv``: a local Sphinx inventory of the torch objects the API reference links to.

The book is built without network, so intersphinx cannot fetch torch's own ``objects.inv``. This script
lists the torch objects refimpl's docstrings and signatures name, with their pages under
https://docs.pytorch.org/docs/stable/, checks that each one exists in the installed torch, and writes the
inventory (format version 2) next to itself. ``_config.yml`` points intersphinx at the file. It also
writes ``python_objects.inv``, the few standard-library names of refimpl's signatures (``Callable``,
``Sequence``), for https://docs.python.org/3/.

Run it after refimpl starts naming a new torch object (the build then warns about the missing link)::

    python book/_ext/make_torch_inventory.py
"""

import importlib
import sys
import zlib
from pathlib import Path

import torch

INVENTORY = Path(__file__).with_name("torch_objects.inv")
BASE_URL = "https://docs.pytorch.org/docs/stable/"
PYTHON_INVENTORY = Path(__file__).with_name("python_objects.inv")
PYTHON_OBJECTS = [  # (name, role, page relative to https://docs.python.org/3/)
    (f"collections.abc.{name}", "py:class", f"library/collections.abc.html#collections.abc.{name}")
    for name in ("Callable", "Iterable", "Iterator", "Mapping", "Sequence")
]

# Objects documented on a page of their own, ``generated/<name>.html``: every loss of the registry (tests/registry/)
# that torch.nn.functional has, and every loss module, then the other objects refimpl names.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from registry import CASES  # noqa: E402

LOSS_FUNCTIONS = [case.name for case in CASES if hasattr(torch.nn.functional, case.name)]
LOSS_CLASSES = [case.torch_module.__name__ for case in CASES]
OTHER_FUNCTIONAL = ["cosine_similarity", "pairwise_distance", "softmax", "log_softmax", "one_hot", "linear"]
TENSOR_FUNCTIONS = ["logsumexp", "logaddexp", "log1p", "expm1", "clamp", "where", "sigmoid", "lgamma"]
OTHER_NN_CLASSES = ["Module", "PairwiseDistance", "Linear"]


def objects() -> list[tuple[str, str, str]]:
    """(name, Sphinx role, page relative to BASE_URL) of every object in the inventory."""
    rows = [
        ("torch", "py:module", "torch.html"),
        ("torch.nn", "py:module", "nn.html"),
        ("torch.nn.functional", "py:module", "nn.functional.html"),
        ("torch.testing", "py:module", "testing.html"),
        ("torch.autograd", "py:module", "autograd.html"),
        ("torch.Tensor", "py:class", "tensors.html#torch.Tensor"),
        ("torch.dtype", "py:class", "tensor_attributes.html#torch.dtype"),
        ("torch.device", "py:class", "tensor_attributes.html#torch.device"),
        ("torch.testing.assert_close", "py:function", "testing.html#torch.testing.assert_close"),
    ]
    generated = (
        [(f"torch.nn.functional.{n}", "py:function") for n in LOSS_FUNCTIONS + OTHER_FUNCTIONAL]
        + [(f"torch.{n}", "py:function") for n in TENSOR_FUNCTIONS]
        + [(f"torch.nn.{n}", "py:class") for n in LOSS_CLASSES + OTHER_NN_CLASSES]
        + [("torch.Generator", "py:class"), ("torch.autograd.Function", "py:class")]
    )
    rows += [(name, role, f"generated/{name}.html#{name}") for name, role in generated]
    # linear_cross_entropy's ``options``: documented with the loss it configures; Sphinx names it by its module
    options_page = "generated/torch.nn.LinearCrossEntropyLoss.html#torch.nn.LinearCrossEntropyLoss"
    options = (
        "torch.nn.LinearCrossEntropyOptions",
        "torch.nn.modules.linear_cross_entropy_options.LinearCrossEntropyOptions",
    )
    rows += [(name, "py:class", options_page) for name in options]
    # torch.Generator is torch._C.Generator: an annotation ``torch.Generator`` reaches Sphinx by that name
    rows.append(("torch._C.Generator", "py:class", "generated/torch.Generator.html#torch.Generator"))
    for name, _, _ in rows:
        resolve(name)
    return sorted(rows)


def resolve(name: str):
    """The installed torch object called ``name``; raises if there is none (a typo or a removed name)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        module, _, attribute = name.rpartition(".")
        return getattr(importlib.import_module(module), attribute)


def inventory_bytes(rows: list[tuple[str, str, str]], project: str, version: str) -> bytes:
    """The inventory file: a four-line header, then one zlib-compressed line per object."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in rows)
    return header.encode() + zlib.compress(body.encode(), 9)


def main():
    rows = objects()
    torch_version = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    INVENTORY.write_bytes(inventory_bytes(rows, "PyTorch", torch_version))
    print(f"wrote {len(rows)} torch objects to {INVENTORY}")
    for name, _, _ in PYTHON_OBJECTS:
        resolve(name)
    PYTHON_INVENTORY.write_bytes(inventory_bytes(sorted(PYTHON_OBJECTS), "Python", "3"))
    print(f"wrote {len(PYTHON_OBJECTS)} standard-library objects to {PYTHON_INVENTORY}")


if __name__ == "__main__":
    main()
