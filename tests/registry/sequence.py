"""Registry entries of the sequence losses (book/sequence/, refimpl/sequence/).

Registry entry of ctc_loss (book/sequence/ctc.ipynb).

Every reduction x zero_infinity on padded (N, S) and concatenated 1-D targets; lengths as int64 and int32 tensors,
tuples and lists; unbatched (T, C) input; blank other than 0; repeated labels (a blank between them), including
the tightest feasible input length; impossible alignments (loss inf, NaN gradients) and zero_infinity; zero
target lengths (mean divides by 1) and an all-empty target tensor; padding values past the target length;
unnormalised and extreme log-probabilities. Only ``log_probs`` is differentiable: ``wrt=(0,)`` throughout.

torch's gradient is the one with respect to the logits of a log_softmax (see the chapter), so gradcheck runs on
``ctc_loss(log_softmax(x))`` (``gradcheck_wrap``), the only composition in which it is a true derivative.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

import refimpl.functional as RF
import refimpl.nn as RN

from . import fuzz
from .core import NO_JVP_YET, REDUCTIONS, ErrorInput, KnownValue, LossCase, ModuleInput, SampleInput, make_generator

FN = "ctc_loss"


T, N, C = 8, 3, 5


def _log_probs(desc: str, *shape: int, dtype: torch.dtype, device: str, scale: float = 1.0) -> Tensor:
    """Seeded normalised log-probabilities (a log-softmax derived from logsumexp), drawn in float64."""
    x = scale * torch.randn(shape, generator=make_generator(desc), dtype=torch.float64)
    return (x - x.logsumexp(-1, keepdim=True)).to(dtype=dtype, device=device)


def log_softmax_last(x: Tensor) -> Tensor:
    """gradcheck's wrap: torch's CTC gradient is a true derivative only through a log-softmax."""
    return x - x.logsumexp(-1, keepdim=True)


def ctc_samples(device: str, dtype: torch.dtype) -> list[SampleInput]:
    t = dict(dtype=dtype, device=device)
    lp = _log_probs("ctc-lp", T, N, C, **t)
    padded = torch.tensor([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 4, 0]], device=device)
    il, tl = torch.tensor([8, 6, 7], device=device), torch.tensor([3, 2, 3], device=device)
    flat = torch.cat([padded[b, : tl[b]] for b in range(N)])
    unb = _log_probs("ctc-unbatched", 6, C, **t)
    shaped = [
        # (desc, args, extra kwargs, kink: out of gradcheck only, forward_only reason)
        ("padded", (lp, padded, il, tl), {}),
        ("concatenated-1-D", (lp, flat, il, tl), {}),
        ("lengths-tuple", (lp, padded, (8, 6, 7), (3, 2, 3)), {}),
        ("lengths-list-concatenated", (lp, flat, [8, 6, 7], [3, 2, 3]), {}),
        ("lengths-int32-targets-int32", (lp, padded.int(), il.int(), tl.int()), {}),
        ("targets-float", (lp, padded.double(), il, tl), {}),
        ("input_lengths-2-D-flattened", (lp, padded, il[None], tl), {}),
        (
            "padding-value-99-ignored",
            (lp, torch.tensor([[1, 2, 2, 99], [3, 1, 99, 99], [4, 4, 4, 99]], device=device), il, tl),
            {},
        ),
        ("unbatched-0-dim-lengths", (unb, torch.tensor([1, 3], device=device), torch.tensor(6), torch.tensor(2)), {}),
        ("unbatched-tuple-lengths", (unb, torch.tensor([2, 2, 1], device=device), (5,), (3,)), {}),
        (
            "unbatched-(1,S)-target",
            (unb, torch.tensor([[4, 3, 4]], device=device), torch.tensor([6]), torch.tensor([3])),
            {},
        ),
        ("blank=C-1", (lp, torch.tensor([[1, 2, 2], [3, 0, 0], [0, 1, 3]], device=device), il, tl), dict(blank=4)),
        ("blank=2", (lp, torch.tensor([[1, 3, 3], [4, 0, 0], [0, 1, 4]], device=device), il, tl), dict(blank=2)),
        # "4 4 4" needs a blank between repeats: 5 frames at least; 5 is the tightest (one path only)
        ("repeats-tightest-feasible", (lp, padded, torch.tensor([8, 6, 5], device=device), tl), {}),
        ("zero-target-length", (lp, padded, il, torch.tensor([3, 0, 2], device=device)), {}),
        (
            "unnormalised-log_probs",
            (torch.randn(T, N, C, generator=make_generator("ctc-raw"), dtype=torch.float64).to(**t), padded, il, tl),
            {},
        ),
    ]
    if dtype == torch.float64:
        # float32 over 40 frames: torch and refimpl both drift ~6e-6 from the float64 gradient, in different
        # rounding orders, beyond the float32 tolerance (atol 1e-6) of the parity test
        shaped.append(
            (
                "long-sequence-T=40",
                (
                    _log_probs("ctc-long", 40, 2, 6, **t),
                    torch.tensor([[1, 2, 3, 3, 5, 1, 1], [2, 4, 4, 0, 0, 0, 0]], device=device),
                    torch.tensor([40, 31]),
                    torch.tensor([7, 3]),
                ),
                {},
            )
        )
    out = []
    for desc, args, kwargs in shaped:
        for reduction in REDUCTIONS:
            out.append(SampleInput(f"{desc}-{reduction}", args, dict(kwargs, reduction=reduction), wrt=(0,)))
    # impossible alignments: "4 4 4" in 4 frames, "3 1" in 1 frame, and no frame at all: loss inf, NaN gradients
    # on the valid frames (kink: out of gradcheck); zero_infinity makes loss and gradient 0
    impossible = (lp, padded, torch.tensor([8, 1, 4], device=device), tl)
    no_frames = (lp, padded, torch.tensor([0, 6, 7], device=device), tl)
    for reduction in REDUCTIONS:
        for zero_infinity in (False, True):
            out.append(
                SampleInput(
                    f"impossible-zero_infinity={zero_infinity}-{reduction}",
                    impossible,
                    dict(reduction=reduction, zero_infinity=zero_infinity),
                    wrt=(0,),
                    kink=not zero_infinity,
                )
            )
            out.append(
                SampleInput(
                    f"input_length-0-zero_infinity={zero_infinity}-{reduction}",
                    no_frames,
                    dict(reduction=reduction, zero_infinity=zero_infinity),
                    wrt=(0,),
                    kink=not zero_infinity,
                )
            )
        out.append(
            SampleInput(
                f"feasible-zero_infinity=True-{reduction}",
                (lp, padded, il, tl),
                dict(reduction=reduction, zero_infinity=True),
                wrt=(0,),
            )
        )
        # every target empty: the loss is -sum_t log p_t(blank); mean divides each by max(0, 1) = 1
        out.append(
            SampleInput(
                f"empty-targets-{reduction}",
                (
                    lp,
                    torch.zeros(0, dtype=torch.long, device=device),
                    il,
                    torch.zeros(3, dtype=torch.long, device=device),
                ),
                dict(reduction=reduction),
                wrt=(0,),
            )
        )
        # log-probabilities of magnitude 1e4: the recursion stays finite in log space (left out of gradcheck,
        # whose finite differences lose their digits at this scale)
        out.append(
            SampleInput(
                f"extreme-logits-1e4-{reduction}",
                (_log_probs("ctc-big", T, N, C, scale=1e4, **t), padded, il, tl),
                dict(reduction=reduction),
                wrt=(0,),
                kink=True,
            )
        )
        # no frames and no labels: the empty alignment has probability 1, loss 0, not inf (found by tests/test_fuzz.py)
        out.append(
            SampleInput(
                f"input_length-0-target_length-0-{reduction}",
                (lp, padded, torch.tensor([0, 6, 7], device=device), torch.tensor([0, 2, 3], device=device)),
                dict(reduction=reduction),
                wrt=(0,),
            )
        )
    # a log-probability of -inf (a class never emitted) gives a NaN gradient on its valid frames, as in torch
    # (found by tests/test_fuzz.py)
    never = lp.clone()
    never[2, 1, 3] = -math.inf
    out.append(SampleInput("log_prob=-inf", (never, padded, il, tl), dict(reduction="none"), wrt=(0,), kink=True))
    out.append(
        SampleInput(
            "unbatched-input_length-0-target_length-0",
            (unb, torch.zeros(0, dtype=torch.long, device=device), torch.tensor(0), torch.tensor(0)),
            dict(reduction="none"),
            wrt=(0,),
        )
    )
    out.append(SampleInput("positional-blank-reduction-zero_infinity", (lp, padded, il, tl, 0, "sum", True), wrt=(0,)))
    # a target equal to blank is not validated by torch; its backward then disagrees with its own forward on the
    # last frame (the frame's gradient no longer sums to 0), so only the value is compared
    out.append(
        SampleInput(
            "target-contains-blank",
            (lp, torch.tensor([[1, 0, 2], [3, 1, 0], [4, 4, 4]], device=device), il, tl),
            dict(reduction="none"),
            wrt=(0,),
            forward_only="torch's backward is inconsistent there",
        )
    )
    return out


def ctc_errors() -> list[ErrorInput]:
    lp = torch.randn(T, N, C, dtype=torch.float64).log_softmax(2)
    padded = torch.tensor([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 4, 0]])
    il, tl = torch.tensor([8, 6, 8]), torch.tensor([3, 2, 3])
    flat = torch.tensor([1, 2, 2, 3, 1, 4, 4, 4])
    combo = "received an invalid combination of arguments"
    return [
        ErrorInput(
            "reduction='foo'",
            (lp, padded, il, tl),
            dict(reduction="foo"),
            ValueError,
            "foo is not a valid value for reduction",
            "reduction",
            category="reduction",
        ),
        ErrorInput(
            "blank>=C",
            (lp, padded, il, tl),
            dict(blank=5),
            RuntimeError,
            "blank must be in label range",
            "blank",
            category="index",
        ),
        ErrorInput(
            "blank-negative",
            (lp, padded, il, tl),
            dict(blank=-1),
            RuntimeError,
            "blank must be in label range",
            "blank",
            category="index",
        ),
        ErrorInput("blank-float", (lp, padded, il, tl), dict(blank=1.0), TypeError, combo, "blank", category="dtype"),
        ErrorInput(
            "zero_infinity-str",
            (lp, padded, il, tl),
            dict(zero_infinity="a"),
            TypeError,
            combo,
            "zero_infinity",
            category="dtype",
        ),
        ErrorInput(
            "input_length>T",
            (lp, padded, torch.tensor([9, 6, 8]), tl),
            {},
            RuntimeError,
            "Expected input_lengths to have value at most 8, but got value 9",
            "input_lengths",
            category="value",
        ),
        ErrorInput(
            "input_length-negative",
            (lp, padded, torch.tensor([8, -1, 8]), tl),
            {},
            RuntimeError,
            "Expected input_lengths to have value at least 0, but got value -1",
            "input_lengths",
            category="value",
        ),
        ErrorInput(
            "target_length>S-padded",
            (lp, padded, il, torch.tensor([5, 2, 3])),
            {},
            RuntimeError,
            "Expected tensor to have size at least 5 at dimension 1, but got size 4 for argument #2 'targets'",
            "targets",
            category="value",
        ),
        # unbatched 1-D targets are the concatenated form too, not one padded row (found by tests/test_fuzz.py)
        ErrorInput(
            "unbatched-1-D-targets-longer-than-target_length",
            (lp[:, 0], torch.tensor([1, 1, 1]), torch.tensor(8), torch.tensor(0)),
            {},
            RuntimeError,
            "Expected tensor to have size 0 at dimension 0, but got size 3 for argument #2 'targets'",
            "targets",
            category="shape",
        ),
        ErrorInput(
            "sum(target_lengths)!=len(targets)",
            (lp, flat[:-1], il, tl),
            {},
            RuntimeError,
            "Expected tensor to have size 8 at dimension 0, but got size 7 for argument #2 'targets'",
            "targets",
            category="shape",
        ),
        ErrorInput(
            "targets-wrong-batch",
            (lp, padded[:2], il, tl),
            {},
            RuntimeError,
            "Expected tensor to have size 3 at dimension 0, but got size 2 for argument #2 'targets'",
            "targets",
            category="shape",
        ),
        ErrorInput(
            "targets-3-D",
            (lp, padded[None], il, tl),
            {},
            RuntimeError,
            "Expected 1 to 2 dimensions, but got 3-dimensional tensor for argument #2 'targets'",
            "targets",
            category="shape",
        ),
        ErrorInput(
            "input_lengths-wrong-size",
            (lp, padded, il[:2], tl),
            {},
            RuntimeError,
            "input_lengths must be of size batch_size",
            "input_lengths",
            category="shape",
        ),
        ErrorInput(
            "target_lengths-wrong-size",
            (lp, padded, il, tl[:2]),
            {},
            RuntimeError,
            "target_lengths must be of size batch_size",
            "target_lengths",
            category="shape",
        ),
        ErrorInput(
            "input_lengths-list-wrong-size",
            (lp, padded, [8, 6], [3, 2, 3]),
            {},
            RuntimeError,
            "input_lengths must be of size batch_size",
            "input_lengths",
            category="shape",
        ),
        ErrorInput(
            "target_length-negative",
            (lp, padded, il, torch.tensor([3, -1, 3])),
            {},
            RuntimeError,
            "Expected target_lengths to have value at least 0, but got value -1",
            "target_lengths",
            category="value",
        ),
        ErrorInput(
            "log_probs-4-D",
            (lp[None], padded, il, tl),
            {},
            RuntimeError,
            "Expected 3-dimensional tensor, but got 5-dimensional tensor for argument #1 'log_probs'",
            "log_probs",
            category="shape",
        ),
        ErrorInput(
            "log_probs-1-D",
            (lp[:, 0, 0], padded, il, tl),
            {},
            RuntimeError,
            "Expected 3-dimensional tensor, but got 2-dimensional tensor for argument #1 'log_probs'",
            "log_probs",
            category="shape",
        ),
        ErrorInput(
            "empty-batch",
            (lp[:, :0], padded[:0], il[:0], tl[:0]),
            {},
            RuntimeError,
            "log_probs tensor must not be empty",
            "log_probs",
            category="shape",
        ),
        ErrorInput(
            "no-frames-T=0",
            (lp[:0], padded, torch.tensor([0, 0, 0]), tl),
            {},
            RuntimeError,
            "log_probs tensor must not be empty",
            "log_probs",
            category="shape",
        ),
        ErrorInput(
            "float16",
            (lp.half(), padded, il, tl),
            {},
            NotImplementedError,
            "\"ctc_loss_cpu\" not implemented for 'Half'",
            "log_probs",
            category="dtype",
        ),
        ErrorInput(
            "bfloat16",
            (lp.bfloat16(), padded, il, tl),
            {},
            NotImplementedError,
            "\"ctc_loss_cpu\" not implemented for 'BFloat16'",
            "log_probs",
            category="dtype",
        ),
        ErrorInput(
            "log_probs-int64",
            (lp.long(), padded, il, tl),
            {},
            NotImplementedError,
            "\"ctc_loss_cpu\" not implemented for 'Long'",
            "log_probs",
            category="dtype",
        ),
        ErrorInput(
            "input_lengths-float",
            (lp, padded, il.double(), tl),
            {},
            RuntimeError,
            "input_lengths must be integral",
            "input_lengths",
            category="dtype",
        ),
        ErrorInput(
            "target_lengths-bool",
            (lp, padded, il, tl > 0),
            {},
            RuntimeError,
            "target_lengths must be integral",
            "target_lengths",
            category="dtype",
        ),
        ErrorInput(
            "lengths-list-and-tensor",
            (lp, padded, [8, 6, 8], tl),
            {},
            TypeError,
            combo,
            "input_lengths",
            category="dtype",
        ),
        ErrorInput(
            "lengths-list-of-floats",
            (lp, padded, [8.0, 6.0, 8.0], [3, 2, 3]),
            {},
            TypeError,
            combo,
            "input_lengths",
            category="dtype",
        ),
        ErrorInput("log_probs-list", ([0.0], padded, il, tl), {}, TypeError, combo, "log_probs", category="dtype"),
    ]


def ctc_modules() -> list[ModuleInput]:
    lp = _log_probs("ctc-module", T, N, C, dtype=torch.float64, device="cpu")
    padded = torch.tensor([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 4, 0]])
    il, tl = torch.tensor([8, 6, 7]), torch.tensor([3, 2, 3])
    args = (lp, padded, il, tl)
    out = [ModuleInput("default", {}, args, wrt=(0,))]
    out += [ModuleInput(f"reduction={r}", dict(reduction=r), args, wrt=(0,)) for r in REDUCTIONS]
    out.append(
        ModuleInput("blank=4", dict(blank=4), (lp, torch.tensor([[1, 2, 2], [3, 0, 0], [0, 1, 3]]), il, tl), wrt=(0,))
    )
    impossible = (lp, padded, torch.tensor([8, 1, 4]), tl)
    out.append(ModuleInput("zero_infinity=True", dict(zero_infinity=True, reduction="sum"), impossible, wrt=(0,)))
    out.append(ModuleInput("zero_infinity=False-impossible", dict(reduction="none"), impossible, wrt=(0,)))
    out.append(ModuleInput("reduction='foo' constructs", dict(reduction="foo"), args, wrt=(0,)))
    return out


def ctc_hand_gradient(sample: SampleInput, grad_output: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """``ctc_loss_grad`` against torch's backward for ``log_probs``."""
    leaf = sample.args[0].detach().clone().requires_grad_(True)
    value = F.ctc_loss(leaf, *sample.args[1:], **sample.kwargs)
    expected = torch.autograd.grad(value, leaf, grad_output)
    return list(RF.ctc_loss_grad(grad_output, *sample.args, **sample.kwargs)), list(expected)


def _lp(*frames: list[float]) -> Tensor:
    """Unbatched log-probabilities (T, C) from probability rows."""
    return torch.tensor(frames, dtype=torch.float64).log()


# two frames, classes (blank, a): the paths of "a" are a a, blank a, a blank
TWO_FRAMES = _lp([0.6, 0.4], [0.3, 0.7])


# three frames, classes (blank, a, b)
THREE_FRAMES = _lp([0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3])


CTC_LOSS = LossCase(
    name=FN,
    part="sequence",
    chapter="ctc",
    torch_fn=F.ctc_loss,
    ref_fn=RF.ctc_loss,
    torch_module=torch.nn.CTCLoss,
    ref_module=RN.CTCLoss,
    samples=ctc_samples,
    errors=ctc_errors,
    modules=ctc_modules,
    known_values=[
        KnownValue(
            "one frame: -log p(a)",
            (_lp([0.3, 0.7]), torch.tensor([1]), (1,), (1,)),
            dict(reduction="none"),
            -math.log(0.7),
        ),
        KnownValue(
            "two frames, 'a': aa + _a + a_",
            (TWO_FRAMES, torch.tensor([1]), (2,), (1,)),
            dict(reduction="none"),
            -math.log(0.4 * 0.7 + 0.6 * 0.7 + 0.4 * 0.3),
        ),
        KnownValue(
            "'a a' in three frames: only a _ a",
            (THREE_FRAMES, torch.tensor([1, 1]), (3,), (2,)),
            dict(reduction="none"),
            -math.log(0.3 * 0.2 * 0.1),
        ),
        KnownValue(
            "'a b' in two frames: only a b",
            (THREE_FRAMES[:2], torch.tensor([1, 2]), (2,), (2,)),
            dict(reduction="sum"),
            -math.log(0.3 * 0.5),
        ),
        KnownValue(
            "'a a' in two frames: impossible",
            (THREE_FRAMES[:2], torch.tensor([1, 1]), (2,), (2,)),
            dict(reduction="none"),
            math.inf,
        ),
        KnownValue(
            "mean divides by the target length: 'a b' / 2",
            (THREE_FRAMES[:2], torch.tensor([1, 2]), (2,), (2,)),
            {},
            -math.log(0.3 * 0.5) / 2,
        ),
        KnownValue(
            "empty target: -sum log p(blank), divided by max(0, 1)",
            (THREE_FRAMES, torch.tensor([], dtype=torch.long), (3,), (0,)),
            {},
            -math.log(0.5 * 0.2 * 0.6),
        ),
    ],
    dtypes={"cpu": (torch.float64, torch.float32), "cuda": (torch.float64, torch.float32)},
    hand_gradient=ctc_hand_gradient,
    gradcheck_wrap=log_softmax_last,
    forbidden=("ctc_loss", "_ctc_loss", "_cudnn_ctc_loss"),
    known_differences={
        **NO_JVP_YET,
        "mixed-precision": "one floating argument (log_probs): no mix to make",
        "mixed-devices": "torch accepts CPU targets and lengths next to CUDA log_probs (cuDNN even requires it)",
        # F.ctc_loss with 1-D concatenated targets of stride 2 reads them as if contiguous: wrong losses
        # (e.g. sample 'concatenated-1-D': 6.137 instead of 6.940 for the second sequence)
        "layout:sliced": "torch 2.13: the CPU ctc_loss ignores the stride of concatenated targets",
        "layout:expanded": "torch 2.13: the CPU ctc_loss ignores the stride of concatenated targets (stride 0)",
    },
    error_categories=frozenset({"shape", "dtype", "reduction", "index", "value"}),
    fuzz=fuzz.ctc(),
)


# the part's losses, in the order of their chapters in _toc.yml
CASES = [CTC_LOSS]
