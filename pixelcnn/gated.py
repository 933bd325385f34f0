"""One gated layer of the two-stack PixelCNN (van den Oord et al. 2016, figure 2).

    vertical:   v_pre = Vconv(v) + V_v h            v_out = tanh(v_f) * sigmoid(v_g)
    horizontal: h_pre = Hconv(h) + 1x1(down(v_pre)) + V_h h
                gated = tanh(h_f) * sigmoid(h_g)
                h_out = h + 1x1(gated)   (no residual in the first layer: its input is the image;
                                   none in the last: only its skip is used)
                skip  = 1x1(gated)

The vertical-to-horizontal link enters before the gate, and the horizontal stack never feeds
the vertical one.
"""

import torch
from torch import nn

from .convs import HorizontalConv, MaskedConv1x1, VerticalConv, channel_groups, down_shift, gate_groups


def gate(pre: torch.Tensor) -> torch.Tensor:
    """(B, 2h, ...) pre-activations -> (B, h, ...) tanh(first half) * sigmoid(second half)."""
    f, g = pre.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    def __init__(self, hidden, colours, kernel_size, cond_features, cond_map_channels, first, last=False):
        super().__init__()
        in_channels = colours if first else hidden
        in_groups = channel_groups(in_channels, colours)
        hidden_groups = channel_groups(hidden, colours)
        self.first = first
        self.vertical = VerticalConv(in_channels, 2 * hidden, kernel_size)
        self.horizontal = HorizontalConv(
            in_channels, 2 * hidden, kernel_size, in_groups, gate_groups(hidden, colours), include_self=not first
        )
        # The link carries complete rows above: no colour mask.
        self.link = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        # The last layer's horizontal output feeds nothing but its skip: no residual 1x1 there.
        self.residual = None if last else MaskedConv1x1(hidden, hidden, hidden_groups, hidden_groups)
        self.skip = MaskedConv1x1(hidden, hidden, hidden_groups, hidden_groups)
        # One projection gives both stacks' conditioning: (B, 4h) = [vertical 2h | horizontal 2h].
        self.cond = nn.Linear(cond_features, 4 * hidden) if cond_features else None
        self.cond_map = nn.Conv2d(cond_map_channels, 4 * hidden, 1) if cond_map_channels else None

    def conditioning(self, cond_vec, cond_map):
        """Per-layer bias for both stacks: (B, 4h, 1, 1) or (B, 4h, H, W), or 0."""
        bias = 0
        if self.cond is not None:
            bias = self.cond(cond_vec)[:, :, None, None]
        if self.cond_map is not None:
            bias = bias + self.cond_map(cond_map)
        return bias

    def forward(self, v, h, cond_vec=None, cond_map=None):
        """v, h: (B, in, H, W) -> v_out, h_out, skip: (B, hidden, H, W)."""
        bias = self.conditioning(cond_vec, cond_map)
        bias_v, bias_h = (bias.chunk(2, dim=1) if torch.is_tensor(bias) else (0, 0))
        v_pre = self.vertical(v) + bias_v  # (B, 2h, H, W)
        h_pre = self.horizontal(h) + self.link(down_shift(v_pre)) + bias_h
        gated = gate(h_pre)  # (B, h, H, W)
        if self.residual is None:
            h_out = h
        else:
            h_out = self.residual(gated) if self.first else h + self.residual(gated)
        return gate(v_pre), h_out, self.skip(gated)
