"""The conditional Gated PixelCNN (van den Oord et al. 2016, arXiv 1606.05328): two stacks of
gated layers (vertical: the rows above; horizontal: the pixels to the left), no blind spot."""

from torch import nn

from pixelcnn.models.base import PixelCNNBase
from pixelcnn.models.gated_layer import GatedLayer
from pixelcnn.models.saved import Saved


class GatedPixelCNN(
    PixelCNNBase,
    Saved,
    library_name="pixelcnn",
    tags=["pixelcnn", "autoregressive", "image-generation"],
    license="mit",
):
    """Two stacks (vertical: the rows above; horizontal: the pixels to the left) of gated layers,
    with no blind spot (van den Oord et al. 2016, figure 2)."""

    TITLE = "Gated PixelCNN"
    CACHED = True  # each layer runs one pixel at a time (GatedLayerStep): sampling.cohort (Cached)
    LAYER_WORDS = "gated layers"

    def build_layers(self, cond_features: int) -> nn.ModuleList:
        return nn.ModuleList(
            GatedLayer(
                self.hidden_channels, self.image_channels, self.kernel_size, cond_features, self.map_channels,
                first=k == 0, last=k == self.num_layers - 1,
            )
            for k in range(self.num_layers)
        )

    def features(self, x, cond_vec, cond_map):
        v = h = x
        skips = 0
        for layer in self.layers:
            v, h, skip = layer(v, h, cond_vec, cond_map)
            skips = skips + skip
        return skips  # (B, hidden, H, W)
