r"""``mse_loss``, tuned: the sum of squares as one dot product.

The readable :mod:`refimpl.regression.mse` writes :math:`\sum_i r_i^2` as it reads: square every residual into a
new tensor, then sum it. That writes an elementwise loss only to read it back. For an unreduced loss there is
nothing to save, but :math:`\sum_i r_i^2 = r \cdot r` is a dot product, which reads :math:`r` once and writes
nothing (float32 and float64 only: a half-precision dot accumulates in half precision). Validation and the
gradient are the readable module's.

Chapter: ``book/reference/formula_to_fast.ipynb``.
"""

import torch
from torch import Tensor

from refimpl.regression import mse as readable


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """:func:`refimpl.regression.mse.mse_loss`, with the unweighted 'mean' and 'sum' as a dot product."""
    reduction = readable._validate_mse_loss(input, target, size_average, reduce, reduction, weight)
    return _MSELossFunction.apply(input - target, weight, reduction)


class _MSELossFunction(readable._MSELossFunction):
    """The readable Function (its setup_context and backward), with a forward that sums by a dot product."""

    @staticmethod
    def forward(residual: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
        if weight is None and reduction != "none" and residual.dtype in (torch.float32, torch.float64):
            flat = residual.reshape(-1)
            total = torch.dot(flat, flat)  # sum_i r_i^2: one read of r, no elementwise loss written
            return total / residual.numel() if reduction == "mean" else total
        return readable._MSELossFunction.forward(residual, weight, reduction)
