"""The Portrait tab through the real server: new portraits of the person, a mix and a walk between
two, the photo's layout kept, and its refusals."""


import numpy as np
import pytest
import torch
from PIL import Image
from gradio_client import handle_file

from pixelcnn.data import quantize
from pixelcnn.studio import checks, shelf
from pixelcnn.studio.tabs import portrait as portrait_tab

from .helpers import EXAMPLES
from .page_helpers import FAST, WATCHABLE, assert_sketch_then_detail, make_bad_files, portraits, tiles_of


def test_a_portrait_request_streams_new_portraits_of_the_person(client):
    job, frames = portraits(client, EXAMPLES / "obama.jpg", count=8, pace=WATCHABLE)
    assert job.status().success
    crops, grid, belief, status = frames[-1]
    assert Image.open(belief).size == (360, 170)  # the chart of the last pixel drawn
    assert len(frames) >= 10 and frames[0][-1].startswith("Drawing") and status.startswith("Done: 8 images")
    assert Image.open(crops).size == (160 + 8, 160 + 8)  # the one aligned face crop, framed
    scale = max(2, 560 // (4 * 33))  # 8 portraits: 4 columns, 2 rows, no empty cell
    assert Image.open(grid).size == ((4 * 33 + 1) * scale, (2 * 33 + 1) * scale)
    assert_sketch_then_detail(frames, picture=1)  # a new pose: the two-stage model sketches a layout of its own first


def test_two_portraits_mix_and_walk(client):
    job, frames = portraits(client, EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg", walk=True, count=3, seed="4")
    assert job.status().success and frames[-1][-1].startswith("Done: 3 images")
    assert Image.open(frames[-1][0]).size == (2 * 160 + 12, 160 + 8)  # both faces shown
    # The same seed with a different mix gives different portraits: the identity steers them.
    _, at_first = portraits(client, EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg", mix=0.0, count=2, seed="9")
    _, at_second = portraits(client, EXAMPLES / "obama.jpg", EXAMPLES / "biden.jpg", mix=1.0, count=2, seed="9")
    assert not np.array_equal(np.asarray(Image.open(at_first[-1][1])), np.asarray(Image.open(at_second[-1][1])))


def test_bad_portraits_get_one_sentence_and_the_app_keeps_serving(client, tmp_path):
    for name, (path, message) in make_bad_files(tmp_path).items():
        with pytest.raises(Exception, match=message):
            portraits(client, path)
    blank = tmp_path / "wall.png"
    Image.new("RGB", (300, 300), (180, 170, 160)).save(blank)
    with pytest.raises(Exception, match="No face was found in that photo"):
        portraits(client, blank)
    with pytest.raises(Exception, match="Upload a portrait"):
        portraits(client, None)
    with pytest.raises(Exception, match="Add a second portrait"):
        portraits(client, EXAMPLES / "obama.jpg", walk=True)
    with pytest.raises(Exception, match="No face was found"):
        portraits(client, EXAMPLES / "obama.jpg", second=blank)
    job, frames = portraits(client, EXAMPLES / "biden.jpg", count=1)
    assert job.status().success and frames[-1][-1].startswith("Done: 1 image")


def test_portrait_checks_behind_the_page():
    for value in (float("nan"), -0.1, 1.5, "half"):
        with pytest.raises(ValueError, match="Mix must be a number from 0 to 1.*0 is the first person"):
            checks.parse_mix(value)


def test_two_faces_say_which_one_was_used(client, tmp_path):
    left, right = Image.open(EXAMPLES / "obama.jpg").convert("RGB"), Image.open(EXAMPLES / "biden.jpg").convert("RGB")
    both = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), (255, 255, 255))
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    path = tmp_path / "two.jpg"
    both.save(path)
    job, frames = portraits(client, path, count=1)
    assert job.status().success
    assert frames[-1][-1].startswith("The first photo has 2 faces: the largest was used (shown above). Done: 1 image")


def test_a_portrait_can_keep_the_photos_layout(client):
    photo = EXAMPLES / "orl-s1-held-out.png"
    job = client.submit(handle_file(str(photo)), None, None, 0.5, False, 2, 1.0, "4", 0.0, FAST, checks.KEEP_LAYOUT, api_name="/portraits")
    frames = list(job)
    assert frames[-1][-1].startswith("Done: 2 images")
    assert all("Drawing the sketch" not in frame[-1] for frame in frames)  # the photo's own sketch: nothing to sketch
    model = shelf.bundled("portraits-sketch")
    wanted = portrait_tab.photo_layout(model, str(photo))
    drawn = model.sketch_of(torch.from_numpy(quantize(tiles_of(frames[-1][1], 2, side=32)[:, None], model.levels)))
    other = portrait_tab.photo_layout(model, str(EXAMPLES / "orl-s15-held-out.png"))
    # The layout is kept: both portraits' sketches are nearer the photo's own than another photo's.
    assert torch.all((drawn - wanted).abs().float().mean((1, 2, 3)) < (drawn - other).abs().float().mean((1, 2, 3)))
    with pytest.raises(Exception, match="Layout must be one of"):
        client.predict(handle_file(str(photo)), None, None, 0.5, False, 2, 1.0, "4", 0.0, FAST, "sideways", api_name="/portraits")


def test_the_portrait_controls_start_at_the_settings_of_the_model_that_draws_new_poses(client):
    """The two-stage model draws new poses, so the tab's temperature and guidance start at its measured defaults."""
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/portraits"]["parameters"]
    starts = {p["parameter_name"]: p["parameter_default"] for p in api if p.get("parameter_has_default")}
    assert starts["temperature"] == shelf.DEFAULT_TEMPERATURE["portraits-sketch"] != 1.0
    assert starts["guidance"] == shelf.DEFAULT_GUIDANCE["portraits-sketch"]
