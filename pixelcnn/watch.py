"""Watching a drawing: frames at a pace a person can follow, and what the model believed.

The sampler always runs at full speed; a pace only spreads the frames over a few seconds.
Because a PixelCNN draws in raster order, the frame at any moment is the latest canvas with
everything past the shown sub-pixel hidden, so pacing never waits on the sampler nor changes
what it draws.
"""

import math
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

# Label on the page -> seconds the drawing is spread over (0: each frame as soon as it is ready).
PACES = {"Watchable (about 6 s)": 6.0, "As fast as possible": 0.0}
DEFAULT_PACE = next(iter(PACES))
FPS = 20  # frames a second at a watchable pace
BAR = (150, 156, 180)  # the chart's bars
DRAWN = (255, 140, 0)  # the value drawn: the same orange as the pixel being drawn on the grid


def parse_pace(pace) -> float:
    """The Pace control's value -> seconds to spread the drawing over, or a ValueError."""
    if pace in PACES:
        return PACES[pace]
    raise ValueError(f"Pace must be one of: {', '.join(PACES)}; not {pace!r}.")


def shown_at(elapsed: float, pace: float, done: int, total: int, given: int = 0) -> int:
    """Sub-pixels to show `elapsed` seconds into a drawing spread over `pace` seconds, of which
    the sampler has finished `done` of `total` (never more than it has finished); the first
    `given` sub-pixels (kept from an upload) are shown at once and the pace spreads the rest."""
    if not pace:
        return done
    return min(done, total, given + int((total - given) * elapsed / pace))


class Beliefs:
    """The distribution each sub-pixel of the first image was drawn from, kept as a sampler's
    `on_logits` hook sees it (guided, before the temperature)."""

    def __init__(self, shape: tuple[int, int, int], levels: int, temperature: float = 1.0):
        self.channels, _, self.width = shape
        self.temperature = temperature
        self.logits = torch.zeros(math.prod(shape), levels)
        self.count = 0  # sub-pixels recorded so far, in raster order

    def __call__(self, channel, row, col, logits):
        index = (row * self.width + col) * self.channels + channel
        self.logits[index] = logits[0].float()
        self.count = max(self.count, index + 1)

    def position(self, index: int) -> tuple[int, int, int]:
        """Sub-pixel index in raster order -> (channel, row, col)."""
        pixel, channel = divmod(index, self.channels)
        return channel, pixel // self.width, pixel % self.width

    def probabilities(self, index: int) -> np.ndarray:
        """(levels,) the probabilities sub-pixel `index` was drawn from (temperature applied)."""
        return torch.softmax(self.logits[index].double() / self.temperature, 0).numpy()


def entropy_bits(probs: np.ndarray) -> float:
    nonzero = probs[probs > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


@lru_cache(maxsize=None)
def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # loaded once: a chart is drawn for every frame


def belief_chart(probs: np.ndarray, drawn: int, title: str, how: str = "", width: int = 360, height: int = 170) -> Image.Image:
    """A bar chart of one sub-pixel's distribution over its intensity levels: the drawn value in
    orange, its entropy in bits under the title."""
    levels = len(probs)
    image = Image.new("RGB", (width, height), (250, 250, 252))
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 10, width - 10, 40, height - 22
    draw.text((left, 4), title, fill=(20, 20, 30), font=font(13))
    words = f"{how + ' · ' if how else ''}entropy {entropy_bits(probs):.2f} bits · drew {drawn} (p = {probs[drawn]:.2f})"
    draw.text((left, 21), words, fill=(70, 70, 90), font=font(11))
    tallest = max(float(probs.max()), 1e-12)
    step = (right - left) / levels
    for level, p in enumerate(probs):
        x0 = left + level * step
        bar = (bottom - top) * p / tallest
        if bar >= 0.5 or level == drawn:
            draw.rectangle([x0, bottom - max(bar, 1), x0 + max(step - (step > 2), 1), bottom], fill=DRAWN if level == drawn else BAR)
    x = left + (drawn + 0.5) * step
    draw.polygon([(x - 5, bottom + 9), (x + 5, bottom + 9), (x, bottom + 2)], fill=DRAWN)  # a marker under the drawn value
    draw.line([left, bottom, right, bottom], fill=(120, 120, 130))
    draw.text((left, bottom + 8), "0 (black)", fill=(90, 90, 100), font=font(11))
    draw.text((right - 70, bottom + 8), f"{levels - 1} (white)", fill=(90, 90, 100), font=font(11))
    draw.text((right - 95, top - 2), f"tallest: p = {tallest:.2f}", fill=(90, 90, 100), font=font(11))
    return image


def chart_for(beliefs: Beliefs, canvas: torch.Tensor, shown: int, guidance: float = 0.0) -> Image.Image | None:
    """The chart of the sub-pixel of the first image the frame marks (the one being drawn, or the
    last one drawn when the sampler has not got further), or None before anything is drawn."""
    index = min(shown, beliefs.count - 1)
    if index < 0:
        return None
    channel, row, col = beliefs.position(index)
    colour = f", {'RGB'[channel]}" if beliefs.channels == 3 else ""
    title = f"The orange pixel of image 1 (row {row + 1}, column {col + 1}{colour})"
    how = f"p(intensity), guided w = {guidance:g}" if guidance else "p(intensity)"
    return belief_chart(beliefs.probabilities(index), int(canvas[0, channel, row, col]), title, how)
