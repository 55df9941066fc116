"""The registry's building blocks: sample, error, module and known-value records, and ``LossCase``.

A case wires a loss's torch and refimpl callables to its sample generator, error generator, module
constructor arguments and dtypes. The records themselves live in ``registry/<part>.py``, one module per part
of the book, and ``registry/__init__.py`` gathers them in the order of the book.

Samples aim at the math: every reduction, every option, the kinks and thresholds, ties, broadcasting,
empty batches, 0-dim and K-dimensional inputs, non-finite values, legacy arguments. Each has a ``desc``
that becomes its pytest id, and its random numbers come from a generator seeded by that ``desc``.
"""

import inspect
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

import refimpl.fast
from refimpl._reduction import legacy_get_string

# the two implementations every registry-driven test runs: refimpl.functional (readable) and refimpl.fast
IMPLEMENTATIONS = ("refimpl", "fast")
FLOATING = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
REDUCTIONS = ("none", "mean", "sum")


@dataclass
class SampleInput:
    """One call: ``fn(*args, **kwargs)``; ``wrt`` names the arguments whose gradients are compared
    (positions in ``args`` or keys of ``kwargs``)."""

    desc: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    wrt: tuple = (0, 1)
    kink: bool = False  # a point where the loss is not differentiable: left out of gradcheck only
    forward_only: str = ""  # non-empty: the reason the gradients are not compared


@dataclass
class ErrorInput:
    """A malformed call: torch and refimpl must raise ``exc_type``; both messages match ``match``
    (torch's key phrase) and refimpl's also contains ``names`` (the offending argument)."""

    desc: str
    args: tuple
    kwargs: dict
    exc_type: type
    match: str
    names: str
    # what is wrong, for the bad-inputs page and the figures: one of ERROR_CATEGORIES ("" infers it from the
    # description, the exception type and the argument named; see ``infer_category``)
    category: str = ""
    # non-empty: the device the arguments in ``move`` (positions in ``args`` or keys of ``kwargs``) go to before
    # the call, so the call mixes devices; run only where that device exists
    device: str = ""
    move: tuple = ()

    def __post_init__(self):
        if not self.category:
            self.category = infer_category(self)
        if self.category not in ERROR_CATEGORIES:
            raise ValueError(f"ErrorInput {self.desc!r}: unknown category {self.category!r}")

    def on_device(self) -> tuple[tuple, dict]:
        """The call's arguments with those in ``move`` moved to ``device`` (unchanged when ``device`` is empty)."""
        args = tuple(a.to(self.device) if i in self.move else a for i, a in enumerate(self.args))
        kwargs = {k: v.to(self.device) if k in self.move else v for k, v in self.kwargs.items()}
        return args, kwargs

    def raised_by(self, fn: Callable) -> BaseException | None:
        """The exception ``fn`` raises on this call (warnings silenced), or None when it raises nothing."""
        args, kwargs = self.on_device()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(*args, **kwargs)
            except Exception as exc:  # the exception is the result under test
                return exc
        return None


ERROR_CATEGORIES = ("shape", "dtype", "index", "value", "reduction", "device", "requires_grad", "other")
_DTYPE_WORDS = (
    "int64",
    "int32",
    "uint8",
    "bool",
    "complex",
    "float16",
    "bfloat16",
    "float64",
    "float32",
    "half",
    "-list",
    "list-",
    "-str",
    "str-",
    "=None",
    "-None",
    "-int",
    "-float",
    "float-",
    "int-",
    "dtype",
)
_INDEX_WORDS = (
    "out-of-range",
    "target-negative",
    "target-minus-100",
    "target-minus-2",
    "target-equal-C",
    "blank>=C",
    "blank-negative",
)
_SHAPE_FIRST_WORDS = (
    "-D",
    "dim",
    "1d",
    "2d",
    "3d",
    "0d",
    "wrong-size",
    "wrong-length",
    "in-features",
    "batch-size",
    "mismatch",
)
_SHAPE_WORDS = (
    "shape",
    "size",
    "broadcast",
    "mismatch",
    "-D",
    "dim",
    "rank",
    "(",
    "enlarges",
    "wrong-batch",
    "wrong-width",
    "empty",
    "C=0",
    "T=0",
    "short",
    "unbatched",
    "batch",
    "too-",
)


def infer_category(error: "ErrorInput") -> str:
    """The category of a malformed call that does not state one, read from its description, in this order:
    a reduction named or blamed; a gradient required; an index out of range; a wrong type or dtype; a shape;
    otherwise a value out of its domain (a negative variance, ``delta <= 0``, a bad cutoff)."""
    desc = error.desc
    if error.names == "reduction" or desc.startswith("reduction"):
        return "reduction"
    if "requires-grad" in desc or "requires_grad" in desc:
        return "requires_grad"
    if "var-negative" in desc:
        return "value"
    if (error.exc_type is IndexError or any(w in desc for w in _INDEX_WORDS)) and "0-dim" not in desc:
        return "index"
    if any(w in desc for w in _SHAPE_FIRST_WORDS):
        return "shape"
    if error.exc_type in (NotImplementedError, TypeError, AttributeError) or any(w in desc for w in _DTYPE_WORDS):
        return "dtype"
    if any(w in desc for w in _SHAPE_WORDS):
        return "shape"
    return "value"


@dataclass
class ModuleInput:
    """Constructor arguments for the module pair, and the forward arguments to run them on."""

    desc: str
    init_kwargs: dict
    forward_args: tuple
    wrt: tuple | None = None  # positions of forward_args that require grad (None: all; a target may not allow it)


@dataclass
class KnownValue:
    """A value computed by hand from the docstring formula; torch and refimpl must both give it."""

    desc: str
    args: tuple
    kwargs: dict
    expected: list | float


@dataclass
class LossCase:
    name: str  # the torch.nn.functional name
    part: str  # book/<part>/, refimpl/<part>/
    chapter: str  # book/<part>/<chapter>.ipynb
    torch_fn: Callable
    ref_fn: Callable
    torch_module: type
    ref_module: type
    samples: Callable[[str, torch.dtype], list[SampleInput]]
    errors: Callable[[], list[ErrorInput]]
    modules: Callable[[], list[ModuleInput]]
    known_values: list[KnownValue]
    dtypes: dict[str, tuple[torch.dtype, ...]]
    # (float64 sample, upstream gradient) -> (gradients from the loss's <name>_grad, the same from torch's
    # backward), in the same order; run on every smooth float64 sample
    hand_gradient: Callable[[SampleInput, Tensor], tuple[list[Tensor], list[Tensor]]]
    double_backward: bool = True
    # applied to each differentiable tensor before the loss in gradcheck only (None: the identity); CTC's gradient
    # is torch's convention for the logits of a log_softmax, a true derivative only with one in the graph
    gradcheck_wrap: Callable[[Tensor], Tensor] | None = None
    # module forward result -> one tensor to compare (None: the result is already a tensor); for a module
    # that returns a named tuple such as AdaptiveLogSoftmaxWithLoss's (output, loss)
    module_result: Callable | None = None

    def implementation(self, impl: str) -> Callable:
        """The refimpl function under test: ``'refimpl'``, the readable one (``ref_fn``), or ``'fast'``, the same
        name in ``refimpl.fast``."""
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"unknown implementation {impl!r}: expected one of {IMPLEMENTATIONS}")
        return self.ref_fn if impl == "refimpl" else getattr(refimpl.fast, self.name)

    def implementations(self) -> tuple[str, ...]:
        """The implementations to test: the readable one, and refimpl.fast's where it is another function
        (where refimpl.fast re-exports the readable function, a second run would call the same object)."""
        return ("refimpl",) if self.implementation("fast") is self.ref_fn else IMPLEMENTATIONS

    def test_id(self, impl: str, *parts: object) -> str:
        """A pytest id: the loss name and ``parts``, prefixed with ``fast-`` for refimpl.fast."""
        prefix = () if impl == "refimpl" else ("fast",)
        return "-".join(str(part) for part in (*prefix, self.name, *parts))


def make_generator(desc: str) -> torch.Generator:
    """A CPU generator seeded from the sample's description, so each sample is reproducible alone."""
    return torch.Generator().manual_seed(zlib.crc32(desc.encode()))


def randn(desc: str, *shape: int, dtype: torch.dtype, device: str, scale: float = 1.0) -> Tensor:
    """Seeded normal numbers, drawn in float64 on the CPU and then converted (same values everywhere)."""
    values = scale * torch.randn(shape, generator=make_generator(desc), dtype=torch.float64)
    return values.to(dtype=dtype, device=device)


def effective_reduction(arguments: dict) -> str:
    """The reduction a call applies, from its bound arguments: the legacy ``size_average``/``reduce`` first
    (as torch maps them), then ``reduction`` with 'elementwise_mean' read as 'mean'. For hand gradients."""
    if arguments.get("size_average") is not None or arguments.get("reduce") is not None:
        return legacy_get_string(arguments["size_average"], arguments["reduce"], emit_warning=False)
    return "mean" if arguments["reduction"] == "elementwise_mean" else arguments["reduction"]


def bound_arguments(fn: Callable, sample: SampleInput) -> dict:
    """The sample's call bound to ``fn``'s signature, defaults filled in: argument name -> value."""
    call = inspect.signature(fn).bind(*sample.args, **sample.kwargs)
    call.apply_defaults()
    return dict(call.arguments)
