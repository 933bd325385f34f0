"""Helpers the tests share that are not fixtures: the repository's paths, a free port, the tiny
training options and a `pixelcnn train` process."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
EXAMPLES = ASSETS / "examples"

TINY = ["--image-size", "8", "--levels", "16", "--hidden-channels", "8", "--num-layers", "2", "--kernel-size", "3",
        "--batch-size", "8", "--warmup-steps", "2", "--ema", "0.9", "--samples-per-class", "2", "--test-limit", "0", "--lr", "0.01"]


def run_train(args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixelcnn", "train", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_stripes(root: Path) -> Path:
    """Two classes of 8x8 images in class folders: horizontal and vertical stripes with a little noise."""
    rng = np.random.default_rng(0)
    for name, axis in (("horizontal", 0), ("vertical", 1)):
        (root / name).mkdir(parents=True)
        for k in range(20):
            stripes = (np.indices((8, 8))[axis] % 2) * 200 + rng.integers(0, 40, (8, 8))
            Image.fromarray(stripes.astype(np.uint8)).save(root / name / f"{k}.png")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
