"""Make the drawn-digit set: held-out MNIST digits redrawn the way a visitor's pad makes them.

    .venv/bin/python tests/data/make_drawn_digits.py      # writes tests/data/drawn-digits/*.png (seeded)

Each of 50 held-out test digits (5 of each class, the first of the npm set's test split) goes
through `pictures.reading.pad_drawing` (a random size, a round pen of random width, an off-centre place on
a 196x196 pad, on white or transparent). The file name ends in the digit's label.
"""

from pathlib import Path

import numpy as np

from pixelcnn.data import load_dataset
from pixelcnn.pictures.reading import pad_drawing

OUT = Path(__file__).resolve().parent / "drawn-digits"
PER_CLASS = 5  # the first of each class in the test split: `pixelcnn evaluate --surprise` leaves these out


def main():
    d = load_dataset("mnist")
    rng = np.random.default_rng(20)
    OUT.mkdir(exist_ok=True)
    for label in range(10):
        for k, index in enumerate(np.flatnonzero(d.test_y == label)[:PER_CLASS]):
            pad_drawing(d.test_x[index, 0], rng).save(OUT / f"drawn-{label}{k}-{label}.png")


if __name__ == "__main__":
    main()
