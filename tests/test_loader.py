"""One loader for every kind (`pixelcnn.load`, the class named in config.json) and the
`pixelcnn sample` command on a fresh checkout's bundled weights."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import pixelcnn
from pixelcnn.explain import class_probabilities
from pixelcnn.models import KINDS

from .helpers import ROOT

SAVED = sorted(path.parent for path in (ROOT / "assets").rglob("config.json"))


@pytest.mark.parametrize("folder", SAVED, ids=[str(p.relative_to(ROOT / "assets")) for p in SAVED])
def test_every_bundled_folder_loads_as_the_class_its_config_names(folder):
    model = pixelcnn.load(folder)
    assert type(model) is KINDS[json.loads((folder / "config.json").read_text())["_class_name"]]
    assert not model.training


def test_save_pretrained_names_the_class_and_the_loader_reads_it(tmp_path):
    for kind in (pixelcnn.GatedPixelCNN, pixelcnn.PixelCNN):
        model = kind(image_size=[6, 6], levels=4, hidden_channels=4, num_layers=1, kernel_size=3)
        model.save_pretrained(tmp_path / kind.__name__)
        assert json.loads((tmp_path / kind.__name__ / "config.json").read_text())["_class_name"] == kind.__name__
        loaded = pixelcnn.load(tmp_path / kind.__name__)
        assert type(loaded) is kind and all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_an_unknown_or_missing_kind_gets_one_sentence(tmp_path):
    shutil.copytree(ROOT / "assets" / "mnist", tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    (tmp_path / "m" / "config.json").write_text(json.dumps({**config, "_class_name": "DiffusionModel"}))
    with pytest.raises(ValueError, match="names the kind 'DiffusionModel'; this pixelcnn loads GatedPixelCNN"):
        pixelcnn.load(tmp_path / "m")
    del config["_class_name"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="names no kind"):
        pixelcnn.load(tmp_path / "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no config.json"):
        pixelcnn.load(tmp_path / "empty")


def test_pixelcnn_sample_draws_the_class_asked_for(tmp_path):
    out = tmp_path / "sevens.png"
    cmd = [sys.executable, "-m", "pixelcnn", "sample", str(ROOT / "assets" / "mnist"), "--class", "7", "-n", "16", "--guidance", "2",
           "--seed", "0", "--scale", "1", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 29 + 1, 8 * 29 + 1)  # 16 images, 8 a row, a 1-pixel gap
    model = pixelcnn.load(ROOT / "assets" / "mnist")
    images = [grid[1 + 29 * r : 29 * (r + 1), 1 + 29 * c : 29 * (c + 1)] for r in range(2) for c in range(8)]
    read = [int(class_probabilities(model, torch.from_numpy(img.astype(np.int64))[None, None]).argmax()) for img in images]
    assert sum(label == 7 for label in read) >= 12  # the model reads its own guided sevens as sevens
    refused = subprocess.run(cmd[:5] + ["--class", "eleven", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "is not one of this model's classes" in refused.stderr and "Traceback" not in refused.stderr
