"""Causal convolutions for the two-stack Gated PixelCNN.

Raster order is row by row, left to right, and inside a pixel colour by colour (R, G, B).
Feature maps are split into one group per image channel: group c may see the current pixel's
colours before c (mask A) or up to and including c (mask B). Only convolutions that can see the
current position carry a colour mask; the vertical stack sees complete rows above and needs none.

Masks are buffers multiplied into the weight on every call, so masked weights get zero gradient
and no optimiser can move them.
"""

import torch
import torch.nn.functional as F
from torch import nn


def channel_groups(channels: int, colours: int) -> torch.Tensor:
    """Colour group of each of `channels` feature maps: (channels,) ints in [0, colours)."""
    return torch.arange(channels) * colours // channels


def gate_groups(hidden: int, colours: int) -> torch.Tensor:
    """Colour groups of a gate's 2*hidden pre-activations: both halves grouped alike."""
    half = channel_groups(hidden, colours)
    return torch.cat([half, half])


def colour_mask(out_groups: torch.Tensor, in_groups: torch.Tensor, include_self: bool) -> torch.Tensor:
    """(out, in) float mask: 1 where an output group may see an input group at the same pixel."""
    out_g, in_g = out_groups[:, None], in_groups[None, :]
    allowed = out_g >= in_g if include_self else out_g > in_g
    return allowed.float()


def down_shift(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down, zeros in the top row: row i then holds what row i-1 held."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


class VerticalConv(nn.Module):
    """An n x n kernel cut to its top ceil(n/2) rows: output row i sees input rows i-n//2 .. i.

    Row i of the output still sees row i of the input, so the vertical stack's output is only
    ever used one row further down (see `down_shift`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.pad = kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, (self.pad + 1, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in, H, W) -> (B, out, H, W)
        return self.conv(F.pad(x, (self.pad, self.pad, self.pad, 0)))


class HorizontalConv(nn.Module):
    """A 1 x ceil(n/2) kernel over the current pixel and those to its left in the same row.

    The tap on the current pixel is colour-masked: mask A (`include_self=False`) in the first
    layer, where the input is the image itself, and mask B after.
    """

    def __init__(self, in_channels, out_channels, kernel_size, in_groups, out_groups, include_self):
        super().__init__()
        self.pad = kernel_size // 2
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, self.pad + 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        mask = torch.ones_like(self.weight)
        mask[:, :, 0, -1] = colour_mask(out_groups, in_groups, include_self)
        self.register_buffer("mask", mask, persistent=False)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in, H, W) -> (B, out, H, W)
        return F.conv2d(F.pad(x, (self.pad, 0, 0, 0)), self.masked_weight(), self.bias)


class MaskedConv1x1(nn.Module):
    """A 1x1 convolution with a colour mask (B by default) between feature-map groups."""

    def __init__(self, in_channels, out_channels, in_groups, out_groups, include_self=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.register_buffer("mask", colour_mask(out_groups, in_groups, include_self), persistent=False)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in, H, W) -> (B, out, H, W)
        return F.conv2d(x, self.masked_weight()[:, :, None, None], self.bias)


class MaskedConv2d(nn.Module):
    """The original PixelCNN's n x n convolution (van den Oord et al. 2016a): taps on every row
    above, on the pixels to the left in the current row, and on the current pixel through a
    colour mask (A: earlier colours only; B: also its own group); the taps to the right of the
    current pixel and on the rows below are zero.

    Stacked, these convolutions never reach the pixels above and to the right that lie outside
    the growing triangle of the first layers: the blind spot the gated two-stack design removes.
    """

    def __init__(self, in_channels, out_channels, kernel_size, in_groups, out_groups, include_self):
        super().__init__()
        self.pad = kernel_size // 2
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        mask = torch.zeros_like(self.weight)
        mask[:, :, : self.pad] = 1.0  # every row above
        mask[:, :, self.pad, : self.pad] = 1.0  # left of the current pixel
        mask[:, :, self.pad, self.pad] = colour_mask(out_groups, in_groups, include_self)
        self.register_buffer("mask", mask, persistent=False)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, in, H, W) -> (B, out, H, W)
        return F.conv2d(x, self.masked_weight(), self.bias, padding=self.pad)


def vector_map(features: int, image_size: list, out_channels: int, channels: int = 32) -> nn.Sequential:
    """m(h) of the paper's section 2.3: (B, features) -> (B, out_channels, H, W), a linear layer to a
    small grid, then stride-2 transposed convolutions up to the image's size (up to three, as often
    as both sides halve evenly). The last one starts at zero, so a new map adds nothing until trained."""
    h, w = image_size
    ups = 0
    while ups < 3 and h % 2 ** (ups + 1) == 0 and w % 2 ** (ups + 1) == 0:
        ups += 1
    if ups == 0:
        raise ValueError(f"a vector map needs even image sides, got {h}x{w}.")
    gh, gw = h >> ups, w >> ups
    layers: list[nn.Module] = [nn.Linear(features, channels * gh * gw), nn.ReLU(), nn.Unflatten(1, (channels, gh, gw))]
    for k in range(ups):
        last = k == ups - 1
        layers.append(nn.ConvTranspose2d(channels, out_channels if last else channels, 4, 2, 1))
        if not last:
            layers.append(nn.ReLU())
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)
