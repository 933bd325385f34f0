"""The models: causal convolutions, the gated layer (and its one-pixel step), what every PixelCNN
shares, the Gated PixelCNN, the original PixelCNN, the two-stage model and the auto-encoders."""

from pixelcnn.models.autoencoder import MSEAutoEncoder, PixelCNNAutoEncoder
from pixelcnn.models.base import PixelCNNBase
from pixelcnn.models.gated import GatedPixelCNN
from pixelcnn.models.original import PixelCNN
from pixelcnn.models.twostage import TwoStagePixelCNN

KINDS = {cls.__name__: cls for cls in (GatedPixelCNN, PixelCNN, TwoStagePixelCNN, PixelCNNAutoEncoder, MSEAutoEncoder)}

__all__ = ["KINDS", "GatedPixelCNN", "MSEAutoEncoder", "PixelCNN", "PixelCNNAutoEncoder", "PixelCNNBase", "TwoStagePixelCNN"]
