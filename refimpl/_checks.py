"""Validation shared by every loss: torch's exception type, a message that names the argument.

Each helper raises the exception class torch raises for the same mistake and keeps torch's key phrase
in the message (so one regular expression matches both), then says which function and which argument
is wrong, what was expected and what was given.
"""

import numbers
import sys
import warnings
from pathlib import Path

import torch
from torch import Tensor


class NotATensorError(TypeError, AttributeError):
    """A non-tensor where a tensor is required.

    torch's Python losses fail on ``input.size()`` with ``AttributeError``; a ``TypeError`` is what a
    reader expects. This class is both, so ``except TypeError`` and ``except AttributeError`` catch it.
    """


def check_tensor(fn_name: str, name: str, value: object) -> None:
    """Raise :class:`NotATensorError` unless ``value`` is a ``torch.Tensor``."""
    if not isinstance(value, Tensor):
        raise NotATensorError(
            f"{fn_name}(): argument '{name}' must be a Tensor, got {type(value).__name__} "
            f"('{type(value).__name__}' object has no attribute 'size')"
        )


def check_number(fn_name: str, name: str, value: object, position: int) -> float:
    """Return ``value`` as a float; raise ``TypeError`` (torch's wording) unless it is a real number."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{fn_name}(): argument '{name}' (position {position}) must be float, not {type(value).__name__}"
        )
    return float(value)


_PACKAGE = str(Path(__file__).resolve().parent)


def user_stacklevel() -> int:
    """The ``stacklevel`` at which a warning issued by the calling function points at the first frame outside
    refimpl: the user's line, as torch's warnings do, however many validation helpers lie in between."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def warn_if_size_mismatch(input: Tensor, target: Tensor) -> None:
    """torch's warning when ``target`` will be broadcast against ``input`` (word for word)."""
    if target.size() != input.size():
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=user_stacklevel(),
        )


def broadcast_shapes(fn_name: str, first: str, a: Tensor, second: str, b: Tensor) -> torch.Size:
    """The common shape of ``a`` and ``b``; ``RuntimeError`` with torch's phrase when there is none."""
    ndim = max(a.dim(), b.dim())
    shape_a = (1,) * (ndim - a.dim()) + tuple(a.shape)
    shape_b = (1,) * (ndim - b.dim()) + tuple(b.shape)
    for dim, (size_a, size_b) in enumerate(zip(shape_a, shape_b, strict=True)):
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise RuntimeError(
                f"{fn_name}(): The size of tensor a ({size_a}) must match the size of tensor b ({size_b}) at "
                f"non-singleton dimension {dim} ({first} has shape {tuple(a.shape)}, {second} has shape "
                f"{tuple(b.shape)}; they must be broadcastable)"
            )
    return torch.Size(size_b if size_a == 1 else size_a for size_a, size_b in zip(shape_a, shape_b, strict=True))


def check_weight_size(fn_name: str, weight: Tensor, input: Tensor) -> None:
    """The elementwise ``weight=`` of l1/mse/huber must have exactly the input's size (ValueError)."""
    if weight.size() != input.size():
        raise ValueError(
            f"{fn_name}(): Weights and input must have the same size "
            f"(argument weight has size {tuple(weight.shape)}, input has size {tuple(input.shape)})."
        )


def check_floating(fn_name: str, kernel: str, dtype: torch.dtype, what: str = "input and target") -> None:
    """Raise ``NotImplementedError`` as torch's kernels do for integer, bool and complex dtypes."""
    if not dtype.is_floating_point:
        raise NotImplementedError(
            f"{fn_name}(): \"{kernel}\" not implemented for '{dtype_name(dtype)}' "
            f"({what} have dtype {dtype}; expected a floating point dtype)"
        )


def check_not_bool(fn_name: str, input: Tensor, target: Tensor) -> None:
    """``input - target`` is undefined when either is bool (torch's RuntimeError)."""
    if input.dtype == torch.bool and target.dtype == torch.bool:
        raise RuntimeError(
            f"{fn_name}(): Subtraction, the `-` operator, with two bool tensors is not supported "
            "(input and target are both bool; pass floating point tensors)."
        )
    if torch.bool in (input.dtype, target.dtype):
        name = "input" if input.dtype == torch.bool else "target"
        raise RuntimeError(
            f"{fn_name}(): Subtraction, the `-` operator, with a bool tensor is not supported "
            f"(argument {name} is bool; convert it with .float())."
        )


def check_mean_dtype(fn_name: str, dtype: torch.dtype) -> None:
    """'mean' of an integer loss has no dtype in torch (RuntimeError)."""
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(
            f"{fn_name}(): mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {dtype_name(dtype)} (reduction='mean' of an integer loss; "
            "use float tensors or reduction='sum')"
        )


def dtype_name(dtype: torch.dtype) -> str:
    """torch's C++ name of a dtype, as its error messages print it ('Long', 'Float', 'ComplexFloat')."""
    return {
        torch.bool: "Bool",
        torch.uint8: "Byte",
        torch.int8: "Char",
        torch.int16: "Short",
        torch.int32: "Int",
        torch.int64: "Long",
        torch.float16: "Half",
        torch.bfloat16: "BFloat16",
        torch.float32: "Float",
        torch.float64: "Double",
        torch.complex64: "ComplexFloat",
        torch.complex128: "ComplexDouble",
    }.get(dtype, str(dtype))


def check_bool(fn_name: str, name: str, value: object, position: int | None = None) -> None:
    """Raise ``TypeError`` (torch's wording) unless ``value`` is a Python ``bool`` (flags such as ``log_target``,
    ``log_input`` and ``full``: torch's argument parser rejects ints, NumPy bools and tensors)."""
    if not isinstance(value, bool):
        where = f" (position {position})" if position is not None else ""
        raise TypeError(f"{fn_name}(): argument '{name}'{where} must be bool, not {type(value).__name__}")


def check_fits_output(fn_name: str, name: str, value: Tensor, output_shape: torch.Size, output: str = "loss") -> None:
    """``value`` multiplies a result of ``output_shape`` in place, as torch's out-style kernels do
    (``loss.mul_(weight)``): it must broadcast to that shape and may not enlarge it (RuntimeError with torch's
    phrases: "The size of tensor a ... must match", "output with shape ... doesn't match the broadcast shape")."""
    shape = tuple(output_shape)
    ndim = max(len(shape), value.dim())
    padded_output = (1,) * (ndim - len(shape)) + shape
    padded_value = (1,) * (ndim - value.dim()) + tuple(value.shape)
    for dim, (size_a, size_b) in enumerate(zip(padded_output, padded_value, strict=True)):
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise RuntimeError(
                f"{fn_name}(): The size of tensor a ({size_a}) must match the size of tensor b ({size_b}) at "
                f"non-singleton dimension {dim} (argument {name} of shape {tuple(value.shape)} must broadcast to "
                f"the {output}'s shape {shape})"
            )
    pairs = zip(padded_output, padded_value, strict=True)
    broadcast = tuple(size_b if size_a == 1 else size_a for size_a, size_b in pairs)
    if broadcast != shape:
        raise RuntimeError(
            f"{fn_name}(): output with shape {list(shape)} doesn't match the broadcast shape {list(broadcast)} "
            f"(argument {name} of shape {tuple(value.shape)} would enlarge the {output} of shape {shape}; it may "
            "only broadcast to it)"
        )


def check_in_place_dtype(
    fn_name: str, name: str, dtype: torch.dtype, output_dtype: torch.dtype, output: str = "loss"
) -> None:
    """``result.mul_(value)`` keeps ``result``'s dtype: torch refuses a value whose promoted type cannot be cast
    back (a complex weight on a real loss, a float on an integer one)."""
    result = torch.promote_types(output_dtype, dtype)
    if not torch.can_cast(result, output_dtype):
        raise RuntimeError(
            f"{fn_name}(): result type {dtype_name(result)} can't be cast to the desired output type "
            f"{dtype_name(output_dtype)} (argument {name} has dtype {dtype}; the {output} has dtype {output_dtype})"
        )


def check_tensor_argument(fn_name: str, name: str, value: object, position: int) -> None:
    """Raise ``TypeError`` in the words of torch's argument parser unless ``value`` is a ``torch.Tensor``
    (for losses whose torch version reaches a C++ op first: "argument 'input' (position 1) must be Tensor,
    not list")."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{fn_name}(): argument '{name}' (position {position}) must be Tensor, not {type(value).__name__}"
        )


def check_same_device(fn_name: str, **tensors: object) -> None:
    """``RuntimeError`` (torch's phrase "same device") when the tensor arguments live on different devices.

    The first tensor given is the reference, as torch's kernels take the input's device. A 0-dim CPU tensor is
    allowed anywhere, as torch reads it as a scalar; arguments that are ``None`` or not tensors are skipped.
    """
    placed = [
        (name, value)
        for name, value in tensors.items()
        if isinstance(value, Tensor) and not (value.dim() == 0 and value.device.type == "cpu")
    ]
    if not placed:
        return
    first_name, first = placed[0]
    for name, value in placed[1:]:
        if value.device != first.device:
            raise RuntimeError(
                f"{fn_name}(): Expected all tensors to be on the same device, but found at least two devices "
                f"(argument {name} is on {value.device}, {first_name} on {first.device})"
            )


def plain(tensor: Tensor) -> Tensor:
    """The values under torch.func's wrappers (vmap's batched tensors, grad's and jvp's tracking tensors), for a
    check that reads values: a class index in range, a probability in [0, 1]. torch's kernels check the whole
    underlying tensor under vmap, so these checks do too, instead of branching on a batched tensor (which vmap
    refuses). Without a transform, ``tensor`` itself."""
    while torch._C._functorch.is_functorch_wrapped_tensor(tensor):
        tensor = torch._C._functorch.get_unwrapped(tensor)
    return tensor
