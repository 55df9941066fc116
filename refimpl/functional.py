"""The functional API: one function per ``torch.nn.functional`` loss, same name, same signature.

Each function lives in its own module under its part of the book; this file only re-exports them.
"""

from refimpl.regression.huber import huber_loss, huber_loss_grad
from refimpl.regression.l1 import l1_loss, l1_loss_grad
from refimpl.regression.mse import mse_loss, mse_loss_grad
from refimpl.regression.smooth_l1 import smooth_l1_loss, smooth_l1_loss_grad

__all__ = [
    "huber_loss",
    "huber_loss_grad",
    "l1_loss",
    "l1_loss_grad",
    "mse_loss",
    "mse_loss_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
]
