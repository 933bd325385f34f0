"""Pictures of drawings as the page shows them: the grid of a drawing under way (undrawn pixels dark
blue, the one being drawn orange, a sketch showing through), a two-stage drawing's sketch, and the
grid's layout."""

import math

import numpy as np
import torch
from PIL import Image

from pixelcnn.pictures.writing import tile, to_uint8
from pixelcnn.studio.palette import CURSOR, UNDRAWN


def render(canvas: torch.Tensor, levels: int, done: int, columns: int, scale: int, underlay: np.ndarray | None = None) -> Image.Image:
    """(N, C, H, W) intensities, of which the first `done` sub-pixels (raster order) are drawn ->
    an RGB grid, undrawn pixels tinted (over `underlay` (N, H, W, 3) uint8, a sketch, if given)
    and the next pixel marked, upscaled by nearest neighbour."""
    n, c, h, w = canvas.shape
    tiles = to_uint8(canvas, levels)  # (N, H, W, C)
    if c == 1:
        tiles = np.repeat(tiles, 3, axis=3)
    pixels_done = done // c
    flat = tiles.reshape(n, h * w, 3)
    if underlay is None:
        flat[:, pixels_done:] = UNDRAWN
    else:  # the sketch shows through where the detail is not drawn yet
        flat[:, pixels_done:] = (0.55 * underlay.reshape(n, h * w, 3)[:, pixels_done:] + 0.45 * UNDRAWN).round().astype(np.uint8)
    if pixels_done < h * w:
        flat[:, pixels_done] = CURSOR
    return Image.fromarray(tile(flat.reshape(n, h, w, 3), columns, scale, background=235))


def sketch_picture(model, sketch) -> np.ndarray:
    """(N, C, h, w) sketch intensities -> (N, H, W, 3) uint8: each cell a block of its grey (or colour)."""
    return np.repeat(to_uint8(model.upsampled(torch.as_tensor(sketch)), model.levels), 3 // model.image_channels, axis=3)


def sketch_still(model, sketch: torch.Tensor) -> Image.Image:
    """(1, C, h, w) one sketch -> a picture of it, each cell a block, 8 screen pixels an image pixel."""
    return Image.fromarray(tile(sketch_picture(model, sketch), columns=1, scale=8, background=235))


def render_sketch(model, sketch: torch.Tensor, done: int, columns: int, scale: int) -> Image.Image:
    """(N, C, h, w) sketch intensities, the first `done` sub-pixels drawn -> the grid at the image's
    size, each sketch cell a block: drawn cells in their grey, undrawn ones dark blue, the next one orange."""
    n, c, h, w = sketch.shape
    f = model.factor
    cells = np.arange(h * w).reshape(h, w).repeat(f, 0).repeat(f, 1)  # (H, W) the cell of each pixel
    tiles = sketch_picture(model, sketch)  # (N, H, W, 3)
    drawn = done // c
    tiles[:, cells >= drawn] = UNDRAWN
    tiles[:, cells == drawn] = CURSOR
    return Image.fromarray(tile(tiles, columns, scale, background=235))


def grid_shape(n: int) -> int:
    """Columns of the grid for n images: the squarest layout with no empty cell (8 -> 4 x 2),
    else the square one."""
    square = math.ceil(math.sqrt(n))
    return next((columns for columns in range(square, 2 * square + 1) if n % columns == 0), square)
