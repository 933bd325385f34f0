"""Read Fashion-MNIST-like uploads through the page's upload path: the first held-out test image
of each class, made into a product photo (a dark garment on white, 120-200 pixels, at a random
place on a 260x260 picture), read by the page's reader (the two-stage model's sketch stage).

    .venv/bin/python tests/data/garments_on_white.py
"""

import numpy as np
from PIL import Image

import pixelcnn
from pixelcnn.data import load_dataset
from pixelcnn.explain import class_probabilities
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio import shelf


def main():
    d = load_dataset("fashion-mnist")
    model, reader = shelf.bundled("fashion-mnist"), pixelcnn.load(shelf.ASSETS / "fashion-mnist-sketch")
    rng = np.random.default_rng(3)
    right, rows = 0, []
    for label in range(10):
        garment = 255 - d.test_x[np.flatnonzero(d.test_y == label)[0], 0]  # dark on white, as a product photo
        side = int(rng.integers(120, 200))
        photo = Image.new("RGB", (260, 260), (255, 255, 255))
        photo.paste(Image.fromarray(garment).resize((side, side), Image.BICUBIC).convert("RGB"), tuple(int(v) for v in rng.integers(0, 260 - side, 2)))
        probs = class_probabilities(reader, model_pixels(model, photo))
        right += int(probs.argmax()) == label
        rows.append(f"{d.class_names[label]}: read {d.class_names[int(probs.argmax())]} (p = {probs.max():.2f})")
    print(f"{right} of 10 read right; " + "; ".join(rows))


if __name__ == "__main__":
    main()
