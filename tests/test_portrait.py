"""Interpolation between identities, the embedding check, and the portrait CLI end to end."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from pixelcnn import data, faces
from pixelcnn.models import GatedPixelCNN
from pixelcnn.faces import check_embedding, interpolate


def test_interpolation_stays_on_the_sphere_and_ends_at_both():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, generator=gen), torch.randn(512, generator=gen)
    path = interpolate(a, b, 7)
    assert path.shape == (7, 512)
    assert torch.allclose(path.norm(dim=1), torch.ones(7), atol=1e-6)
    assert torch.allclose(path[0], a / a.norm(), atol=1e-6) and torch.allclose(path[-1], b / b.norm(), atol=1e-6)
    # Even steps along the arc: equal angles between neighbours.
    angles = torch.arccos((path[:-1] * path[1:]).sum(1).clamp(-1, 1))
    assert torch.allclose(angles, angles.mean().expand(6), atol=1e-5)
    with pytest.raises(ValueError, match="at least 2"):
        interpolate(a, b, 1)


def test_a_model_refuses_another_encoders_embeddings():
    model = GatedPixelCNN(hidden_channels=4, num_layers=1, kernel_size=3, cond_dim=512, cond_name="some-other-encoder")
    with pytest.raises(ValueError, match="trained on 'some-other-encoder' embeddings"):
        check_embedding(model, faces.EMBEDDING)
    with pytest.raises(ValueError, match="not conditioned on a face"):
        check_embedding(GatedPixelCNN(hidden_channels=4, num_layers=1, kernel_size=3), faces.EMBEDDING)


def test_cli_from_a_photo_to_a_grid(tmp_path):
    torch.manual_seed(0)
    model = GatedPixelCNN(image_size=[12, 10], hidden_channels=8, num_layers=2, kernel_size=3, cond_dim=512, cond_name=faces.EMBEDDING)
    model.save_pretrained(tmp_path / "model")
    photo = tmp_path / "person.png"
    Image.fromarray(data.load_dataset("orl-faces").test_x[0, 0]).save(photo)
    out = tmp_path / "grid.png"
    cmd = [sys.executable, "-m", "pixelcnn", "sample", str(tmp_path / "model"), "--photo", str(photo), "-n", "3", "--out", str(out), "--seed", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    grid = np.asarray(Image.open(out))
    assert grid.shape == ((12 + 2) * 3, (3 * 11 + 1) * 3)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (120, 120), (200, 200, 200)).save(blank)
    cmd[6] = str(blank)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "No face was found" in result.stderr


def test_training_on_a_folder_of_portraits_conditions_on_each_photos_embedding(tmp_path):
    """`--dataset folder --conditioning face`: one subfolder per person, embedded from the photos."""
    d = data.load_dataset("orl-faces")
    for person in range(2):
        folder = tmp_path / "people" / f"person{person}"
        folder.mkdir(parents=True)
        photos = np.concatenate([d.train_x[d.train_y == person], d.test_x[d.test_y == person]])  # 10: one is held out
        for k, photo in enumerate(photos):
            Image.fromarray(photo[0]).save(folder / f"{k}.png")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pixelcnn", "train", "--dataset", "folder", "--folder", str(tmp_path / "people"), "--conditioning", "face",
           "--image-size", "8", "--levels", "16", "--hidden-channels", "8", "--num-layers", "2", "--kernel-size", "3", "--batch-size", "4",
           "--epochs", "1", "--test-limit", "0", "--samples-per-class", "1", "--out", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PIXELCNN_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-2000:]
    model = GatedPixelCNN.from_pretrained(out / "model")
    assert (model.cond_dim, model.cond_name, model.image_size) == (512, faces.EMBEDDING, [8, 8])
    (cached,) = (tmp_path / "cache" / "faces").glob("people-*.npz")
    with np.load(cached) as z:
        assert z["train"].shape == (18, 512) and z["test"].shape == (2, 512)
        assert np.allclose(np.linalg.norm(z["train"], axis=1), 1, atol=1e-5)


def test_identity_rates_measure_the_real_photos_and_the_samples():
    from pixelcnn.evaluation.portraits import identity_rates, portrait_data

    torch.manual_seed(0)
    model = GatedPixelCNN(image_size=[32, 32], levels=16, hidden_channels=8, num_layers=2, kernel_size=3, cond_dim=512, cond_name=faces.EMBEDDING)
    d = portrait_data("orl-faces", 32)
    rates = identity_rates(model.eval(), faces.FaceEncoder(), d, per_person=1, seed=0)
    assert rates["chance"] == pytest.approx(1 / 40)
    assert rates["samples"].shape == (40, 1, 32, 32) and rates["samples"].dtype == np.uint8
    # Real held-out photos at 32x32 are recognised far above chance; noise from an untrained model is not.
    assert rates["real_rate"] >= 0.5
    assert rates["sample_rate"] <= 0.2
    # An untrained model is near uniform over its 16 levels: its own drawings cost it about log2(16) = 4 bits a sub-pixel.
    assert 3.5 < rates["drawn_bpd"] < 4.2
