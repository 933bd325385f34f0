"""Watching a drawing: frames at a pace a person can follow, and what the model believed.

The sampler always runs at full speed; a pace only spreads the frames over a few seconds.
Because a PixelCNN draws in raster order, the frame at any moment is the latest canvas with
everything past the shown sub-pixel hidden, so pacing never waits on the sampler nor changes
what it draws.
"""

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from pixelcnn.engine.record import LogitsRecord
from pixelcnn.studio.palette import BAR, CURSOR

# Label on the page -> seconds the drawing is spread over (0: each frame as soon as it is ready).
PACES = {"Watchable (about 6 s)": 6.0, "As fast as possible": 0.0}
DEFAULT_PACE = next(iter(PACES))
FPS = 20  # frames a second at a watchable pace
DRAWN = tuple(int(v) for v in CURSOR)  # the value drawn: the same orange as the pixel being drawn on the grid


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


HESITATION = 0.5  # bits: a sub-pixel drawn with more uncertainty than this is one the model hesitated over
STRIP = 120  # sub-pixels in the chart's strip of recent uncertainties
WIDTH, HEIGHT = 360, 170  # the chart's size in pixels


class Beliefs:
    """What the model believed about each sub-pixel of a drawing, and what the charts make of it: the
    first image's as the sampler's `on_logits` hook `record` (a `LogitsRecord`) keeps it while it
    draws (the live chart), any other image's worked out again by `redo` when a visitor clicks it
    (keeping every image's logits while drawing cost the engine a tenth of its time)."""

    def __init__(self, shape: tuple[int, int, int], levels: int, temperature: float = 1.0, name: str = "pixel"):
        self.channels, self.height, self.width = shape
        self.levels = levels
        self.name = name  # what the chart calls a sub-pixel ("pixel", "sketch cell")
        self.temperature = temperature
        self.record = LogitsRecord(shape, levels)
        self.redo: Callable[[int], torch.Tensor] | None = None  # image -> its (sub-pixels, levels) logits, once drawn
        self.redone: dict[int, torch.Tensor] = {}
        self.first_bits = np.zeros(0)  # the first image's uncertainties, as far as worked out
        self.last_chart: tuple = (None, None)  # (what it shows, the chart) of the latest frame

    def __call__(self, channel, row, col, logits):
        self.record(channel, row, col, logits)

    @property
    def first(self) -> torch.Tensor:
        return self.record.first

    @property
    def count(self) -> int:
        """Sub-pixels of the first image recorded so far, in raster order."""
        return self.record.count

    def logits(self, image: int) -> torch.Tensor:
        """(sub-pixels, levels) the logits `image` was drawn from."""
        if image == 0:
            return self.first
        if image not in self.redone:
            if self.redo is None:
                raise ValueError("That image is still being drawn: click it once the drawing is done.")
            self.redone[image] = self.redo(image)
        return self.redone[image]

    def position(self, index: int) -> tuple[int, int, int]:
        """Sub-pixel index in raster order -> (channel, row, col)."""
        pixel, channel = divmod(index, self.channels)
        return channel, pixel // self.width, pixel % self.width

    def probabilities(self, index: int, image: int = 0) -> np.ndarray:
        """(levels,) the probabilities sub-pixel `index` of `image` was drawn from (temperature applied)."""
        return torch.softmax(self.logits(image)[index].double() / self.temperature, 0).numpy()

    def entropies(self, upto: int, image: int = 0) -> np.ndarray:
        """(upto,) bits of uncertainty of the first `upto` (recorded) sub-pixels of `image`. The first
        image's are kept as they are worked out: each frame's chart adds only the new ones."""
        if image:
            return self.bits_of(self.logits(image)[:upto])
        if upto > len(self.first_bits):
            self.first_bits = np.concatenate([self.first_bits, self.bits_of(self.first[len(self.first_bits) : upto])])
        return self.first_bits[:upto]

    def bits_of(self, logits: torch.Tensor) -> np.ndarray:
        log_p = torch.log_softmax(logits.double() / self.temperature, 1)
        return (-(log_p.exp() * log_p).sum(1) / math.log(2)).clamp_(min=0).numpy()


def entropy_bits(probs: np.ndarray) -> float:
    nonzero = probs[probs > 0]
    return float(-(nonzero * np.log2(nonzero)).sum())


@lru_cache(maxsize=None)
def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # loaded once: a chart is drawn for every frame


@lru_cache(maxsize=None)
def glyph(character: str, size: int, fill: tuple) -> tuple[Image.Image, float]:
    """One character in the chart's font on a transparent ground, and how far it advances the pen."""
    face = font(size)
    advance = face.getlength(character)
    image = Image.new("RGBA", (int(advance) + 3, face.getbbox("Ag|")[3] + 1), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((0, 0), character, fill=fill, font=face)
    return image, advance


@lru_cache(maxsize=4096)
def label(text: str, size: int, fill: tuple) -> Image.Image:
    """`text` in the chart's font, on a transparent ground, set from glyphs rendered once: a chart is
    drawn for every frame, and a new string rendered whole took a millisecond or more (numbers
    and positions change from frame to frame, the characters do not)."""
    glyphs = [glyph(character, size, fill) for character in text]
    width = int(sum(advance for _, advance in glyphs)) + 3
    image = Image.new("RGBA", (max(width, 1), glyphs[0][0].height if glyphs else 1), (0, 0, 0, 0))
    x = 0.0
    for picture, advance in glyphs:
        image.alpha_composite(picture, (int(round(x)), 0))
        x += advance
    return image


def write(image: Image.Image, xy: tuple[float, float], text: str, fill: tuple, size: int) -> None:
    words = label(text, size, fill)
    image.paste(words, (int(xy[0]), int(xy[1])), words)


@lru_cache(maxsize=1024)
def wrapped(text: str, size: int, width: float, lines: int = 2) -> tuple[str, ...]:
    """`text` cut at spaces into at most `lines` lines that fit `width` pixels in the chart's font
    (the last line takes what is left): on a phone, one line of "following the class (guidance
    0.75): it thought ..." ran off the chart's right edge."""
    face, out = font(size), [""]
    for word in text.split(" "):
        longer = f"{out[-1]} {word}" if out[-1] else word
        if face.getlength(longer) <= width or not out[-1] or len(out) == lines:
            out[-1] = longer
        else:
            out.append(word)
    return tuple(out)  # cached, like `label`: the chart is drawn for every frame


def bars(pixels: np.ndarray, box: tuple[int, int, int], x0: np.ndarray, x1: np.ndarray, heights: np.ndarray, colour) -> None:
    """Fill bars [x0, x1] (pixel columns, inclusive, up to the box's right) of `heights` pixels up
    from the box's bottom, in one array operation (a chart is drawn for every frame: a Python loop
    of rectangles held the interpreter for milliseconds while the engine waited)."""
    top, right, bottom = box
    x0, x1 = np.clip(np.floor(x0).astype(int), 0, right), np.clip(np.floor(x1).astype(int), 0, right)
    column = np.zeros(right + 1)
    for offset in range(int((x1 - x0).max(initial=0)) + 1):  # a few columns per bar
        inside = x0 + offset <= x1
        np.maximum.at(column, x0[inside] + offset, heights[inside])
    rows = np.arange(top, bottom + 1)[:, None]
    fill = (column[None, :] > 0) & (rows >= bottom - np.ceil(column[None, :]))
    pixels[top : bottom + 1, : right + 1][fill] = colour


def belief_chart(probs: np.ndarray, drawn: int, title: str, how: str = "", recent: np.ndarray | None = None) -> Image.Image:
    """A bar chart of one sub-pixel's distribution over its intensity levels, the drawn value in
    orange, in plain words; under it, when `recent` (bits) is given, a strip of the uncertainty of
    the latest sub-pixels drawn (the charted one last, in orange)."""
    levels = len(probs)
    pixels = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    pixels[:] = (250, 250, 252)
    left, right, bottom = 10, WIDTH - 10, 104
    words = wrapped(f"{how + ': ' if how else ''}{choice_words(probs, drawn)}", 11, right - left)
    top = 40 + 13 * (len(words) - 1)  # a second line of words takes 13 pixels from the bars
    tallest = max(float(probs.max()), 1e-12)
    step = (right - left) / levels
    x0 = left + np.arange(levels) * step - 1
    x1 = x0 + max(step - (step > 2), 1) + 2  # at least 3 pixels wide, so that a lone likely value shows
    heights = (bottom - top) * probs / tallest
    shown = heights >= 0.5
    shown[drawn] = False
    bars(pixels, (top, right, bottom), x0[shown], x1[shown], heights[shown], BAR)
    bars(pixels, (top, right, bottom), x0[drawn : drawn + 1], x1[drawn : drawn + 1], np.maximum(heights[drawn : drawn + 1], 1), DRAWN)
    if recent is not None and len(recent):
        strip_top, strip_bottom = 140, HEIGHT - 4
        latest = np.asarray(recent[-STRIP:], dtype=float)
        width = (right - left) / STRIP
        starts = right - (len(latest) - np.arange(len(latest))) * width
        heights = np.maximum((strip_bottom - strip_top) * np.minimum(latest, 4.0) / 4.0, 1)  # 4 bits fill the strip
        box = (strip_top, right, strip_bottom)
        bars(pixels, box, starts[:-1], starts[:-1] + max(width - 1, 1), heights[:-1], BAR)
        bars(pixels, box, starts[-1:], starts[-1:] + max(width - 1, 1), heights[-1:], DRAWN)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    write(image, (left, 4), title, (20, 20, 30), 13)
    for k, line in enumerate(words):
        write(image, (left, 21 + 13 * k), line, (70, 70, 90), 11)
    x = left + (drawn + 0.5) * step
    draw.polygon([(x - 5, bottom + 9), (x + 5, bottom + 9), (x, bottom + 2)], fill=DRAWN)  # a marker under the drawn value
    draw.line([left, bottom, right, bottom], fill=(120, 120, 130))
    write(image, (left, bottom + 8), "black", (90, 90, 100), 11)
    write(image, (right - 35, bottom + 8), "white", (90, 90, 100), 11)
    write(image, (right - 95, top - 2), f"tallest: p = {tallest:.2f}", (90, 90, 100), 11)
    if recent is not None and len(recent):
        write(image, (left, 125), "how unsure it was, pixel by pixel (latest on the right)", (90, 90, 100), 11)
    return image


SHADES = ((0.1, "black"), (0.35, "a dark grey"), (0.65, "a mid grey"), (0.9, "a light grey"), (1.01, "white"))


def shade(value: int, levels: int) -> str:
    """An intensity level in words: "black", "a dark grey", ..., "white" (any number of levels)."""
    fraction = value / max(levels - 1, 1)
    return next(words for top, words in SHADES if fraction < top)


def choice_words(probs: np.ndarray, drawn: int) -> str:
    """What the model thought and what it drew, in words, e.g. "it thought black most likely and drew a
    light grey, a 1-in-50 choice"."""
    levels, top = len(probs), int(np.argmax(probs))
    p = float(probs[drawn])
    if drawn == top or shade(drawn, levels) == shade(top, levels):
        odds = "it was sure" if p >= 0.9 else f"a {round(100 * p)}-in-100 choice"
        return f"it thought {shade(top, levels)} most likely and drew {shade(drawn, levels)}: {odds}"
    odds = f"a 1-in-{round(1 / p):,} choice" if p >= 1e-4 else "a less than 1-in-10,000 choice"
    return f"it thought {shade(top, levels)} most likely and drew {shade(drawn, levels)}, {odds}"


def placeholder_chart() -> Image.Image:
    """What the chart shows before the first drawing: what it will show."""
    image = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 252))
    draw = ImageDraw.Draw(image)
    lines = ["How sure was the model?", "", "While it draws, this chart shows the odds it gave",
             "each intensity of the last pixel it hesitated over,", "and a strip of how unsure it was, pixel by pixel.",
             "Click a finished image to see any of its pixels."]
    for k, line in enumerate(lines):
        draw.text((10, 14 + 22 * k if k else 10), line, fill=(20, 20, 30) if k == 0 else (70, 70, 90), font=font(13 if k == 0 else 12))
    return image


def last_hesitation(beliefs: Beliefs, shown: int) -> tuple[int, np.ndarray]:
    """(the latest sub-pixel of the first image, up to `shown`, drawn with more than HESITATION bits
    of uncertainty, or the latest drawn when none was, or -1 before any; the uncertainty in bits
    of every sub-pixel up to the latest drawn)."""
    current = min(shown, beliefs.count - 1)
    if current < 0:
        return -1, np.zeros(0)
    recent = beliefs.entropies(current + 1)
    hesitated = np.flatnonzero(recent > HESITATION)
    return (int(hesitated[-1]) if len(hesitated) else current), recent


def chart_for(beliefs: Beliefs, canvas: torch.Tensor, shown: int, guidance: float = 0.0) -> Image.Image | None:
    """The chart for a frame that shows `shown` sub-pixels: the latest one of the first image the
    model hesitated over (more than HESITATION bits; the latest drawn when it has not hesitated
    yet), or None before anything is drawn."""
    index, recent = last_hesitation(beliefs, shown)
    if index < 0:
        return None
    channel, row, col = beliefs.position(index)
    colour = f", {'RGB'[channel]}" if beliefs.channels == 3 else ""
    title = f"Image 1: the last {beliefs.name} it hesitated over (row {row + 1}, col {col + 1}{colour})"
    how = f"following the class (guidance {guidance:g})" if guidance else ""
    key = (index, int(canvas[0, channel, row, col]), how)
    if beliefs.last_chart[0] != key:  # the same sub-pixel as the last frame's: the same chart, not drawn again
        beliefs.last_chart = (key, belief_chart(beliefs.probabilities(index), key[1], title, how, recent[: index + 1]))
    return beliefs.last_chart[1]


def pixel_chart(beliefs: Beliefs, canvas: torch.Tensor, image: int, row: int, col: int, channel: int = 0) -> Image.Image:
    """The chart of one drawn sub-pixel of any recorded image (a click on a finished drawing)."""
    index = (row * beliefs.width + col) * beliefs.channels + channel
    colour = f", {'RGB'[channel]}" if beliefs.channels == 3 else ""
    title = f"Image {image + 1}, the {beliefs.name} you clicked (row {row + 1}, col {col + 1}{colour})"
    return belief_chart(beliefs.probabilities(index, image), int(canvas[image, channel, row, col]), title, "",
                        beliefs.entropies(index + 1, image))
