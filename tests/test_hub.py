"""Publishing and fetching through huggingface_hub's real HTTP code, against a Hub stand-in."""

import json
import subprocess
import sys

import pytest

from pixelcnn.hub import split_location

from .helpers import ROOT, TINY
from .hub_stub import HubStub



def test_locations():
    assert split_location("org/repo") == ("org/repo", "")
    assert split_location("org/repo/mnist/") == ("org/repo", "mnist")
    with pytest.raises(ValueError, match="org/repo or org/repo/subfolder"):
        split_location("just-a-name")


def test_train_pushes_and_the_model_comes_back(stripes, tmp_path):
    with HubStub(tmp_path / "hub") as hub:
        env = {"PATH": "/usr/bin:/bin", "HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_stand_in", "HF_HUB_CACHE": str(tmp_path / "cache")}
        train = [sys.executable, "-m", "pixelcnn", "train", "--dataset", "folder", "--folder", str(stripes), *TINY, "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--push-to-hub", "someone/pixelcnn/stripes"]
        result = subprocess.run(train, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        pushed = tmp_path / "hub" / "someone" / "pixelcnn" / "stripes"
        assert {p.name for p in pushed.iterdir()} >= {"config.json", "model.safetensors", "README.md", "samples.png"}
        assert ("POST", "api/models/someone/pixelcnn/commit/main") in hub.requests

        fetch = (
            "import json, torch; from pixelcnn.hub import fetch; from pixelcnn import GatedPixelCNN;"
            "m = GatedPixelCNN.from_pretrained(fetch('someone/pixelcnn/stripes')).eval();"
            f"local = GatedPixelCNN.from_pretrained('{tmp_path / 'run' / 'model'}').eval();"
            "x = torch.randint(0, 16, (2, 1, 8, 8)); y = torch.tensor([0, 1]);"
            "print(json.dumps([m.class_names, bool(torch.equal(m(x, y), local(x, y)))]))"
        )
        result = subprocess.run([sys.executable, "-c", fetch], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout.strip().splitlines()[-1]) == [["horizontal", "vertical"], True]
