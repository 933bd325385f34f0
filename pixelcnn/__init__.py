"""A conditional Gated PixelCNN (van den Oord et al. 2016) with a fast cached sampler, and the
auto-encoder that uses it as a decoder."""

from .autoencoder import MSEAutoEncoder, PixelCNNAutoEncoder
from .model import GatedPixelCNN
from .sampling import sample, sample_stream

__all__ = ["GatedPixelCNN", "MSEAutoEncoder", "PixelCNNAutoEncoder", "sample", "sample_stream"]
