"""A conditional Gated PixelCNN (van den Oord et al. 2016) with a fast cached sampler, the
original PixelCNN it improved on, and the auto-encoder that uses it as a decoder."""

from .model import GatedPixelCNN
from .original import PixelCNN
from .sampling import sample, sample_stream

__all__ = ["GatedPixelCNN", "PixelCNN", "MSEAutoEncoder", "PixelCNNAutoEncoder", "sample", "sample_stream"]


def __getattr__(name):
    # Imported on first use, so that `python -m pixelcnn.autoencoder` runs its module only once.
    if name in ("MSEAutoEncoder", "PixelCNNAutoEncoder"):
        from . import autoencoder

        return getattr(autoencoder, name)
    raise AttributeError(f"module 'pixelcnn' has no attribute {name!r}")
