"""A picture from outside (an upload, a drawing, a photo) -> what a model reads: opened safely,
one form for every mode (EXIF turned, 16-bit grey scaled to 8 bits, transparency flattened), and
laid out as the model's dataset was made."""

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from pixelcnn.data import quantize

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MNIST_BOX = 20  # MNIST digits were scaled into a 20x20 box and centred by their centre of mass in 28x28
STROKE = 2.0  # MNIST's mean stroke width in pixels at 28x28, counted where the intensity is above half
FLOOR = 16  # intensities below this become 0 after resampling
OVERSAMPLE = 4  # strokes are measured and thinned or thickened at this many times the model's size
# How each dataset's pictures were laid out: "mnist" (a 20x20 box, centred by centre of mass),
# "fill" (Fashion-MNIST: trimmed, the longer side scaled to the frame, centred), or none (resized whole).
LAYOUTS = {"mnist": "mnist", "fashion-mnist": "fill"}


def open_picture(source, kind: str = "image", min_side: int = 1) -> Image.Image:
    """A path or a PIL image -> a still picture in one form (EXIF-turned, 8-bit, transparency
    flattened; grey, RGB or palette as it came), or a ValueError with one sentence that says what
    to do. kind names it in those sentences ("image", "photo")."""
    if source is None:
        raise ValueError(f"Upload {with_article(kind)} first.")
    picture = source if isinstance(source, Image.Image) else read_file(Path(source), kind, min_side)
    return flatten(eight_bit(ImageOps.exif_transpose(picture)))


def with_article(kind: str) -> str:
    """"an image", "a photo"."""
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def read_file(path: Path, kind: str, min_side: int) -> Image.Image:
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise ValueError(f"The uploaded file is empty; upload a PNG or JPEG {kind}.")
    if size > MAX_BYTES:
        raise ValueError(f"The upload is larger than {MAX_BYTES // 2**20} MB; upload a smaller {kind}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(path)
            if picture.width * picture.height > MAX_PIXELS:
                raise ValueError(f"The {kind} is {picture.width}x{picture.height} pixels; upload one under {MAX_PIXELS // 10**6} megapixels.")
            if getattr(picture, "n_frames", 1) > 1:
                raise ValueError(f"Animated images are not supported; upload a still PNG or JPEG {kind}.")
            if min(picture.size) < min_side:
                raise ValueError(f"The {kind} is only {picture.width}x{picture.height} pixels, too small to mean anything; "
                                 f"upload one at least {min_side} pixels a side.")
            picture.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"The {kind} is too large to open safely; upload one under {MAX_PIXELS // 10**6} megapixels.") from None
    except UnidentifiedImageError:
        raise ValueError(f"The file is not {with_article(kind)} we can read; upload a PNG or JPEG.") from None
    except OSError:
        raise ValueError(f"The {kind} file is damaged or cut short; upload it again or try another file.") from None
    return picture


def eight_bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grey pictures -> 8-bit grey with their tones kept (PIL's own
    conversion clips them instead of scaling); any other mode as it is."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return image
    array = np.asarray(image, dtype=np.float64)
    # One rule for every deep mode: values up to 1 (floats) are a unit scale, up to 255 an 8-bit one
    # kept in a deep container (PIL's convert("I;16") of a grey picture), anything above 16-bit.
    top = 1.0 if image.mode == "F" and array.max() <= 1.0 else 255.0 if array.max() <= 255 else 65535.0
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


def model_pixels(model, picture: Image.Image, layout: bool = True) -> torch.Tensor:
    """Any picture -> (1, C, H, W) intensities in [0, levels) at the model's size, in the form the
    model learnt from (`model_input`; with layout=False, resized whole)."""
    array = model_input(picture, model.image_channels, tuple(model.image_size), model.dataset if layout else "")
    return torch.from_numpy(quantize(array[None], model.levels))


PAD = 196  # the page's drawing pad, in pixels


def pad_drawing(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """(28, 28) uint8 light-on-dark digit -> the same digit as a visitor's pad makes it: scaled to a
    random height (90 to 190 pixels), a solid stroke thickened by a round pen of random radius, an
    anti-aliased edge, painted black at a random, off-centre place on a 196x196 pad, on white (RGB)
    or, at random, on a transparent layer (RGBA, the stroke opaque)."""
    side = int(rng.integers(90, 191))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BILINEAR))
    stroke = Image.fromarray(((big > 100) * 255).astype(np.uint8))
    radius = int(rng.integers(0, 4))
    if radius:
        stroke = stroke.filter(ImageFilter.MaxFilter(2 * radius + 1))  # a thicker round-ish pen
    mask = Image.new("L", (PAD, PAD), 0)
    left, top = (int(rng.integers(0, PAD - side + 1)) for _ in range(2))
    mask.paste(stroke, (left, top))
    return on_pad(mask, rng)


def on_pad(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A 196x196 "L" mask of pen strokes -> the pad's picture: the pen's anti-aliased edge, black on white
    (RGB) or, at random, on a transparent layer (RGBA)."""
    mask = mask.filter(ImageFilter.GaussianBlur(0.6))
    if rng.random() < 0.5:
        picture = Image.new("RGB", (PAD, PAD), (255, 255, 255))
        picture.paste((0, 0, 0), (0, 0), mask)
        return picture
    picture = Image.new("RGBA", (PAD, PAD), (0, 0, 0, 0))
    picture.putalpha(mask)
    return picture
