"""The original PixelCNN (van den Oord et al. 2016a, "Pixel Recurrent Neural Networks",
arXiv 1601.06759): one stack of masked convolutions, kept as the baseline the Gated PixelCNN
is measured against, and to show its blind spot.

    first layer:  h = relu(MaskA(x) + V h_cond)
    later layers: h = h + relu(MaskB(h) + V h_cond)      (residual, as in the PixelRNN paper)
    head:         the same two masked 1x1 layers and `levels`-way softmax as GatedPixelCNN

It takes the same constructor keywords, conditioning (a class, a vector, a spatial map, with
or without conditioning dropout), output shape and bits/dim as `GatedPixelCNN`; it has no
incremental sampler, so `sample` draws it one full pass per sub-pixel.
"""

import torch.nn.functional as F
from torch import nn

from pixelcnn.models.base import PixelCNNBase
from pixelcnn.models.convs import MaskedConv2d, channel_groups
from pixelcnn.models.saved import Saved


class MaskedLayer(nn.Module):
    def __init__(self, hidden, colours, kernel_size, cond_features, cond_map_channels, first):
        super().__init__()
        in_channels = colours if first else hidden
        hidden_groups = channel_groups(hidden, colours)
        self.first = first
        self.conv = MaskedConv2d(in_channels, hidden, kernel_size, channel_groups(in_channels, colours), hidden_groups, include_self=not first)
        self.cond = nn.Linear(cond_features, hidden) if cond_features else None
        self.cond_map = nn.Conv2d(cond_map_channels, hidden, 1) if cond_map_channels else None

    def forward(self, h, cond_vec=None, cond_map=None):
        """h: (B, in, H, W) -> (B, hidden, H, W)."""
        pre = self.conv(h)
        if self.cond is not None:
            pre = pre + self.cond(cond_vec)[:, :, None, None]
        if self.cond_map is not None:
            pre = pre + self.cond_map(cond_map)
        out = F.relu(pre)
        return out if self.first else h + out


class PixelCNN(
    PixelCNNBase,
    Saved,
    library_name="pixelcnn",
    tags=["pixelcnn", "autoregressive", "image-generation", "blind-spot-baseline"],
    license="mit",
):
    """One stack of masked convolutions: mask A in the first layer, mask B after."""

    TITLE = "original PixelCNN"
    LAYER_WORDS = "masked convolution layers"
    PAPER = "van den Oord et al. 2016a, arXiv 1601.06759"

    def build_layers(self, cond_features: int) -> nn.ModuleList:
        return nn.ModuleList(
            MaskedLayer(self.hidden_channels, self.image_channels, self.kernel_size, cond_features, self.map_channels, first=k == 0)
            for k in range(self.num_layers)
        )

    def features(self, x, cond_vec, cond_map):
        h = x
        for layer in self.layers:
            h = layer(h, cond_vec, cond_map)
        return h  # (B, hidden, H, W)
