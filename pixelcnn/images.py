"""Turning sampled intensities into pictures: grids, upscaling, PIL conversion."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from .data import dequantize


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


MNIST_BOX = 20  # MNIST digits were scaled into a 20x20 box and centred by their centre of mass in 28x28
STROKE = 2.0  # MNIST's mean stroke width in pixels at 28x28, counted where the intensity is above half
FLOOR = 16  # intensities below this become 0 after resampling
OVERSAMPLE = 4  # strokes are measured and thinned or thickened at this many times the model's size
# How each dataset's pictures were laid out: "mnist" (a 20x20 box, centred by centre of mass),
# "fill" (Fashion-MNIST: trimmed, the longer side scaled to the frame, centred), or none (resized whole).
LAYOUTS = {"mnist": "mnist", "fashion-mnist": "fill"}


def eight_bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grey pictures -> 8-bit grey with their tones kept (PIL's own
    conversion clips them instead of scaling); any other mode as it is."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return image
    array = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
    if image.mode == "F" and array.max() <= 1.0:
        top = 1.0
    return Image.fromarray((array.clip(0, top) * (255.0 / top)).round().astype(np.uint8), "L")


def flatten(image: Image.Image) -> Image.Image:
    """A picture with transparency -> the same on a plain background that its opaque part stands
    out from (white under dark strokes, black under light ones); any other picture as it is."""
    if not (image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)):
        return image
    rgba = np.asarray(image.convert("RGBA")).astype(np.float64)
    alpha = rgba[..., 3:] / 255.0
    if alpha.min() == 1.0:
        return image.convert("RGB")
    grey = rgba[..., :3].mean(2)
    opaque = alpha[..., 0] > 0.5
    background = 255.0 if not opaque.any() or grey[opaque].mean() < 128 else 0.0
    return Image.fromarray((rgba[..., :3] * alpha + background * (1 - alpha)).round().astype(np.uint8), "RGB")


def light_on_dark(grey: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> the same, inverted when its background (the median of its border) is light."""
    border = np.concatenate([grey[:2].ravel(), grey[-2:].ravel(), grey[:, :2].ravel(), grey[:, -2:].ravel()])
    return 255 - grey if np.median(border) > 127 else grey


def stroke_width(ink: np.ndarray) -> float:
    """(H, W) bools -> the strokes' mean width in pixels: a stroke of width w and length L has area
    w*L and loses about 2*L pixels to one 3x3 erosion, so w = 2 * area / pixels lost."""
    area = float(ink.sum())
    framed = np.pad(ink, 1).astype(np.uint8) * 255  # a margin of background, so that ink at the border erodes too
    eroded = float((np.asarray(Image.fromarray(framed).filter(ImageFilter.MinFilter(3))) > 0).sum())
    return 2.0 * area / max(area - eroded, 1.0)


def with_stroke(grey: np.ndarray, width: float) -> np.ndarray:
    """(H, W) uint8 light-on-dark drawing -> the same with its strokes thinned or thickened towards
    `width` pixels (by 3x3 erosions or dilations; one changes the width by 2)."""
    ink = grey > max(8, int(grey.max()) // 2)
    steps = int(round((stroke_width(ink) - width) / 2))
    margin = abs(steps) + 1  # background around the drawing, so that filters see its edges as edges
    picture = Image.fromarray(np.pad(grey, margin))
    for _ in range(abs(steps)):
        thinner = picture.filter(ImageFilter.MinFilter(3) if steps > 0 else ImageFilter.MaxFilter(3))
        if steps > 0 and not np.asarray(thinner).any():
            break  # never erode a drawing away
        picture = thinner
    return np.asarray(picture)[margin:-margin, margin:-margin]


def laid_out(grey: np.ndarray, size: int, layout: str) -> np.ndarray:
    """A light-on-dark (H, W) uint8 picture -> (size, size) uint8 laid out as the dataset's images
    were made: cropped to its content, then "mnist": the longer side scaled to 20/28 of the frame,
    strokes brought to MNIST's width, the centre of mass moved to the centre; "fill": the longer
    side scaled to the frame, centred. A blank picture comes back black."""
    ink = grey > max(8, int(grey.max()) // 10)
    out = np.zeros((size, size), dtype=np.uint8)
    if not ink.any():
        return out
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = round(size * MNIST_BOX / 28) if layout == "mnist" else size
    ratio = box / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * ratio)), max(1, round(crop.shape[1] * ratio))
    if layout == "mnist":  # strokes are set at OVERSAMPLE times the final size, then the whole is shrunk
        big = np.asarray(Image.fromarray(crop).resize((w * OVERSAMPLE, h * OVERSAMPLE), Image.LANCZOS))
        crop = with_stroke(big, STROKE * OVERSAMPLE)
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.LANCZOS))
    if layout == "mnist":
        weights = small.astype(np.float64)
        cy, cx = (np.indices(small.shape) * weights).reshape(2, -1).sum(1) / max(weights.sum(), 1e-9)
    else:
        cy, cx = (h - 1) / 2, (w - 1) / 2
    top = int(np.clip(round(size / 2 - cy - 0.5), 0, size - h))
    left = int(np.clip(round(size / 2 - cx - 0.5), 0, size - w))
    out[top : top + h, left : left + w] = small
    out[out < FLOOR] = 0  # resampling leaves faint noise; the datasets' backgrounds are exactly black
    return out


def model_input(picture: Image.Image, channels: int, size: tuple[int, int], dataset: str = "") -> np.ndarray:
    """Any picture (a drawing, an upload: grey, colour, 16-bit, with or without transparency) ->
    (C, H, W) uint8 in the form a model trained on `dataset` learnt from. Grey models get light on
    dark (a light background is inverted); MNIST and Fashion-MNIST pictures are cropped, scaled
    and centred as those datasets were made (see `laid_out`); other pictures are resized whole."""
    picture = flatten(eight_bit(picture))
    h, w = size
    if channels == 3:
        return np.asarray(picture.convert("RGB").resize((w, h), Image.LANCZOS)).transpose(2, 0, 1)
    grey = np.asarray(picture.convert("L"))
    layout = LAYOUTS.get(dataset)
    if layout is None or h != w:
        grey = np.asarray(Image.fromarray(grey).resize((w, h), Image.LANCZOS))
        return (255 - grey if grey.mean() > 127 else grey)[None]
    return laid_out(light_on_dark(grey), h, layout)[None]
