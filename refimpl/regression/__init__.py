"""Regression losses: L1, MSE, Huber, SmoothL1."""
