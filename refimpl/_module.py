"""The two base classes every refimpl loss module derives from: torch's own ``_Loss`` and ``_WeightedLoss``.

refimpl's modules subclass torch's loss bases exactly where torch's do, so ``isinstance(module,
torch.nn.modules.loss._Loss)`` holds for both and code that checks the type accepts either. The bases hold
``reduction`` (converted here from the deprecated ``size_average``/``reduce``, with torch's warning) and, for
weighted losses, the ``weight`` buffer, so that ``state_dict`` keys and ``.to()``/``.double()`` behave exactly as
in torch. Like torch, constructors do not validate ``reduction``: a bad string raises at the first forward.
"""

from torch import Tensor
from torch.nn.modules.loss import _Loss, _WeightedLoss

from refimpl._reduction import legacy_get_string


class Loss(_Loss):
    """Base of the unweighted losses (torch's ``_Loss``): stores ``reduction``."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        if size_average is not None or reduce is not None:
            reduction = legacy_get_string(size_average, reduce)
        super().__init__(reduction=reduction)


class WeightedLoss(_WeightedLoss):
    """Base of the losses with a per-class or per-element ``weight`` (torch's ``_WeightedLoss``), registered as a
    buffer."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        if size_average is not None or reduce is not None:
            reduction = legacy_get_string(size_average, reduce)
        super().__init__(weight, reduction=reduction)
