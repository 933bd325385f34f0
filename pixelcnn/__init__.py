"""A conditional Gated PixelCNN (van den Oord et al. 2016) with a fast cached sampler, the
original PixelCNN it improved on, a two-stage model that sketches first and draws the detail
over the sketch, and the auto-encoder that uses it as a decoder."""

from .model import GatedPixelCNN
from .original import PixelCNN
from .sampling import sample, sample_stages, sample_stream
from .twostage import TwoStagePixelCNN

__all__ = ["GatedPixelCNN", "PixelCNN", "TwoStagePixelCNN", "MSEAutoEncoder", "PixelCNNAutoEncoder", "sample", "sample_stages", "sample_stream"]


def __getattr__(name):
    # Imported on first use, so that `python -m pixelcnn.autoencoder` runs its module only once.
    if name in ("MSEAutoEncoder", "PixelCNNAutoEncoder"):
        from . import autoencoder

        return getattr(autoencoder, name)
    raise AttributeError(f"module 'pixelcnn' has no attribute {name!r}")
