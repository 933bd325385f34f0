"""The page's colours, once: the drawing grids, the belief charts and the legends use them."""

import numpy as np
from PIL import Image

UNDRAWN = np.array([28, 32, 56], dtype=np.uint8)  # a dark blue: pixels the model has not drawn yet
CURSOR = np.array([255, 140, 0], dtype=np.uint8)  # orange: the sub-pixel being drawn, and the value drawn in a chart
MARK = np.array([0, 200, 255], dtype=np.uint8)  # cyan: the outline of a pixel a visitor clicked
UNSEEN = np.array([200, 40, 60], dtype=np.uint8)  # red: above or to the left, yet out of a prediction's sight
BAR = (150, 156, 180)  # a chart's bars


def css(colour) -> str:
    """An RGB colour -> its CSS hex, for the page's legends."""
    return "#" + "".join(f"{int(v):02x}" for v in colour)


def without_cursor(picture):
    """A grid's picture (PIL) -> a copy with the cursor's orange turned to the not-yet-drawn blue: a
    stopped drawing shows nothing that looks as if it were still drawing."""
    pixels = np.array(picture.convert("RGB"))
    pixels[(pixels == CURSOR).all(axis=2)] = UNDRAWN
    return Image.fromarray(pixels)
