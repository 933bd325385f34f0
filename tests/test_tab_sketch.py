"""The Sketch tab through the real server, and By class drawn in two stages (each stage its own
guidance and temperature)."""


import numpy as np
import pytest
import torch
from PIL import Image

from pixelcnn.data import quantize
from pixelcnn.pictures.writing import to_uint8
from pixelcnn.sampling import sample
from pixelcnn.studio import shelf
from pixelcnn.studio.tabs import sketch as sketch_tab

from .helpers import EXAMPLES
from .page_helpers import FAST, generate, make_bad_files, sketch_request, tiles_of


def test_the_sketch_tab_draws_over_the_visitors_sketch(client):
    model = shelf.bundled("mnist-sketch")
    seven = sketch_tab.sketch_of_drawing(model, Image.open(EXAMPLES / "mnist-test-7.png"), centre=True)
    three = sketch_tab.sketch_of_drawing(model, Image.open(EXAMPLES / "mnist-test-3.png"), centre=True)
    job, frames = sketch_request(client, EXAMPLES / "mnist-test-7.png", count=4)
    preview, grid, belief, status = frames[-1]
    assert status.startswith("Done: 4 images") and "surprising" not in status  # no class: nothing to count bits under
    assert all("Drawing the detail over the sketch" in frame[-1] for frame in frames[:-1])  # the sketch is given, not drawn
    assert Image.open(preview).size == ((28 + 2) * 8,) * 2
    # What was drawn follows the sketch: each image's own sketch is nearer the seven's than a three's.
    drawn = model.sketch_of(torch.from_numpy(quantize(tiles_of(grid, 4)[:, None], model.levels)))
    to_seven = (drawn - seven).abs().float().mean((1, 2, 3))
    to_three = (drawn - three).abs().float().mean((1, 2, 3))
    assert torch.all(to_seven < to_three), (to_seven, to_three)


def test_the_sketch_tab_with_a_class_and_its_refusals(client, tmp_path):
    job, frames = sketch_request(client, EXAMPLES / "mnist-test-7.png", class_name="7", count=2, guidance=1.0)
    assert frames[-1][-1].startswith("Done: 2 images") and "bits per pixel" in frames[-1][-1]
    blank = tmp_path / "blank.png"
    Image.new("L", (196, 196), 255).save(blank)
    with pytest.raises(Exception, match="The drawing is empty; paint a rough shape"):
        sketch_request(client, blank)
    with pytest.raises(Exception, match="Paint a rough shape on the pad, upload a picture, or pick an example first"):
        sketch_request(client, None)
    with pytest.raises(Exception, match="MNIST has no class 'banana'"):
        sketch_request(client, EXAMPLES / "mnist-test-7.png", class_name="banana")
    for name, (path, message) in make_bad_files(tmp_path).items():
        with pytest.raises(Exception, match=message):
            sketch_request(client, path)


def test_the_same_sketch_and_seed_draw_the_same_images_and_centring_moves_the_sketch(client, tmp_path):
    corner = np.zeros((28, 28), dtype=np.uint8)
    corner[2:12, 2:5] = 255  # a short bar in the top-left corner
    path = tmp_path / "corner.png"
    Image.fromarray(corner).save(path)
    _, a = sketch_request(client, path, count=1, seed="8")
    _, b = sketch_request(client, path, count=1, seed="8")
    assert np.array_equal(np.asarray(Image.open(a[-1][1])), np.asarray(Image.open(b[-1][1])))
    _, kept = sketch_request(client, path, count=1, seed="8", centre=False)
    centred = np.asarray(Image.open(a[-1][0]).convert("L"))
    as_drawn = np.asarray(Image.open(kept[-1][0]).convert("L"))
    cell = lambda picture, r, c: picture[8 + r * 32 + 16, 8 + c * 32 + 16]  # noqa: E731  (the centre of sketch cell (r, c))
    assert cell(as_drawn, 0, 0) > 0 and cell(centred, 0, 0) == 0  # the bar stays in the corner only when not centred


def test_by_class_draws_with_two_guidances(client):
    _, low = generate(client, "MNIST", "2", 2, 1.0, "6", 0.0, FAST, 0.0)
    _, high = generate(client, "MNIST", "2", 2, 1.0, "6", 0.0, FAST, 3.0)
    assert low[-1][-1].startswith("Done") and high[-1][-1].startswith("Done")
    assert not np.array_equal(np.asarray(Image.open(low[-1][0])), np.asarray(Image.open(high[-1][0])))
    with pytest.raises(Exception, match="Sketch guidance must be a number from 0 to 10, not 'lots'"):
        client.predict("MNIST", "2", 2, 1.0, "6", 0.0, FAST, "lots", api_name="/generate")


def test_by_class_draws_each_stage_at_its_own_temperature(client):
    _, drawn = generate(client, "MNIST", "8", 2, 1.2, "7", 0.0, FAST, 1.0, 0.6)
    model = shelf.bundled("mnist-sketch")
    alone = sample(model, 2, labels=8, seed=7, guidance=0.0, sketch_guidance=1.0, temperature=1.2, sketch_temperature=0.6)
    assert np.array_equal(tiles_of(drawn[-1][0], 2), to_uint8(alone, model.levels)[..., 0])
    with pytest.raises(Exception, match="Sketch temperature must be a number from"):
        client.predict("MNIST", "2", 2, 1.0, "6", 0.0, FAST, 1.0, 0.0, api_name="/generate")
