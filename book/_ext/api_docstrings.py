"""Sphinx extension: refimpl's docstrings, as written for readers of the source, made into API reference pages.

refimpl is not edited for the book (the chapters print its sources); instead, before napoleon parses a
docstring (``autodoc-process-docstring``), this extension

* turns each ````torch.x```` literal naming an object of the local torch inventory (``torch_objects.inv``,
  written by ``make_torch_inventory.py``) into a ``:func:``, ``:class:`` or ``:mod:`` role, which intersphinx
  resolves from that file without network;
* points each ``:func:``/``:class:``/``:meth:`` role at the object it names in the docstring's own module:
  the documented API name (``refimpl.functional.x``, ``refimpl.nn.X``, ...) or the torch name when there is
  one, and a plain literal for a private helper the reference does not document (a name that resolves to
  nothing is left alone, so the nitpicky build still reports it);
* gives a ``Returns:`` section that starts with prose and a colon (``The loss: 0-dim ...``, which napoleon
  would read as a type called "The loss") the function's return annotation as its type, and likewise the
  docstring of a module constant (``Per task: ...``) the constant's annotation.

``autodoc-process-signature`` shows a private return type (a namedtuple such as ``_ASMoutput``) as its
public base class.
"""

import importlib
import inspect
import re
import sys
from pathlib import Path

from sphinx.util.inventory import InventoryFile
from sphinx.util.typing import stringify_annotation

INVENTORY = Path(__file__).with_name("torch_objects.inv")
API_MODULES = [
    "refimpl.functional",
    "refimpl.nn",
    "refimpl.testing",
    "refimpl.exercises",
    "refimpl.guide.recommend",
    "refimpl.guide.diagnose",
    "refimpl.guide.cards",
    "refimpl.guide.inputs",
]
ROLES = {"py:function": "func", "py:class": "class", "py:module": "mod"}
TORCH_LITERAL = re.compile(r"``(torch(?:\.\w+)+)``")
ROLE = re.compile(r":(func|class|meth|exc|obj):`(~?)([\w.]+)`")
PROSE_BEFORE_COLON = re.compile(r"^(\s*)([A-Za-z][^:`]* [^:`]*):\s")
PRIVATE_DOTTED = re.compile(r"~?((?:\w+\.)*_\w+)")


def torch_inventory() -> dict[str, str]:
    """Torch object name -> the Python-domain role that links to it."""
    with INVENTORY.open("rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    return {name: ROLES[kind] for kind, entries in inventory.items() if kind in ROLES for name in entries}


def _import(dotted: str):
    """The object called ``dotted`` (a module or an attribute path inside one), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return None
        return obj
    return None


def canonical_names(torch_roles: dict[str, str]) -> dict[int, str]:
    """id of each documented refimpl object and each inventory torch object -> the name that links to it."""
    names = {}
    for name in torch_roles:
        obj = _import(name)
        if obj is not None:
            names.setdefault(id(obj), name)
    for module_name in API_MODULES:
        module = _import(module_name)
        if module is None:
            continue
        public = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        for member in public:
            obj = getattr(module, member)
            if not inspect.ismodule(obj) and obj.__doc__:
                names[id(obj)] = f"{module_name}.{member}"
    return names


def _resolve_in(module, owner, target: str):
    """The object ``target`` names as written in a docstring of ``owner`` in ``module``, or None."""
    head, _, rest = target.partition(".")
    scopes = [vars(owner)] if inspect.isclass(owner) else []
    scopes.append(vars(module))
    for scope in scopes:
        if head in scope:
            obj = scope[head]
            try:
                for attribute in rest.split(".") if rest else []:
                    obj = getattr(obj, attribute)
            except AttributeError:
                return None
            return obj
    return _import(target)


class DocstringRewriter:
    def __init__(self):
        self.torch_roles = torch_inventory()
        self.names = None  # built on first use: refimpl is imported by autodoc, after the config is read

    def link_torch_literals(self, line: str) -> str:
        def replace(match):
            name = match.group(1)
            return f":{self.torch_roles[name]}:`{name}`" if name in self.torch_roles else match.group(0)

        return TORCH_LITERAL.sub(replace, line)

    def retarget_roles(self, line: str, obj) -> str:
        module = sys.modules.get(getattr(obj, "__module__", None) or "") if not inspect.ismodule(obj) else obj
        if module is None:
            return line
        owner = obj if inspect.isclass(obj) else None

        def replace(match):
            role, tilde, target = match.groups()
            found = _resolve_in(module, owner, target)
            if found is None:
                return match.group(0)  # unresolvable: Sphinx reports it
            canonical = self.names.get(id(found))
            if canonical is not None:
                return f":{role}:`~{canonical}`"
            if inspect.isfunction(found) or inspect.isclass(found):
                if found.__module__.split(".")[0] == "refimpl":
                    return f"``{target.rpartition('.')[2] if tilde else target}``"  # an undocumented helper
            return match.group(0)

        return ROLE.sub(replace, line)

    def type_prose_returns(self, lines: list[str], obj) -> None:
        try:
            annotation = inspect.signature(obj).return_annotation
        except (TypeError, ValueError):
            return
        if annotation is inspect.Signature.empty:
            return
        for i in range(1, len(lines)):
            match = PROSE_BEFORE_COLON.match(lines[i])
            if match and lines[i - 1].strip() == "Returns:":
                type_name = stringify_annotation(annotation, "fully-qualified-except-typing")
                lines[i] = f"{match.group(1)}{type_name}: {lines[i].lstrip()}"

    def type_prose_constant(self, lines: list[str], name: str, obj) -> None:
        if not lines or not PROSE_BEFORE_COLON.match(lines[0]):
            return
        parent, _, attribute = name.rpartition(".")
        annotation = getattr(_import(parent), "__annotations__", {}).get(attribute, type(obj))
        lines[0] = f"{stringify_annotation(annotation, 'fully-qualified-except-typing')}: {lines[0]}"

    def process_docstring(self, app, what, name, obj, options, lines):
        if self.names is None:
            self.names = canonical_names(self.torch_roles)
        lines[:] = [self.retarget_roles(self.link_torch_literals(line), obj) for line in lines]
        if what in ("data", "attribute"):
            self.type_prose_constant(lines, name, obj)
        else:
            self.type_prose_returns(lines, obj)


def public_return_type(app, what, name, obj, options, signature, return_annotation):
    """A private class as return type (``_ASMoutput``) shown as its first public base (``tuple``)."""
    if not return_annotation:
        return None

    def replace(match):
        found = _import(match.group(1))
        if not inspect.isclass(found):
            return match.group(0)
        public = next(base for base in found.__mro__ if not base.__name__.startswith("_"))
        return stringify_annotation(public, "fully-qualified-except-typing")

    return signature, PRIVATE_DOTTED.sub(replace, return_annotation)


def setup(app):
    rewriter = DocstringRewriter()
    app.connect("autodoc-process-docstring", rewriter.process_docstring, priority=400)  # before napoleon (500)
    app.connect("autodoc-process-signature", public_return_type)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
