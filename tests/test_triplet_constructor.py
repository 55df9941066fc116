"""The triplet modules check ``margin > 0`` in their constructors, as torch's do (the registry's module
records construct successfully, so this check has its own test)."""

import pytest
import torch

import refimpl.nn as RN


@pytest.mark.parametrize("name", ["TripletMarginLoss", "TripletMarginWithDistanceLoss"])
@pytest.mark.parametrize("margin", [0.0, -1.0])
def test_constructor_rejects_non_positive_margin(name, margin):
    with pytest.raises(ValueError, match="expected margin to be greater than 0") as torch_error:
        getattr(torch.nn, name)(margin=margin)
    with pytest.raises(type(torch_error.value), match="expected margin to be greater than 0") as ref_error:
        getattr(RN, name)(margin=margin)
    assert "margin" in str(ref_error.value) and name in str(ref_error.value)
