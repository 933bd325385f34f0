"""The auto-encoders: shapes, seeded decoding, a decoder that uses every code dimension, the
training option end to end, save/load, and the comparison CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from pixelcnn import load
from pixelcnn.models import MSEAutoEncoder, PixelCNNAutoEncoder
from pixelcnn.evaluation.cards import figure_rows
from pixelcnn.data.formats import cut_patches
from pixelcnn.models import GatedPixelCNN
from pixelcnn.sampling import sample

SMALL = dict(image_size=[12, 8], levels=16, code_dim=5, encoder_channels=4)


@pytest.fixture
def pixelcnn_ae():
    torch.manual_seed(0)
    return PixelCNNAutoEncoder(**SMALL, hidden_channels=8, num_layers=2, kernel_size=3).eval()


@pytest.fixture
def images():
    return torch.randint(0, 16, (3, 1, 12, 8), generator=torch.Generator().manual_seed(1))


def test_shapes(pixelcnn_ae, images):
    codes = pixelcnn_ae.encode(images)
    assert codes.shape == (3, 5)
    assert pixelcnn_ae(images).shape == (3, 16, 1, 12, 8)
    assert pixelcnn_ae.bits_per_dim(images).shape == (3,)
    decoded = pixelcnn_ae.decode(codes, decodings=4, seed=7)
    assert decoded.shape == (3, 4, 1, 12, 8) and decoded.dtype == torch.long
    assert 0 <= decoded.min() and decoded.max() < 16
    mse = MSEAutoEncoder(**SMALL).eval()
    assert mse.encode(images).shape == (3, 5)
    assert mse(images).shape == (3, 1, 12, 8) and 0 <= mse(images).min() and mse(images).max() <= 1
    assert mse.mse(images).shape == (3,)
    assert mse.reconstruct(images).shape == (3, 1, 12, 8)


def test_decoding_is_fixed_by_the_seed_and_varies_without_it(pixelcnn_ae, images):
    codes = pixelcnn_ae.encode(images)
    first, again = pixelcnn_ae.decode(codes, 2, seed=3), pixelcnn_ae.decode(codes, 2, seed=3)
    assert torch.equal(first, again)
    assert not torch.equal(first, pixelcnn_ae.decode(codes, 2, seed=4))
    # Several decodings of one code differ from each other.
    assert not torch.equal(first[:, 0], first[:, 1])


def test_the_decoder_uses_every_code_dimension(pixelcnn_ae, images):
    codes = pixelcnn_ae.encode(images)
    base = pixelcnn_ae.decoder(images, cond=codes)
    for k in range(codes.shape[1]):
        moved = codes.clone()
        moved[:, k] += 1.0
        assert (pixelcnn_ae.decoder(images, cond=moved) - base).abs().max() > 1e-4, f"code dimension {k} is ignored"
    # And the encoder feeds it: a different image gives a different code.
    assert not torch.allclose(codes[0], codes[1])


def test_a_code_map_tells_every_position_what_the_code_says(images):
    """With code_map_channels the code also reaches every layer as a spatial map m(code): each position's
    logits move with the code, the cached sampler draws exactly what the naive one does from it, and a
    decoding is still causal in the image."""
    torch.manual_seed(0)
    ae = PixelCNNAutoEncoder(**SMALL, hidden_channels=8, num_layers=2, kernel_size=3, code_map_channels=3).eval()
    codes = ae.encode(images)
    condition = ae.conditioning(codes)
    assert condition["cond_map"].shape == (3, 3, 12, 8)
    with torch.no_grad():
        base = ae.decoder(images, **condition)
        moved = ae.decoder(images, cond=codes, cond_map=condition["cond_map"] + 1.0)
        assert ((moved - base).abs().amax(dim=(1, 2)) > 1e-4).all(), "some position's logits ignore the map"
        assert not torch.allclose(ae.conditioning(codes + 1.0)["cond_map"], condition["cond_map"])
        assert torch.equal(base, ae(images))
        decoded = ae.decode(codes[:1], 2, seed=5)[0]
        naive = sample(ae.decoder, 2, cond=codes[:1].expand(2, -1), cond_map=condition["cond_map"][:1].expand(2, -1, -1, -1), seed=5,
                       method="naive")
    assert torch.equal(decoded, naive)
    # Pixel (5, 4) onwards changed: the logits before it stay as they were.
    later = images.clone()
    later[:, :, 5, 4:] = (later[:, :, 5, 4:] + 3) % 16
    later[:, :, 6:] = (later[:, :, 6:] + 5) % 16
    with torch.no_grad():
        again = ae.decoder(later, **condition)
    assert torch.equal(again[..., :5, :], base[..., :5, :]) and torch.equal(again[..., 5, :5], base[..., 5, :5])
    with pytest.raises(ValueError, match="code_map_channels"):
        PixelCNNAutoEncoder(code_map_channels=-1)


def test_bad_input_is_refused(pixelcnn_ae):
    with pytest.raises(ValueError, match="integer images of shape"):
        pixelcnn_ae.encode(torch.zeros(1, 1, 12, 8))
    with pytest.raises(ValueError, match="integer images of shape"):
        pixelcnn_ae.encode(torch.zeros(1, 1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="multiples of 4"):
        PixelCNNAutoEncoder(image_size=[10, 10])
    with pytest.raises(ValueError, match="code_dim"):
        MSEAutoEncoder(code_dim=0)


def test_save_and_load_round_trip(pixelcnn_ae, images, tmp_path):
    mse = MSEAutoEncoder(**SMALL).eval()
    pixelcnn_ae.save_pretrained(tmp_path / "pixelcnn")
    mse.save_pretrained(tmp_path / "mse")
    again, mse_again = load(str(tmp_path / "pixelcnn")), load(str(tmp_path / "mse"))
    assert type(again) is PixelCNNAutoEncoder and type(mse_again) is MSEAutoEncoder
    with torch.no_grad():
        assert torch.equal(again(images), pixelcnn_ae(images))
        assert torch.equal(mse_again(images), mse(images))
    assert json.loads((tmp_path / "pixelcnn" / "config.json").read_text())["code_dim"] == 5


def test_figure_rows_put_each_original_first(pixelcnn_ae, images):
    mse = MSEAutoEncoder(**SMALL).eval()
    rows = figure_rows(images, pixelcnn_ae, mse, decodings=3, seed=0)
    assert rows.shape == (3 * 5, 1, 12, 8)
    assert torch.equal(rows[::5], images)
    assert torch.equal(rows[1::5], mse.reconstruct(images))


def test_patches_keep_test_columns_apart():
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 150, 3), dtype=np.uint8))
    train, test = cut_patches([photo], size=16, scales=(100,), test_share=0.2)
    assert train.shape[1:] == (3, 16, 16) and test.shape[1:] == (3, 16, 16)
    # 150 wide: columns 0..119 train (half-overlapping), 120..149 test (one patch wide).
    assert len(train) == 11 * 14  # tops 0, 8, ..., 80; lefts 0, 8, ..., 104
    assert len(test) == 6  # tops 0, 16, ..., 80; left 120
    array = np.asarray(photo).transpose(2, 0, 1)
    assert np.array_equal(test[0], array[:, 0:16, 120:136])
    assert np.array_equal(train[1], array[:, 0:16, 8:24])


TINY = ["--image-size", "8", "--levels", "16", "--hidden-channels", "8", "--num-layers", "2", "--kernel-size", "3", "--code-dim", "3",
        "--batch-size", "8", "--warmup-steps", "2", "--ema", "0", "--samples-per-class", "2", "--test-limit", "0", "--lr", "0.01"]


def test_training_both_auto_encoders_and_comparing_them(tmp_path):
    """Train tiny models with --model, then run the comparison CLI on them."""
    root = tmp_path / "blocks"
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for k in range(24):
            image = np.zeros((8, 8), np.uint8)
            image[: rng.integers(1, 8)] = 220  # a bright band of random height: one number to encode
            Image.fromarray(image).save(root / name / f"{k}.png")
    outs = {}
    for kind in ("autoencoder", "mse-autoencoder"):
        outs[kind] = tmp_path / kind
        cmd = [sys.executable, "-m", "pixelcnn", "train", "--model", kind, "--dataset", "folder", "--folder", str(root), *TINY,
               "--epochs", "4", "--out", str(outs[kind]), *(["--code-map", "4"] if kind == "autoencoder" else [])]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        key = "bpd" if kind == "autoencoder" else "mse"
        metrics = [json.loads(line) for line in (outs[kind] / "metrics.jsonl").read_text().splitlines()]
        assert len(metrics) == 4 and metrics[-1][f"test_{key}"] < metrics[0][f"test_{key}"]
        card = (outs[kind] / "model" / "README.md").read_text()
        summary = json.loads((outs[kind] / "model" / "training.json").read_text())
        assert f"{summary[f'test_{key}']:.4f}" in card and "--model " + kind in card
    assert type(load(str(outs["autoencoder"] / "model"))) is PixelCNNAutoEncoder
    assert type(load(str(outs["mse-autoencoder"] / "model"))) is MSEAutoEncoder
    # A run continues from an auto-encoder's weights, as from any model's.
    again = tmp_path / "again"
    cmd = [sys.executable, "-m", "pixelcnn", "train", "--model", "autoencoder", "--dataset", "folder", "--folder", str(root), *TINY,
           "--epochs", "1", "--code-map", "4", "--init", str(outs["autoencoder"] / "model"), "--out", str(again)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "started from the weights in" in (again / "model" / "README.md").read_text()
    # An unconditional twin of the decoder's size, so the comparison runs in full.
    twin = tmp_path / "twin"
    GatedPixelCNN(image_size=[8, 8], levels=16, hidden_channels=8, num_layers=2, kernel_size=3).save_pretrained(twin)
    cmd = [sys.executable, "-m", "pixelcnn", "evaluate", str(outs["autoencoder"] / "model"), "--mse", str(outs["mse-autoencoder"] / "model"),
           "--twin", str(twin), "--dataset", "mnist", "--rows", "3", "--decodings", "2", "--per-class", "2", "--write-card"]
    # The models are 8x8: the comparison resizes the dataset's test images to the model's size.
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(numbers) == {"test_bpd", "mse_test_mse", "twin_test_bpd", "kept"}
    (kept,) = numbers["kept"]  # one temperature: 2 held-out images of each of 10 classes, 2 decodings each
    assert kept["temperature"] == 1.0 and len(kept["kept_by_class"]) == 10
    assert kept["kept"] == pytest.approx(np.mean(kept["kept_by_class"])) and 0 <= kept["mse_kept"] <= 1
    assert kept["pixel_difference"] > 0 and kept["variety"] > 0
    figure = Image.open(outs["autoencoder"] / "model" / "figure.png")
    assert figure.size == ((4 * 9 + 1) * 3, (3 * 9 + 1) * 3)  # 4 columns (original, MSE, 2 decodings) x 3 rows
    card = (outs["mse-autoencoder"] / "model" / "README.md").read_text()
    assert "## Evaluation" in card and f"{numbers['mse_test_mse']:.5f}" in card and f"{numbers['twin_test_bpd']:.4f}" in card
    assert f"PixelCNN **{100 * kept['kept']:.1f}%**" in card and f"MSE reconstruction **{100 * kept['mse_kept']:.1f}%**" in card
    assert "spatial map" in (outs["autoencoder"] / "model" / "README.md").read_text()
