"""What --shift and --brightness do to a training batch: each image moved, or its intensities scaled,
by its own random amount (`training.loop.Batches`)."""

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
