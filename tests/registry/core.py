"""The registry's building blocks: sample, error, module and known-value records, and ``LossCase``.

A case wires a loss's torch and refimpl callables to its sample generator, error generator, module
constructor arguments and dtypes. The records themselves live in ``registry/<part>.py``, one module per part
of the book, and ``registry/__init__.py`` gathers them in the order of the book.

Samples aim at the math: every reduction, every option, the kinks and thresholds, ties, broadcasting,
empty batches, 0-dim and K-dimensional inputs, non-finite values, legacy arguments. Each has a ``desc``
that becomes its pytest id, and its random numbers come from a generator seeded by that ``desc``.
"""

import inspect
import os
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

import refimpl.fast
from refimpl._reduction import legacy_get_string
from refimpl.guide.inputs import typical_inputs

# the two implementations every registry-driven test runs: refimpl.functional (readable) and refimpl.fast
IMPLEMENTATIONS = ("refimpl", "fast")
# the test profile (TEST_PROFILE): 'ci', the default, within CI's budget, or 'long', the exhaustive runs
PROFILE = os.environ.get("TEST_PROFILE", os.environ.get("HYPOTHESIS_PROFILE", "ci"))
LONG = PROFILE == "long"
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
    # what is wrong, for the bad-inputs page, its figures and the coverage test: one of ERROR_CATEGORIES
    category: str
    # non-empty: the device the arguments in ``move`` (positions in ``args`` or keys of ``kwargs``) go to before
    # the call, so the call mixes devices; run only where that device exists
    device: str = ""
    move: tuple = ()

    def __post_init__(self):
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


# the forward-mode derivative (JVP) is hand-derived loss by loss (issue 16); until a loss has its Function's jvp,
# torch.func.jvp and forward-mode AD raise NotImplementedError for it where torch computes
NO_JVP_YET = {
    "transforms:jvp": "no hand-derived forward-mode derivative (Function.jvp) yet: refimpl raises NotImplementedError",
    "transforms:forward_ad": "no hand-derived forward-mode derivative (Function.jvp) yet: refimpl raises "
    "NotImplementedError",
}


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
    # applied to each differentiable tensor before the loss in gradcheck only (None: the identity); CTC's gradient
    # is torch's convention for the logits of a log_softmax, a true derivative only with one in the graph
    gradcheck_wrap: Callable[[Tensor], Tensor] | None = None
    # module forward result -> one tensor to compare (None: the result is already a tensor); for a module
    # that returns a named tuple such as AdaptiveLogSoftmaxWithLoss's (output, loss)
    module_result: Callable | None = None
    # the torch functions and aten ops that are this loss (its functional name and the ops behind it): the purity
    # trap forbids every record's list while refimpl runs; empty means (name,)
    forbidden: tuple[str, ...] = ()
    # the kinds of malformed call its error table must cover (tests/test_errors.py), from ERROR_CATEGORIES
    error_categories: frozenset[str] = frozenset({"shape", "dtype", "reduction", "device"})
    # a check or variant that does not run for this loss as it does for the others -> why; the keys in use:
    #   "meta-device"        the mixed-device error call is not checked with a meta tensor
    #   "mixed-devices"      torch accepts the loss's tensors on two devices: no mixed-device error call
    #   "layout:<layout>"    torch gets this layout wrong: refimpl is compared with torch on contiguous copies
    #   "fuzz:<condition>"   fuzzed calls where ``fuzz_excluded`` holds are not compared (a deliberate difference)
    #   "mixed-precision"    no large mixed-precision samples from ``mixed_precision`` (e.g. one floating argument)
    #   "mixed-precision:no-gradient:<position>"  that argument's gradient is not compared in the mixed variants
    #   "double-backward:no-graph"  torch's gradient silently carries no graph (refimpl's does: gradgradcheck)
    #   "double-backward:torch-overflows"  torch's second derivative is not finite where refimpl's is
    #   "transforms:<transform>[:<desc fragment>]"  torch.func (grad, vmap, vmap(grad), jvp) or forward AD behaves
    #                        otherwise than torch's, on every sample or on those whose description has the fragment
    known_differences: dict[str, str] = field(default_factory=dict)
    fuzz_excluded: Callable[[tuple, dict], bool] | None = None  # (args, kwargs) -> leave the fuzzed call out
    # the hypothesis strategy of fuzzed calls (registry/fuzz.py); ``fuzz_calls`` adds typical inputs to it
    fuzz: "SearchStrategy | None" = None
    # reduction -> (args, kwargs, wrt): one large float64 call (10^5 elements) that registry/mixed_dtypes.py turns
    # into half-precision-with-float32 variants; None: the loss has none (known_differences says why) or its
    # samples carry their own
    mixed_precision: Callable[[str], tuple[tuple, dict, tuple]] | None = None
    # the tuned sum over every element is checked at the benchmark's 4096 x 1024 float32 size (tests/test_fast.py)
    large_sum_check: bool = False

    def __post_init__(self):
        if not self.forbidden:
            self.forbidden = (self.name,)
        unknown = self.error_categories - set(ERROR_CATEGORIES)
        if unknown:
            raise ValueError(f"LossCase {self.name!r}: unknown error categories {sorted(unknown)}")

    def option_samples(self, device: str, dtype: torch.dtype, differentiable: bool = True) -> list[SampleInput]:
        """A few of the samples that between them use every option value of the loss (each keyword argument's
        value, a tensor counted by its presence): the first sample that adds a value not yet used, in the
        registry's order; with ``differentiable``, only those whose first argument is a floating tensor whose
        gradient is compared. The subset the torch.compile and transform tests run, and refimpl.fast's registry
        tests in CI's profile (``samples_under_test``), so that they cover every option within CI's budget."""
        chosen, used = [], set()
        for sample in self.samples(device, dtype):
            first = sample.args[0]
            if differentiable and (
                not (isinstance(first, Tensor) and first.is_floating_point()) or sample.forward_only
            ):
                continue
            values = {(k, "tensor" if isinstance(v, Tensor) else repr(v)) for k, v in sample.kwargs.items()}
            if not values <= used or not chosen:
                chosen.append(sample)
                used |= values
        return chosen

    def samples_under_test(self, impl: str, device: str, dtype: torch.dtype) -> list[SampleInput]:
        """The samples the registry tests run for ``impl``: every one for the readable refimpl; for refimpl.fast,
        every one in the 'long' profile and in CI's the subset that uses every option value (``option_samples``,
        differentiable or not), since fast's code paths follow the options and the dtypes, not the values."""
        if impl == "refimpl" or LONG:
            return self.samples(device, dtype)
        return self.option_samples(device, dtype, differentiable=False)

    @property
    def card(self):
        """The loss's card, which readers' installs need, so it lives in the package (``refimpl.guide.cards``);
        None when it has none."""
        from refimpl.guide.cards import CARDS

        return CARDS.get(self.name)

    @property
    def exercise_inputs(self) -> Callable | None:
        """The maker of its chapter's exercise inputs, in the package (``refimpl.exercises.EXERCISE_INPUTS``); None
        where the chapter passes its own."""
        from refimpl.exercises import EXERCISE_INPUTS

        return EXERCISE_INPUTS.get(self.name)

    def inputs(self, n: int, d: int, **kwargs) -> tuple[tuple, dict]:
        """Typical valid ``(args, kwargs)`` of batch ``n`` and width ``d``: the package's one maker per loss
        (``refimpl.guide.inputs.typical_inputs``), shared with the benchmarks and the convexity probes."""
        return typical_inputs(self.name, n, d, **kwargs)

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
