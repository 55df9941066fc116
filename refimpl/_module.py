"""The two base classes every refimpl loss module derives from, mirroring ``torch.nn.modules.loss``.

They hold ``reduction`` (converted from the deprecated ``size_average``/``reduce`` at construction, with
torch's warning) and, for weighted losses, the ``weight`` buffer, so that ``state_dict`` keys and
``.to()``/``.double()`` behave exactly as in torch. Like torch, constructors do not validate
``reduction``: a bad string raises at the first forward.
"""

from torch import Tensor, nn

from refimpl._reduction import legacy_get_string


class Loss(nn.Module):
    """Base of the unweighted losses: stores ``reduction``."""

    reduction: str

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction = legacy_get_string(size_average, reduce)
        else:
            self.reduction = reduction


class WeightedLoss(Loss):
    """Base of the losses with a per-class or per-element ``weight``, registered as a buffer."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
