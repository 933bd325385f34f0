"""Pictures brought into a dataset's form: polarity, transparency, crop, scale, stroke, centre."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixelcnn.pictures.reading import STROKE, model_input, stroke_width


def pad_drawing(width: int, box=(40, 30, 150, 170), background="white", ink="black", mode="RGB") -> Image.Image:
    """A "7" drawn on a 196x196 pad with a round pen `width` pixels wide, off centre."""
    picture = Image.new(mode, (196, 196), background)
    draw = ImageDraw.Draw(picture)
    left, top, right, bottom = box
    draw.line([(left, top), (right, top), (left + 30, bottom)], fill=ink, width=width, joint="curve")
    return picture


def ink_box(digit: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero((digit > 0).any(1)), np.flatnonzero((digit > 0).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("pen", [6, 14, 30])
def test_a_pad_drawing_is_laid_out_like_an_mnist_digit(pen):
    digit = model_input(pad_drawing(pen), 1, (28, 28), "mnist")[0]
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit[0].max() == digit[-1].max() == digit[:, 0].max() == digit[:, -1].max() == 0  # light on dark, black border
    assert max(ink_box(digit)) in (19, 20, 21)  # the longer side fills MNIST's 20x20 box
    weights = digit.astype(float)
    centre = (np.indices(digit.shape) * weights).reshape(2, -1).sum(1) / weights.sum()
    assert np.abs(centre - 13.5).max() <= 1.0  # centred by its centre of mass
    assert 1.0 <= stroke_width(digit > 127) <= STROKE + 1.0  # thin pen or thick, strokes come out near MNIST's width


def test_dark_on_light_light_on_dark_and_transparent_drawings_agree():
    on_white = model_input(pad_drawing(14), 1, (28, 28), "mnist")
    on_black = model_input(pad_drawing(14, background="black", ink="white"), 1, (28, 28), "mnist")
    transparent = model_input(pad_drawing(14, background=(0, 0, 0, 0), ink=(0, 0, 0, 255), mode="RGBA"), 1, (28, 28), "mnist")
    assert np.abs(on_white.astype(int) - on_black).max() <= 2 and np.array_equal(on_white, transparent)


def test_a_stroke_touching_its_crop_is_measured_as_a_stroke():
    line = np.zeros((80, 12), dtype=bool)
    line[:, :] = True  # a 12-pixel-wide bar that fills its crop, as a tight crop of a drawn "1" does
    assert stroke_width(line) == pytest.approx(12 * 80 * 2 / (2 * 80 + 2 * 12 - 4), rel=0.05)
    one = Image.new("L", (196, 196), 255)
    ImageDraw.Draw(one).line([(98, 10), (98, 185)], fill=0, width=26)
    digit = model_input(one, 1, (28, 28), "mnist")[0]
    assert ink_box(digit)[0] == 20  # the whole stroke, not an eroded stub


def test_a_garment_photo_fills_the_frame_and_photos_are_resized_whole():
    photo = Image.new("RGB", (300, 200), (250, 250, 250))
    ImageDraw.Draw(photo).rectangle([100, 20, 200, 180], fill=(40, 60, 90))  # a dark garment, taller than wide, on white
    garment = model_input(photo, 1, (28, 28), "fashion-mnist")[0]
    assert ink_box(garment)[0] == 28 and garment[14, 14] > 150  # fills the frame's height; light on dark
    face = model_input(photo, 1, (32, 32), "orl-faces")[0]
    assert face.shape == (32, 32)
