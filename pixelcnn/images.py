"""Turning sampled intensities into pictures: grids, upscaling, PIL conversion."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .data import dequantize


def to_uint8(images, levels: int) -> np.ndarray:
    """(N, C, H, W) ints in [0, levels) -> (N, H, W, C) uint8 in [0, 255]."""
    values = images.cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    return dequantize(values, levels).transpose(0, 2, 3, 1)


def grid(images, levels: int, columns: int, scale: int = 1, gap: int = 1) -> Image.Image:
    """Tile (N, C, H, W) intensities into one picture, `columns` wide, each pixel scale x scale
    (nearest neighbour, so pixels stay crisp), with a `gap`-pixel border."""
    tiles = to_uint8(images, levels)  # (N, H, W, C)
    n, h, w, c = tiles.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    canvas = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, c), 40, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        top, left = gap + (k // columns) * (h + gap), gap + (k % columns) * (w + gap)
        canvas[top : top + h, left : left + w] = tile
    if scale > 1:
        canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    return Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)


def save_grid(images, levels: int, path: Path, columns: int, scale: int = 2) -> None:
    grid(images, levels, columns, scale=scale).save(path)
