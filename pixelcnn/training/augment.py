"""What --shift, --rotate, --zoom and --brightness do to a training batch: each image moved, turned,
resized, or its intensities scaled, by its own random amount (`training.loop.Batches`)."""

import math

import torch
import torch.nn.functional as F


def shifted(x: torch.Tensor, most: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of x (B, C, H, W) moved by its own random (dy, dx) in [-most, most], the edge
    rows and columns repeated into the gap."""
    b, _, h, w = x.shape
    padded = F.pad(x.float(), (most, most, most, most), mode="replicate").to(x.dtype)
    dy, dx = (torch.randint(0, 2 * most + 1, (b,), generator=generator) for _ in range(2))
    rows = (dy[:, None] + torch.arange(h)).to(x.device)
    cols = (dx[:, None] + torch.arange(w)).to(x.device)
    picked = padded.gather(2, rows[:, None, :, None].expand(b, x.shape[1], h, padded.shape[-1]))
    return picked.gather(3, cols[:, None, None, :].expand(b, x.shape[1], h, w))


def brightened(x: torch.Tensor, most: float, levels: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of x (B, C, H, W) of int levels scaled by its own factor in [1 - most, 1 + most]."""
    factor = 1 + most * (2 * torch.rand(len(x), generator=generator) - 1)
    return (x.float() * factor.to(x.device)[:, None, None, None]).round().clamp(0, levels - 1).to(x.dtype)


def warped(x: torch.Tensor, degrees: float, zoom: float, levels: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of x (B, C, H, W) of int levels turned about its centre by its own angle in
    [-degrees, degrees] and resized by its own factor in [1 - zoom, 1 + zoom] (bilinear, the edge
    pixels repeated outside), rounded back to the levels."""
    b = len(x)
    angle = math.radians(degrees) * (2 * torch.rand(b, generator=generator) - 1)
    size = 1 + zoom * (2 * torch.rand(b, generator=generator) - 1)
    cos, sin = torch.cos(angle) / size, torch.sin(angle) / size  # the grid maps output to input: the inverse
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(b)], 1), torch.stack([sin, cos, torch.zeros(b)], 1)], 1)
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.round().clamp(0, levels - 1).to(x.dtype)
