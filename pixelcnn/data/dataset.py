"""The dataset type every loader returns, intensity quantisation, the cache folder and its .npz
files, and resizing."""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MNIST_CLASSES = [str(k) for k in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def cache_dir() -> Path:
    """The one folder every download and conversion lives in."""
    return Path(os.environ.get("PIXELCNN_CACHE", Path.home() / ".cache" / "pixelcnn"))


@dataclass
class ImageDataset:
    """uint8 images (N, C, H, W) in [0, 255] with int64 labels (N,), split into train and test."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: list
    source: str
    train_cond: np.ndarray | None = None  # (N, D) float32 conditioning vectors, e.g. face embeddings
    test_cond: np.ndarray | None = None

    @property
    def image_shape(self) -> tuple:
        return tuple(self.train_x.shape[1:])


class DataUnavailable(RuntimeError):
    """No way to obtain a dataset worked; the message lists each way and the manual fix."""


def quantize(images: np.ndarray, levels: int) -> np.ndarray:
    """uint8 intensities in [0, 255] -> ints in [0, levels), equal-width bins."""
    return (images.astype(np.int64) * levels) // 256


def dequantize(values: np.ndarray, levels: int) -> np.ndarray:
    """ints in [0, levels) -> uint8 in [0, 255], the centre of each bin mapped to full range."""
    return np.round(np.asarray(values, dtype=np.float64) * 255.0 / (levels - 1)).astype(np.uint8)


def first_that_works(ways, what: str):
    """Call each (name, get) of `ways` in order -> the first result; if none works, a
    DataUnavailable that lists each way and how it failed (each fails in its own manner)."""
    tried = []
    for way, get in ways:
        try:
            return get()
        except Exception as err:  # noqa: BLE001 - every failure is reported below, with its way's name
            last = str(err).strip().splitlines()[-1] if str(err).strip() else ""
            tried.append(f"{way}: {type(err).__name__}" + (f": {last}" if last else ""))
    raise DataUnavailable(f"could not get {what}. Tried: " + "; ".join(tried or ["nothing (every way was filtered out)"]))


def save_npz(dataset: ImageDataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        train_x=dataset.train_x,
        train_y=dataset.train_y,
        test_x=dataset.test_x,
        test_y=dataset.test_y,
        class_names=np.asarray(dataset.class_names),
        source=np.asarray(dataset.source),
    )
    os.replace(tmp, path)


def load_npz(name: str, path: Path) -> ImageDataset:
    with np.load(path, allow_pickle=False) as z:
        return ImageDataset(
            name, z["train_x"], z["train_y"], z["test_x"], z["test_y"], [str(c) for c in z["class_names"]], str(z["source"])
        )


def square_resize(picture: Image.Image, size: int) -> Image.Image:
    """A picture cut to its centred square and resized to size x size (bicubic), so that faces
    keep their proportions: how training images of another size were made."""
    w, h = picture.size
    side = min(h, w)
    box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    return picture.resize((size, size), Image.BICUBIC, box=box)


def resize_dataset(d: ImageDataset, size: int) -> ImageDataset:
    """The same dataset with every image cut to a centred square and resized to size x size."""

    def resize(x):
        mode = "L" if x.shape[1] == 1 else "RGB"
        out = []
        for img in x:
            arr = np.asarray(square_resize(Image.fromarray(img[0] if mode == "L" else img.transpose(1, 2, 0), mode), size))
            out.append(arr[None] if mode == "L" else arr.transpose(2, 0, 1))
        return np.stack(out)

    return ImageDataset(
        d.name, resize(d.train_x), d.train_y, resize(d.test_x), d.test_y, d.class_names, d.source, d.train_cond, d.test_cond
    )
