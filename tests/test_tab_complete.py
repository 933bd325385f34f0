"""The Complete tab through the real server: the kept rows, the preview, a pad drawing read as its
composite."""


import numpy as np
import pytest
from PIL import Image
from gradio_client import handle_file

from pixelcnn.pictures.writing import to_uint8
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio import shelf
from pixelcnn.studio.tabs import complete as complete_tab

from .helpers import EXAMPLES
from .page_helpers import complete


def test_a_sketchpad_drawing_is_read_as_its_composite(client):
    """A pad sends {background, layers, composite}: the tab reads the composite, as if it were uploaded."""
    digit = handle_file(str(EXAMPLES / "mnist-test-3.png"))
    pad = {"background": None, "layers": [], "composite": digit}
    drawn = client.submit("MNIST", None, pad, "3", 14, 2, 1.0, "5", api_name="/complete")
    uploaded = client.submit("MNIST", digit, None, "3", 14, 2, 1.0, "5", api_name="/complete")
    from_pad, from_upload = list(drawn)[-1], list(uploaded)[-1]
    assert from_pad[-1].startswith("Done: 2 images")
    assert np.array_equal(np.asarray(Image.open(from_pad[0])), np.asarray(Image.open(from_upload[0])))
    with pytest.raises(Exception, match="Upload an image first"):
        client.predict("MNIST", None, {"background": None, "layers": [], "composite": None}, "3", 14, 2, 1.0, "5", api_name="/complete")


def test_completion_keeps_the_top_of_the_upload(client, tmp_path):
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[4:14, 12:16] = 255  # the top half of a "1", light on dark
    path = tmp_path / "one.png"
    Image.fromarray(digit).save(path)
    job, frames = complete(client, path, keep=14, count=4)
    assert job.status().success and frames[-1][-1].startswith("Done: 4 images")
    grid = np.asarray(Image.open(frames[-1][0]).convert("L"))
    scale = max(2, 560 // (2 * 29))
    tile = grid[scale : scale + 28 * scale : scale, scale : scale + 28 * scale : scale]  # first image, one value per pixel
    # The kept rows are the upload as the model sees it (laid out as MNIST's digits were: centred, in a 20x20 box).
    seen = to_uint8(model_pixels(shelf.bundled("mnist"), Image.open(path)), 256)[0, :, :, 0]
    assert np.array_equal(tile[:14], seen[:14]) and (seen[:14] > 127).sum() > 20


def test_completion_preview_marks_the_kept_rows():
    model = shelf.bundled("mnist")
    shown, guess, sentence = complete_tab.completion_preview(model, "MNIST", str(EXAMPLES / "mnist-test-7.png"), 10)
    pixels = np.asarray(shown.convert("RGB"))
    scale = 8
    kept = pixels[scale + 5 * scale, scale + 3 * scale]  # row 5: as uploaded (dark background stays grey)
    drawn = pixels[scale + 20 * scale, scale + 3 * scale]  # row 20: tinted towards the undrawn blue
    assert kept[0] == kept[1] == kept[2] and drawn[2] > drawn[0]
    assert guess in model.class_names and "keeps the top 10 of 28 rows" in sentence
