"""A conditional Gated PixelCNN (van den Oord et al. 2016) with a fast cached sampler."""

from .model import GatedPixelCNN
from .sampling import sample, sample_stream

__all__ = ["GatedPixelCNN", "sample", "sample_stream"]
