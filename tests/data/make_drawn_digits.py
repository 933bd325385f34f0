"""Make the drawn-digit set: held-out MNIST digits redrawn the way a visitor's pad makes them.

    .venv/bin/python tests/data/make_drawn_digits.py      # writes tests/data/drawn-digits/*.png (seeded)

Each of 50 held-out test digits (5 of each class, the first of the npm set's test split) is
scaled to a random size (90 to 190 pixels tall), thresholded into a solid stroke and thickened
by a round pen of random radius, then painted in black at a random, off-centre place on a
196x196 pad: on white (RGB), or, at random, on a transparent layer (RGBA, the stroke opaque). The
file name ends in the digit's label.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from pixelcnn.data import load_dataset

PAD = 196
OUT = Path(__file__).resolve().parent / "drawn-digits"


def drawn(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """(28, 28) uint8 light-on-dark digit -> a 196x196 black-on-white (or transparent) drawing."""
    side = int(rng.integers(90, 191))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BILINEAR))
    stroke = Image.fromarray(((big > 100) * 255).astype(np.uint8))
    radius = int(rng.integers(0, 4))
    if radius:
        stroke = stroke.filter(ImageFilter.MaxFilter(2 * radius + 1))  # a thicker round-ish pen
    mask = Image.new("L", (PAD, PAD), 0)
    left, top = (int(rng.integers(0, PAD - side + 1)) for _ in range(2))
    mask.paste(stroke, (left, top))
    mask = mask.filter(ImageFilter.GaussianBlur(0.6))  # the pen's anti-aliased edge
    if rng.random() < 0.5:
        picture = Image.new("RGB", (PAD, PAD), (255, 255, 255))
        picture.paste((0, 0, 0), (0, 0), mask)
        return picture
    picture = Image.new("RGBA", (PAD, PAD), (0, 0, 0, 0))
    picture.putalpha(mask)
    return picture


def main():
    d = load_dataset("mnist")
    rng = np.random.default_rng(20)
    OUT.mkdir(exist_ok=True)
    for label in range(10):
        for k, index in enumerate(np.flatnonzero(d.test_y == label)[:5]):
            drawn(d.test_x[index, 0], rng).save(OUT / f"drawn-{label}{k}-{label}.png")


if __name__ == "__main__":
    main()
