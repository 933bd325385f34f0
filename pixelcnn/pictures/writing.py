"""Turning sampled intensities into pictures: grids, upscaling, PIL conversion."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelcnn.data import dequantize


def to_uint8(images, levels: int) -> np.ndarray:
    """(N, C, H, W) ints in [0, levels) -> (N, H, W, C) uint8 in [0, 255]."""
    values = images.cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    return dequantize(values, levels).transpose(0, 2, 3, 1)


def tile(tiles: np.ndarray, columns: int, scale: int = 1, gap: int = 1, background: int = 40) -> np.ndarray:
    """(N, H, W, C) uint8 tiles -> one (rows*(H+gap)+gap, columns*(W+gap)+gap, C) sheet, each
    pixel then scale x scale (nearest neighbour, so pixels stay crisp)."""
    n, h, w, c = tiles.shape
    rows = -(-n // columns)
    sheet = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, c), background, dtype=np.uint8)
    for k, one in enumerate(tiles):
        top, left = gap + (k // columns) * (h + gap), gap + (k % columns) * (w + gap)
        sheet[top : top + h, left : left + w] = one
    return sheet.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else sheet


def grid(images, levels: int, columns: int, scale: int = 1, gap: int = 1) -> Image.Image:
    """Tile (N, C, H, W) intensities into one picture, `columns` wide, each pixel scale x scale,
    with a `gap`-pixel border."""
    tiles = to_uint8(images, levels)  # (N, H, W, C)
    sheet = tile(tiles, max(1, min(columns, len(tiles))), scale, gap)
    return Image.fromarray(sheet[:, :, 0] if sheet.shape[2] == 1 else sheet)


def save_grid(images, levels: int, path: Path, columns: int, scale: int = 2) -> None:
    grid(images, levels, columns, scale=scale).save(path)
