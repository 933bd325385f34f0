"""Make the non-digit set: pictures a visitor might draw on the pad that are not digits.

    .venv/bin/python tests/data/make_non_digits.py      # writes tests/data/non-digits/*.png (seeded)

60 drawings, each a few pen strokes painted the way the pad paints them (a round pen of random
width, an anti-aliased edge, a random size and an off-centre place on a 196x196 pad, on white or
on a transparent layer, as `pictures.on_pad` paints them): 20 letters (only letters no digit looks
like: no O, I, S, Z, B, G), 20 shapes (star, square, triangle, house, heart, arrow, hash, ...),
10 scribbles (random walks) and 10 faces. The file name says what it is.
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixelcnn.pictures.reading import PAD, on_pad

OUT = Path(__file__).resolve().parent / "non-digits"

# Each letter as strokes of (x, y) points on a unit square, y downwards.
LETTERS = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.55), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "R": [[(0, 1), (0, 0), (0.8, 0), (0.9, 0.25), (0.8, 0.5), (0, 0.5)], [(0.4, 0.5), (1, 1)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.4), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "U": [[(0, 0), (0, 0.8), (0.2, 1), (0.8, 1), (1, 0.8), (1, 0)]],
    "P": [[(0, 1), (0, 0), (0.8, 0), (1, 0.25), (0.8, 0.5), (0, 0.5)]],
    "C": [[(1, 0.1), (0.7, 0), (0.3, 0), (0, 0.3), (0, 0.7), (0.3, 1), (0.7, 1), (1, 0.9)]],
    "L": [[(0, 0), (0, 1), (1, 1)]],
    "D": [[(0, 0), (0, 1), (0.6, 1), (1, 0.7), (1, 0.3), (0.6, 0), (0, 0)]],
    "J": [[(0.3, 0), (1, 0)], [(0.7, 0), (0.7, 0.8), (0.5, 1), (0.2, 1), (0, 0.8)]],
    "Q": [[(0.5, 0), (0, 0.3), (0, 0.7), (0.5, 1), (1, 0.7), (1, 0.3), (0.5, 0)], [(0.6, 0.7), (1, 1.05)]],
}


def ring(cx, cy, r, points=24, start=0.0, end=2 * math.pi):
    return [(cx + r * math.cos(start + (end - start) * k / points), cy + r * math.sin(start + (end - start) * k / points))
            for k in range(points + 1)]


def star():
    return [[(0.5 + 0.5 * math.sin(k * 4 * math.pi / 5), 0.5 - 0.5 * math.cos(k * 4 * math.pi / 5)) for k in range(6)]]


SHAPES = {
    "star": star,
    "square": lambda: [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]],
    "triangle": lambda: [[(0.5, 0), (1, 1), (0, 1), (0.5, 0)]],
    "house": lambda: [[(0, 0.45), (0.5, 0), (1, 0.45), (1, 1), (0, 1), (0, 0.45), (1, 0.45)]],
    "heart": lambda: [ring(0.27, 0.3, 0.25, 12, math.pi, 2 * math.pi) + [(0.5, 0.3)] + ring(0.73, 0.3, 0.25, 12, math.pi, 2 * math.pi)
                      + [(0.5, 1), (0.02, 0.3)]],
    "arrow": lambda: [[(0, 0.5), (1, 0.5)], [(0.65, 0.15), (1, 0.5), (0.65, 0.85)]],
    "hash": lambda: [[(0.3, 0), (0.3, 1)], [(0.7, 0), (0.7, 1)], [(0, 0.3), (1, 0.3)], [(0, 0.7), (1, 0.7)]],
    "plus": lambda: [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]],
    "asterisk": lambda: [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)], [(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]],
    "zigzag": lambda: [[(k / 6, 0.2 if k % 2 else 0.8) for k in range(7)]],
    "wave": lambda: [[(k / 30, 0.5 + 0.35 * math.sin(k / 30 * 4 * math.pi)) for k in range(31)]],
    "spiral": lambda: [[(0.5 + 0.5 * k / 60 * math.cos(k / 60 * 6 * math.pi), 0.5 + 0.5 * k / 60 * math.sin(k / 60 * 6 * math.pi))
                        for k in range(61)]],
    "crossed circle": lambda: [ring(0.5, 0.5, 0.5), [(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]],
    "sun": lambda: [ring(0.5, 0.5, 0.22)] + [[(0.5 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a)),
                                              (0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a))] for a in np.arange(8) * math.pi / 4],
    "ladder": lambda: [[(0.2, 0), (0.2, 1)], [(0.8, 0), (0.8, 1)]] + [[(0.2, y), (0.8, y)] for y in (0.2, 0.4, 0.6, 0.8)],
    "envelope": lambda: [[(0, 0.2), (1, 0.2), (1, 0.8), (0, 0.8), (0, 0.2), (0.5, 0.55), (1, 0.2)]],
    "diamond": lambda: [[(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5), (0.5, 0)]],
    "tree": lambda: [[(0.5, 0), (0.9, 0.7), (0.1, 0.7), (0.5, 0)], [(0.5, 0.7), (0.5, 1)]],
    "bars": lambda: [[(x, 1), (x, 1 - h)] for x, h in ((0.1, 0.4), (0.37, 0.8), (0.63, 0.55), (0.9, 1.0))],
    "grid": lambda: [[(0, y), (1, y)] for y in (0, 0.5, 1)] + [[(x, 0), (x, 1)] for x in (0, 0.5, 1)],
}


def face(rng):
    mouth = ring(0.5, 0.45, 0.28, 12, 0.2 * math.pi, 0.8 * math.pi) if rng.random() < 0.7 else ring(0.5, 0.95, 0.28, 12, 1.2 * math.pi,
                                                                                                      1.8 * math.pi)
    eyes = [ring(0.33, 0.35, 0.04, 6), ring(0.67, 0.35, 0.04, 6)]
    outline = [ring(0.5, 0.5, 0.5)] if rng.random() < 0.7 else [ring(0.5, 0.55, 0.45), [(0.15, 0.3), (0.2, 0), (0.38, 0.12)],
                                                                  [(0.62, 0.12), (0.8, 0), (0.85, 0.3)]]  # a cat's ears
    return outline + eyes + [mouth]


def scribble(rng):
    walk = np.cumsum(rng.normal(0, 1, (int(rng.integers(15, 40)), 2)), 0)
    walk = (walk - walk.min(0)) / np.maximum(walk.max(0) - walk.min(0), 1e-9)  # filling the square, as a scribble fills the pad
    return [[tuple(p) for p in walk]]


def paint(strokes, rng) -> Image.Image:
    """Strokes on a unit square -> a 196x196 drawing: jittered, at a random size and place, a round pen."""
    side = int(rng.integers(90, 171))
    width = int(rng.integers(7, 17))
    left, top = (int(rng.integers(4, PAD - side - 3)) for _ in range(2))
    mask = Image.new("L", (PAD, PAD), 0)
    pen = ImageDraw.Draw(mask)
    for stroke in strokes:
        points = [(left + side * (x + rng.normal(0, 0.02)), top + side * (y + rng.normal(0, 0.02))) for x, y in stroke]
        pen.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round ends, as a round pen leaves them
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return on_pad(mask, rng)


def main():
    rng = np.random.default_rng(29)
    OUT.mkdir(exist_ok=True)
    drawings = [(f"letter-{name}", strokes) for name, strokes in LETTERS.items()]
    drawings += [(f"shape-{name.replace(' ', '-')}", make()) for name, make in SHAPES.items()]
    drawings += [(f"scribble-{k}", scribble(rng)) for k in range(10)]
    drawings += [(f"face-{k}", face(rng)) for k in range(10)]
    for name, strokes in drawings:
        paint(strokes, rng).save(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
