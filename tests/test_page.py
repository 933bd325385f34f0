"""The page through a real Gradio server on 127.0.0.1, driven by gradio_client: By class requests and
their refusals, the checks behind the page, uploads, pace and charts, Stop, the frame sweeper; the
Hub path through huggingface_hub's real HTTP code against a stand-in."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from gradio_client import Client, handle_file

import app  # noqa: F401 - app.py imports without starting anything (the engine's process imports it as its main module)
from pixelcnn import studio
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.sampling import sample
from pixelcnn.studio import checks, grids, palette, serving, shelf, widgets

from .helpers import ROOT
from .hub_stub import HubStub
from .page_helpers import WATCHABLE, FastClient, assert_sketch_then_detail, generate, make_bad_files


def test_a_class_request_streams_and_ends_with_the_grid(client):
    job, frames = generate(client, "MNIST", "7", 16, 1.0, "3", 2.0, WATCHABLE)
    assert job.status().success
    statuses = [frame[-1] for frame in frames]
    assert len(frames) >= 10 and statuses[0].startswith("Drawing")
    assert statuses[-1].startswith("Done: 16 images") and "how surprising the model finds them" in statuses[-1]
    image = Image.open(frames[-1][0])
    scale = max(2, 560 // (4 * 29))
    assert image.size == ((4 * 29 + 1) * scale,) * 2
    assert_sketch_then_detail(frames, 0)


def test_same_seed_same_images(client):
    _, a = generate(client, "Fashion-MNIST", "Trouser", 2, 0.8, "11")
    _, b = generate(client, "Fashion-MNIST", "Trouser", 2, 0.8, "11")
    assert np.array_equal(np.asarray(Image.open(a[-1][0])), np.asarray(Image.open(b[-1][0])))


BAD_REQUESTS = [
    (("MNIST", "banana", 4, 1.0, ""), "MNIST has no class 'banana'; choose a Class from: 0, 1, 2"),
    (("Fashion-MNIST", "7", 4, 1.0, ""), "Fashion-MNIST has no class '7'; choose a Class from: T-shirt/top"),
    (("CIFAR", "cat", 4, 1.0, ""), "Dataset must be one of: MNIST, Fashion-MNIST, not 'CIFAR'"),
    # Values the sliders would never send, and strings where numbers belong (API callers): each
    # message names the control, the allowed values and what was sent.
    (("MNIST", "3", 1_000_000, 1.0, ""), "Images must be a whole number from 1 to 16, not 1000000"),
    (("MNIST", "3", 0, 1.0, ""), "Images must be a whole number from 1 to 16, not 0"),
    (("MNIST", "3", 2.5, 1.0, ""), "Images must be a whole number from 1 to 16, not 2.5"),
    (("MNIST", "3", "many", 1.0, ""), "Images must be a whole number from 1 to 16, not 'many'"),
    (("MNIST", "3", 4, 0, ""), "Temperature must be a number from 0.05 to 3, not 0; 1.0 samples"),
    (("MNIST", "3", 4, "hot", ""), "Temperature must be a number from 0.05 to 3, not 'hot'"),
    (("MNIST", "3", 4, None, ""), "Temperature must be a number from 0.05 to 3, not None"),
    (("MNIST", "3", 4, 1.0, "soon"), "Seed must be a whole number of 0 or more, not 'soon'; leave it blank"),
    (("MNIST", "3", 4, 1.0, "", "strong"), "Guidance must be a number from 0 to 10, not 'strong'"),
    (("MNIST", "3", 4, 1.0, "", 11), "Guidance must be a number from 0 to 10, not 11"),
]


@pytest.mark.parametrize("args, message", BAD_REQUESTS)
def test_bad_class_requests_get_one_sentence(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/generate")


@pytest.mark.parametrize(
    "parse, value, message",
    [
        (checks.parse_temperature, float("nan"), "Temperature must be a number from"),
        (checks.parse_temperature, "hot", "Temperature must be a number from"),
        (checks.parse_temperature, 0.0, "Temperature must be a number from"),
        (checks.parse_count, float("inf"), "whole number from 1 to 16"),
        (checks.parse_count, 10**6, "whole number from 1 to 16"),
        (checks.parse_seed, -1, "Seed must be a whole number"),
        (checks.parse_seed, float("nan"), "Seed must be a whole number"),
    ],
)
def test_request_checks_behind_the_page(parse, value, message):
    # JSON cannot carry NaN or infinity, so these reach the package only from Python callers.
    with pytest.raises(ValueError, match=message):
        parse(value)


def test_guidance_is_on_by_default_and_changes_the_drawing(client):
    model = shelf.bundled("mnist")
    assert model.guidable and checks.default_guidance("mnist", model, shelf.DEFAULT_GUIDANCE) == shelf.DEFAULT_GUIDANCE["mnist"] > 0
    _, plain = generate(client, "MNIST", "4", 4, 1.0, "5", 0.0)
    _, guided = generate(client, "MNIST", "4", 4, 1.0, "5", 3.0)
    assert plain[-1][-1].startswith("Done") and guided[-1][-1].startswith("Done")
    assert not np.array_equal(np.asarray(Image.open(plain[-1][0])), np.asarray(Image.open(guided[-1][0])))


def test_guidance_checks_behind_the_page():
    model = shelf.bundled("mnist")
    for bad in ("lots", float("nan"), -1.0, checks.MAX_GUIDANCE + 1):
        with pytest.raises(ValueError, match="Guidance must be a number from 0"):
            checks.parse_guidance(bad, model)
    assert checks.parse_guidance("2.5", model) == 2.5
    model.cond_dropout = 0.0  # as a model trained without conditioning dropout
    with pytest.raises(ValueError, match="trained without conditioning dropout.*set Guidance to 0"):
        checks.parse_guidance(1.0, model)
    assert checks.parse_guidance(0, model) == 0.0 and checks.default_guidance("mnist", model, shelf.DEFAULT_GUIDANCE) == 0.0


def test_numbers_and_strings_are_taken_either_way(client):
    # The class as the number 7, the count and temperature as strings, the seed as a number.
    job, frames = generate(client, "MNIST", 7, "1", "1.0", 1)
    assert job.status().success and frames[-1][-1].startswith("Done: 1 image")
    _, again = generate(client, "MNIST", "7", 1, 1.0, "1")
    assert np.array_equal(np.asarray(Image.open(frames[-1][0])), np.asarray(Image.open(again[-1][0])))


def test_a_refused_request_says_so_in_its_status_line_too(client):
    job = client.submit("MNIST", "3", 4, "hot", "", api_name="/generate")
    frames = list(job)
    assert frames[-1][-1] == "Not drawn: Temperature must be a number from 0.05 to 3, not 'hot'; 1.0 samples the model as trained."
    with pytest.raises(Exception, match="Temperature must be"):
        job.result()


def test_a_refused_request_logs_one_line_not_a_traceback(client, capfd, caplog):
    caplog.set_level("INFO", logger="pixelcnn.studio")
    with pytest.raises(Exception, match="Temperature must be"):
        client.predict("MNIST", "3", 4, "hot", "", api_name="/generate")
    time.sleep(0.5)
    printed = capfd.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert [r.getMessage() for r in caplog.records if r.name == "pixelcnn.studio"] == [
        "refused a request: Temperature must be a number from 0.05 to 3, not 'hot'; 1.0 samples the model as trained."]


def test_request_checks_accept_good_values():
    assert (checks.parse_count("16"), checks.parse_temperature("0.7"), checks.parse_seed(" "), checks.parse_seed("42")) == (16, 0.7, None, 42)


def test_bad_uploads_get_one_sentence_and_the_app_keeps_serving(client, tmp_path):
    for name, (path, message) in make_bad_files(tmp_path).items():
        with pytest.raises(Exception, match=message):
            client.predict("MNIST", handle_file(str(path)), None, "3", 14, 2, 1.0, "", api_name="/complete")
    with pytest.raises(Exception, match="Upload an image first"):
        client.predict("MNIST", None, None, "3", 14, 2, 1.0, "", api_name="/complete")
    job, frames = generate(client, "MNIST", "1", 1, 1.0, "0")
    assert job.status().success and frames[-1][-1].startswith("Done")


def test_app_falls_back_fast_when_the_hub_is_unreachable(tmp_path):
    code = "from pixelcnn.studio import load_models; import json; m, n = load_models('someone/pixelcnn'); print(json.dumps([sorted(m), n]))"
    env = {"PATH": "/usr/bin:/bin", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path / "hub")}
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    unreachable = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    names, notes = json.loads(out.stdout.strip().splitlines()[-1])
    assert names == sorted(studio.MODELS)
    assert len(notes) == len(studio.MODELS)
    assert all("cannot be reached" in note and "Using the bundled weights" in note for note in notes)
    # No wait per file: it takes about as long as the same start told not to try the Hub at all,
    # measured now on this machine (the library's own timeouts would add 10 s or more a file).
    start = time.monotonic()
    offline = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=300)
    assert offline.returncode == 0, offline.stderr
    assert unreachable < 2 * (time.monotonic() - start) + 5 * len(studio.MODELS), unreachable


def test_app_loads_every_model_through_the_hub(tmp_path):
    repo = tmp_path / "hub" / "someone" / "pixelcnn"
    for name in studio.MODELS.values():
        shutil.copytree(ROOT / "assets" / name, repo / name)
    code = (
        "from pixelcnn.studio import load_models; import json, torch; m, n = load_models('someone/pixelcnn');"
        "print(json.dumps([n, {k: getattr(v, 'class_names', type(v).__name__) for k, v in m.items()}]))"
    )
    with HubStub(tmp_path / "hub") as hub:
        env = {"PATH": "/usr/bin:/bin", "HF_ENDPOINT": hub.url, "HF_HUB_CACHE": str(tmp_path / "cache")}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        notes, classes = json.loads(out.stdout.strip().splitlines()[-1])
        assert notes == [f"{label}: loaded from the Hub (someone/pixelcnn/{name})." for label, name in studio.MODELS.items()]
        assert classes["Fashion-MNIST"][9] == "Ankle boot"
        assert classes["Auto-encoder (PixelCNN)"] == "PixelCNNAutoEncoder" and classes["Auto-encoder (MSE)"] == "MSEAutoEncoder"
        assert ("GET", "someone/pixelcnn/resolve/main/portraits/model.safetensors") in hub.requests
        assert ("GET", "someone/pixelcnn/resolve/main/mnist/model.safetensors") in hub.requests
        # A second start with the Hub gone uses the Hub cache, not the bundled copy.
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    notes, _ = json.loads(out.stdout.strip().splitlines()[-1])
    assert notes[0] == "MNIST: loaded from the Hub (someone/pixelcnn/mnist)."


def test_streamed_frames_are_swept_a_while_after_they_were_last_sent(tmp_path):
    class Output:  # what the sweeper reads of a Gradio output component
        temp_files: set

    output = Output()
    paths = [tmp_path / f"frame-{k}.png" for k in range(3)]
    for path in paths:
        path.write_bytes(b"png")
        os.utime(path, (1000, 1000))  # written at t = 1000
    os.utime(paths[0], (1050, 1050))  # sent again at t = 1050 (Gradio rewrites a picture's file)
    output.temp_files = {str(p) for p in paths} | {str(tmp_path / "gone.png")}
    assert serving.sweep_frames([output], age=60, now=1040) == 0 and all(p.exists() for p in paths)
    assert output.temp_files == {str(p) for p in paths}  # Gradio serves only listed files: kept ones stay listed
    assert serving.sweep_frames([output], age=60, now=1070) == 2
    assert paths[0].exists() and not paths[1].exists() and not paths[2].exists() and output.temp_files == {str(paths[0])}
    assert serving.sweep_frames([output], age=60, now=1200) == 1 and output.temp_files == set()


def test_the_uploads_empty_leftovers_are_swept_once_old(tmp_path):
    (tmp_path / "tmpabc").write_bytes(b"")  # what Gradio's upload route leaves behind
    (tmp_path / "tmpfull").write_bytes(b"an upload under way")
    (tmp_path / "picture.png").write_bytes(b"")
    for path in tmp_path.iterdir():
        os.utime(path, (1000, 1000))
    assert serving.sweep_leftovers(str(tmp_path), age=3600, now=2000) == 0
    assert serving.sweep_leftovers(str(tmp_path), age=3600, now=5000) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.png", "tmpfull"]


def test_frames_are_swept_for_a_visitor_whose_session_has_its_own_copy_of_the_outputs(server):
    """A refusal skips the outputs, and Gradio then postprocesses that session's frames with copies
    of the components: their files are swept as well (else they pile up: docs/serving.md). The
    next refusal replaces the copy with a new one: the old copy's frames are swept too, and the
    folders Gradio made for them go with them."""
    client = Client(server, verbose=False, download_files=False)
    grids = []
    for seed in ("1", "2"):
        with pytest.raises(Exception, match="Images"):
            client.predict("MNIST", "3", 0, 1.0, seed, pace="As fast as possible", api_name="/generate")
        grids.append(client.predict("MNIST", "3", 2, 1.0, seed, pace="As fast as possible", api_name="/generate")[0]["path"])
    assert all(os.path.exists(path) for path in grids)
    serving.sweep_all(age=-1)
    assert not any(os.path.exists(path) or os.path.exists(os.path.dirname(path)) for path in grids)


def test_sixteen_bit_grey_keeps_its_tones():
    model = shelf.bundled("mnist")
    ramp = (np.arange(28 * 28, dtype=np.uint32).reshape(28, 28) * 65535 // (28 * 28 - 1)).astype(np.uint16)
    as_16 = model_pixels(model, Image.fromarray(ramp), layout=False)  # resized whole: the tones as they are
    as_8 = model_pixels(model, Image.fromarray((ramp // 257).astype(np.uint8)), layout=False)
    assert len(torch.unique(as_16)) > 200  # a smooth ramp, not clipped to black and white
    assert (as_16 - as_8).abs().max() <= 1


def test_tiny_uploads_get_a_sentence(client, tmp_path):
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 255).save(path)
    with pytest.raises(Exception, match="The image is only 1x1 pixels, too small to mean anything"):
        client.predict("MNIST", handle_file(str(path)), None, "3", 14, 2, 1.0, "", api_name="/complete")


def test_stop_says_where_the_drawing_stopped():
    assert serving.stopped("Drawing… 64% (8,028 of 12,544 colour values), 0.4 s") == (
        "Stopped at 64% (8,028 of 12,544 colour values drawn). Press the button again to start anew.")
    note = "The first photo has 2 faces: the largest was used (shown above). "
    assert serving.stopped(note + "Drawing… 5% (51 of 1,024 pixels), 0.1 s").startswith("Stopped at 5% (51 of 1,024")
    done = "Done: 16 images in 1.20 s; the model gives them 0.951 bits/dim."
    assert serving.stopped(done) == done and serving.stopped(None) == "Stopped."


def test_a_stopped_frame_shows_no_cursor():
    """After Stop the grid stays as it stood, but nothing on it looks as if it were still drawing."""
    model = shelf.bundled("mnist")
    canvas = sample(model, 2, labels=3, seed=0)
    grid = grids.render(canvas, 256, 300, 2, 4)
    assert (np.asarray(grid) == palette.CURSOR).all(axis=2).any()
    still, chart, drawing, status = serving.stopped_frame((grid, "chart", "drawing", "Drawing… 38% (300 of 784 pixels), 0.2 s"), 4)
    pixels = np.asarray(still)
    assert not (pixels == palette.CURSOR).all(axis=2).any() and pixels.shape == np.asarray(grid).shape
    assert status.startswith("Stopped at 38%")
    drawn = (np.asarray(grid) != palette.CURSOR).any(axis=2)
    assert np.array_equal(pixels[drawn], np.asarray(grid)[drawn])  # everything else exactly as it was
    # With a still in front (the auto-encoder's pair, a face crop), that is left as it is.
    assert serving.stopped_frame(("pair", grid, "chart", "drawing", "Drawing… 1% (8 of 784 pixels), 0.0 s"), 5)[0] is not grid


def test_the_default_pace_is_watchable_and_draws_the_same_images(server):
    plain = Client(server, verbose=False)  # no pace given: the page's default
    frames = list(plain.submit("MNIST", "7", 4, 1.0, "21", api_name="/generate"))
    assert "at a watchable pace" in frames[-1][-1]  # the spread itself is timed in test_watch and, on screen, in test_browser
    _, fast = generate(FastClient(server, verbose=False), "MNIST", "7", 4, 1.0, "21")
    assert len(fast) < len(frames) / 4
    assert np.array_equal(np.asarray(Image.open(frames[-1][0])), np.asarray(Image.open(fast[-1][0])))
    with pytest.raises(Exception, match="Pace must be one of: Watchable"):
        plain.predict("MNIST", "7", 4, 1.0, "21", 0.0, "warp speed", api_name="/generate")


def test_visitors_at_once_all_see_their_drawing_start_before_any_ends(server):
    """More visitors than there are cores draw at a watchable pace at once: a paced drawing holds
    no compute slot, so none waits for another's six seconds before its own drawing starts."""
    import threading

    events: list[tuple[str, int]] = []

    def visit(k):
        first = True
        for frame in Client(server, verbose=False).submit("MNIST", str(k), 4, 1.0, str(k), 2.0, WATCHABLE, api_name="/generate"):
            if first and frame[-1].startswith("Drawing"):
                events.append(("start", k))
                first = False
        events.append(("done" if frame[-1].startswith("Done") else "failed", k))

    visitors = [threading.Thread(target=visit, args=(k,)) for k in range(5)]
    for thread in visitors:
        thread.start()
    for thread in visitors:
        thread.join()
    kinds = [kind for kind, _ in events]
    assert sorted(kinds) == ["done"] * 5 + ["start"] * 5, events
    assert kinds[:5] == ["start"] * 5, f"a drawing ended before every visitor's had started: {events}"


def test_each_frame_comes_with_the_chart_of_the_pixel_being_drawn(client):
    _, frames = generate(client, "MNIST", "3", 4, 1.0, "8", 2.0, WATCHABLE)
    charts = [np.asarray(Image.open(frame[1]).convert("RGB")) for frame in frames]
    assert all(chart.shape == (170, 360, 3) for chart in charts)
    # The chart follows the drawing: it changes from frame to frame, and marks a drawn value in orange.
    assert len({chart.tobytes() for chart in charts}) > len(charts) // 2
    assert all((chart == (255, 140, 0)).all(2).any() for chart in charts)


def test_the_sweeper_keeps_the_picture_a_page_starts_with(server):
    chart = widgets.belief_view("swept-chart")  # starts with the placeholder chart
    start = chart.value["path"]
    assert Path(start).exists() and start in chart.temp_files
    serving.sweep_frames([chart], age=0, now=time.time() + 3600)
    assert Path(start).exists() and start in chart.temp_files  # every new visitor still sees it


def test_a_visitor_whose_session_was_let_go_draws_again(server):
    """Gradio keeps the SESSIONS_KEPT most recently used sessions (each holds a copy of the page's
    config): a visitor whose session went starts a new one at their next press."""
    page = next(p for p, _ in serving.SWEEPING if getattr(p, "local_url", None) == server)
    capacity, page.state_holder.capacity = page.state_holder.capacity, 2
    while len(page.state_holder.session_data) > 2:  # Gradio lets one go a request: earlier tests' sessions go first
        page.state_holder.session_data.popitem(last=False)
    try:
        first, *others = (Client(server, verbose=False, download_files=False) for _ in range(3))
        for client in (first, *others):
            client.predict("MNIST", "3", 1, 1.0, "1", pace="As fast as possible", api_name="/generate")
        assert first.session_hash not in page.state_holder.session_data  # let go: the two others came later
        status = first.predict("MNIST", "4", 1, 1.0, "2", pace="As fast as possible", api_name="/generate")[-1]
        assert status.startswith("Done") and first.session_hash in page.state_holder.session_data
    finally:
        page.state_holder.capacity = capacity
    assert serving.SESSIONS_KEPT == page.state_holder.capacity
