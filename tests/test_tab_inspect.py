"""The Inspect tab through the real server: the surprise map, the class it reads ("not a digit"
included), where a pixel looks."""


import numpy as np
import pytest
import torch
from PIL import Image
from gradio_client import handle_file

from pixelcnn.evaluation.calibration import read_drawn, read_others
from pixelcnn.explain import SURE, class_probabilities
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio import checks, shelf
from pixelcnn.studio.tabs import complete as complete_tab

from .helpers import EXAMPLES
from .page_helpers import DRAWN, OTHERS, inspect_request, make_bad_files


def test_inspect_shows_the_surprise_map_and_the_class_it_reads(client):
    surprise, classes, summary, clickable = inspect_request(client, EXAMPLES / "mnist-test-7.png")
    assert classes["label"] == "7" and len(classes["confidences"]) == 10
    assert sum(c["confidence"] for c in classes["confidences"]) == pytest.approx(1.0, abs=1e-6)
    bpd = float(summary.split("**")[5].split()[0])
    model = shelf.bundled("mnist")
    digit = model_pixels(model, Image.open(EXAMPLES / "mnist-test-7.png"))
    assert bpd == pytest.approx(model.bits_per_dim(digit, labels=torch.tensor([7])).item(), abs=5e-4)
    heat = np.asarray(Image.open(surprise).convert("RGB"))
    assert heat.shape == (280, 280, 3) and np.asarray(Image.open(clickable)).shape[:2] == (280, 280)
    # Under a wrong class the same image costs more bits.
    _, _, wrong, _ = inspect_request(client, EXAMPLES / "mnist-test-7.png", class_choice="1")
    assert float(wrong.split("**")[5].split()[0]) > bpd


def test_inspect_reads_a_garment(client):
    _, classes, summary, _ = inspect_request(client, EXAMPLES / "fashion-mnist-test-7-sneaker.png", dataset="Fashion-MNIST")
    assert classes["label"] == "Sneaker" and "bits per pixel" in summary


def test_where_a_pixel_looks_shows_the_blind_spot_of_the_original_only(client):
    upload = handle_file(str(EXAMPLES / "mnist-test-7.png"))
    # A click at screen pixel (145, 185) of the 10x picture: row 19, column 15.
    gated, original, sentence = client.predict("MNIST", upload, None, "Its best guess", 145, 185, api_name="/where_it_looks")
    assert "pixel (row 19, column 15)" in sentence and "blind spot" in sentence
    red = np.array([200, 40, 60])

    def unseen(path):  # (28, 28) bools: pixels drawn before, yet out of sight
        return (np.asarray(Image.open(path).convert("RGB"))[5::10, 5::10] == red).all(2)

    # One row up, just to the right: the Gated model sees it; the original does not.
    assert not unseen(gated)[17, 15:20].any() and unseen(original)[17, 17:20].all()
    # Neither sees rows beyond its reach; the original misses more.
    assert unseen(original).sum() > unseen(gated).sum()


@pytest.mark.parametrize("x, y, message", [(900, 10, "outside the 28 x 28 image"), (-5, 10, "outside the 28 x 28 image"),
                                           ("left", 10, "Click a pixel")])
def test_a_click_outside_the_image_gets_one_sentence(client, x, y, message):
    with pytest.raises(Exception, match=message):
        client.predict("MNIST", handle_file(str(EXAMPLES / "mnist-test-7.png")), None, "Its best guess", x, y, api_name="/where_it_looks")


def test_bad_inspect_requests_get_one_sentence_and_the_app_keeps_serving(client, tmp_path):
    for name, (path, message) in make_bad_files(tmp_path).items():
        with pytest.raises(Exception, match=message):
            inspect_request(client, path)
    with pytest.raises(Exception, match="Draw a digit or a garment, upload an image, or pick an example first"):
        client.predict("MNIST", None, None, "Its best guess", api_name="/inspect")
    with pytest.raises(Exception, match="MNIST has no class 'banana'"):
        inspect_request(client, EXAMPLES / "mnist-test-7.png", class_choice="banana")
    assert inspect_request(client, EXAMPLES / "mnist-test-3.png")[1]["label"] == "3"


def test_drawn_digits_are_read_as_what_they_are_and_wrong_readings_are_unsure():
    model, reader = shelf.bundled("mnist"), shelf.bundled("mnist-reader")
    paths = sorted(DRAWN.glob("*.png"))
    assert len(paths) == 50
    right, wrong_p = 0, []
    for path in paths:  # the page's own upload path: open, bring into MNIST's form, read
        probs = class_probabilities(reader, model_pixels(model, checks.open_upload(path)))
        if int(probs.argmax()) == int(path.stem[-1]):
            right += 1
        else:
            wrong_p.append(float(probs.max()))
    assert right >= 45, f"{right} of 50 read right"  # 90%, as measured (README)
    assert sum(p < SURE for p in wrong_p) >= 2 and max(wrong_p) < 0.99, wrong_p  # wrong readings are not sure of themselves


def test_most_drawings_that_are_not_digits_are_called_so_and_drawn_digits_are_not():
    reader = shelf.bundled("mnist-reader")
    assert reader.surprise_limit > 0  # fitted by pixelcnn evaluate --surprise (the card's "Not a digit")
    others, figures = read_others(reader, OTHERS)
    assert figures["others_not_a_digit"] >= 0.8 and figures["others_no_class_stated"] >= figures["others_not_a_digit"], figures
    _, figures = read_drawn(reader, DRAWN)
    assert figures["drawn_not_a_digit"] <= 0.05, figures  # at most 2 of the 50


def test_inspect_says_not_a_digit_above_the_bars_and_never_a_digit_when_unsure(client):
    _, classes, summary, _ = inspect_request(client, OTHERS / "letter-K.png")
    assert classes["label"] == "Not a digit" and len(classes["confidences"]) == 10
    assert "**not a digit**" not in summary and "not a digit: the model finds it more surprising" in summary
    _, classes, summary, _ = inspect_request(client, DRAWN / "drawn-53-5.png")  # a 5 the model is not sure of
    assert classes["label"] == "Not sure" and "not sure: maybe 3" in summary
    _, classes, _, _ = inspect_request(client, DRAWN / "drawn-31-3.png")
    assert classes["label"] == "3"
    _, guess, sentence = complete_tab.completion_preview(shelf.bundled("mnist"), "MNIST", str(OTHERS / "face-0.png"), 14,
                                                     shelf.bundled("mnist-reader"))
    assert guess is None and "not a digit" in sentence and "pick the Class yourself" in sentence


def test_an_unsure_reading_leaves_the_class_alone():
    model, reader = shelf.bundled("mnist"), shelf.bundled("mnist-reader")
    _, guess, sentence = complete_tab.completion_preview(model, "MNIST", str(DRAWN / "drawn-80-8.png"), 14, reader)  # a thin, open 8
    assert guess is None and "not sure: maybe 8 (p = 0.53)" in sentence and "pick the Class yourself" in sentence
    _, seven, sentence = complete_tab.completion_preview(model, "MNIST", str(EXAMPLES / "mnist-test-7.png"), 14, reader)
    assert seven == "7" and "**7** (p = " in sentence and "change the Class to steer it" in sentence


def test_mnist_is_drawn_by_its_two_stage_model_and_read_by_its_reader():
    labels = ("MNIST", shelf.sketch_first("MNIST"), shelf.reader_of("MNIST"))
    models = {label: shelf.bundled(shelf.MODELS[label]) for label in labels}
    both = shelf.Shelf(models, [])
    assert both.drawer("MNIST") is models[labels[1]] and both.reader("MNIST") is models[labels[2]]
    drawn = both.drawing()  # what the engine measures at start-up: the reader never draws
    assert any(m is models[labels[1]] for m in drawn) and not any(m is models[labels[2]] for m in drawn)
    del models[labels[2]]
    assert shelf.Shelf(models, []).reader("MNIST") is models[labels[1]]  # no reader loaded: the drawer reads
