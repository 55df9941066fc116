"""Probabilistic losses: PoissonNLL, GaussianNLL, KLDiv."""
