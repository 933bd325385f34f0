"""A conditional Gated PixelCNN (van den Oord et al. 2016) with a fast cached sampler, the
original PixelCNN it improved on, a two-stage model that sketches first and draws the detail
over the sketch, and the auto-encoder that uses it as a decoder.

    model = pixelcnn.load("assets/mnist")          # or a Hub location: org/repo/subfolder
    images = pixelcnn.sample(model, 16, labels=7, guidance=2.0, seed=0)   # (16, 1, 28, 28) ints
"""

from pixelcnn.loader import load
from pixelcnn.models import GatedPixelCNN, MSEAutoEncoder, PixelCNN, PixelCNNAutoEncoder, TwoStagePixelCNN
from pixelcnn.sampling import sample, sample_stages, sample_stream, stages

__all__ = ["GatedPixelCNN", "MSEAutoEncoder", "PixelCNN", "PixelCNNAutoEncoder", "TwoStagePixelCNN", "load", "sample", "sample_stages",
           "sample_stream", "stages"]
