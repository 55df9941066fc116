"""Sequence losses: CTC."""
