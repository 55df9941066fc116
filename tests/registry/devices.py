"""Bad input that needs a second device: a call whose tensors live on two devices.

torch refuses a loss whose tensors are on different devices with a RuntimeError ("Expected all tensors to be
on the same device"). Such a call can only be built where a second device exists, so each entry here is an
``ErrorInput`` with ``device="cuda"``: its arguments are CPU tensors, and the one named in ``move`` goes to the
GPU just before the call (``ErrorInput.on_device``). Without CUDA the error tests skip it with the reason.

Each loss gets one entry, made from its first float32 sample whose first two arguments are tensors with at
least one dimension and one element (a 0-dim CPU tensor next to a CUDA tensor is allowed: torch reads it as
a scalar). The second tensor moves, so the first, the input, stays on the CPU. Left out: the losses whose record
says torch accepts mixed devices (``known_differences['mixed-devices']``: ``ctc_loss``).
"""

import inspect

import torch

from .core import ErrorInput, LossCase


def _mixable(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() > 0 and value.numel() > 0


def device_errors(case: LossCase) -> list[ErrorInput]:
    """One call of ``case`` with its second tensor argument on CUDA and the rest on the CPU (empty if the loss
    accepts mixed devices or has no such sample)."""
    if "mixed-devices" in case.known_differences:
        return []
    parameters = list(inspect.signature(case.ref_fn).parameters)
    for sample in case.samples("cpu", torch.float32):
        if len(sample.args) >= 2 and _mixable(sample.args[0]) and _mixable(sample.args[1]):
            args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in sample.args)
            return [
                ErrorInput(
                    f"{parameters[1]}-on-another-device-({sample.desc})",
                    args,
                    dict(sample.kwargs),
                    RuntimeError,
                    "device",
                    parameters[1],
                    category="device",
                    device="cuda",
                    move=(1,),
                )
            ]
    return []
