"""The functional API: one function per ``torch.nn.functional`` loss, same name, same signature, and
each loss's hand-derived gradient ``<name>_grad``.

Each function lives in its own module under its part of the book; this file only re-exports them.
"""

from refimpl.probabilistic.gaussian_nll import gaussian_nll_loss, gaussian_nll_loss_grad
from refimpl.regression.huber import huber_loss, huber_loss_grad
from refimpl.regression.l1 import l1_loss, l1_loss_grad
from refimpl.regression.mse import mse_loss, mse_loss_grad
from refimpl.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_grad

__all__ = sorted(name for name in dir() if not name.startswith("_") and name.endswith(("_loss", "_grad")))
