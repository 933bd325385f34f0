"""The face encoder with the real converted weights, on the real ORL photos."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixelcnn import data, faces


@pytest.fixture(scope="module")
def encoder():
    return faces.FaceEncoder()


@pytest.fixture(scope="module")
def orl():
    d = data.load_dataset("orl-faces")
    return np.concatenate([d.train_x, d.test_x])[:, 0], np.concatenate([d.train_y, d.test_y])


@pytest.fixture(scope="module")
def embedded(encoder):
    return faces.embed_orl(encoder)


@pytest.fixture(scope="module")
def embeddings(embedded):
    return embedded[0]


def test_embeddings_are_unit_vectors(embeddings):
    assert embeddings.shape == (400, 512)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(400), atol=1e-5)


def test_same_person_is_nearer_than_anyone_else(embedded):
    embeddings, labels = embedded
    distances = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(400, dtype=torch.bool)
    assert distances[same & off_diagonal].mean() < 0.6 * distances[~same].mean()
    # Leave-one-out nearest neighbour over all 400 photos of 40 people.
    assert faces.leave_one_out_accuracy(embeddings, labels) >= 0.98


def test_leave_one_out_by_hand():
    points = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [0.2, 0.0]])
    assert faces.leave_one_out_accuracy(points, torch.tensor([0, 0, 1, 1, 1])) == pytest.approx(0.8)


def test_any_image_mode_gives_the_same_person(encoder, orl):
    images, _ = orl
    grey = Image.fromarray(images[0])
    reference, crop = encoder(grey)
    assert crop.shape == (1, 3, 160, 160)
    variants = [grey.convert("RGBA"), grey.convert("P"), grey.convert("CMYK"), grey.convert("I;16"), grey.convert("RGB")]
    embedded, _ = encoder(variants)
    assert embedded.shape == (5, 512)
    assert (embedded @ reference[0]).min() > 0.9


def test_exif_orientation_is_applied(encoder, orl, tmp_path):
    images, _ = orl
    upright = Image.fromarray(images[3]).convert("RGB")
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    upright.rotate(90, expand=True).save(path, exif=exif, quality=95)
    a, _ = encoder(upright)
    b, _ = encoder(str(path))
    assert (a @ b.T).item() > 0.8


@pytest.mark.parametrize(
    "photo, message",
    [
        (Image.new("RGB", (200, 200), (120, 160, 200)), "No face was found"),
        (Image.new("RGB", (20, 30)), "at least 40 pixels"),
    ],
)
def test_bad_photos_raise_one_sentence(encoder, photo, message):
    with pytest.raises(ValueError, match=message):
        encoder(photo)


def test_unreadable_file(encoder, tmp_path):
    path = tmp_path / "portrait.jpg"
    path.write_text("not a photo")
    with pytest.raises(ValueError, match="not a photo we can read"):
        encoder(str(path))


def test_weights_are_cached_with_their_checksum():
    path = faces.fetch_weights()
    digest = path.with_suffix(".sha256").read_text().split()[0]
    assert len(digest) == 64 and path.stat().st_size > 90_000_000


def test_one_detection_gives_the_crop_the_embedding_and_the_count(encoder):
    photo = str(Path(__file__).resolve().parent.parent / "assets" / "examples" / "obama.jpg")
    embeddings, crops = encoder(photo)  # MTCNN's own call: detect, pick the largest, extract
    embedding, crop, faces = encoder.embed_one(photo)
    assert torch.equal(crop, crops[0]) and torch.allclose(embedding, embeddings[0], atol=1e-6) and faces == 1
