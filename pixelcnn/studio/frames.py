"""Frames of a drawing as the page shows it: the growing grid (undrawn pixels dark blue, the one
being drawn orange, a sketch showing through), each stage played at its share of the pace, with
the chart of what the model believed; the finished drawing keeps every belief, so that a clicked
pixel can be charted. The drawing itself is a request to the page's one engine (`CROWD`), which
draws it in a batch with whoever else is drawing; a visitor's thread only cuts frames from its
canvas by the visitor's own clock, and sleeps in between."""

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from pixelcnn.engine.crowd import Crowd, Ticket
from pixelcnn.engine.process import Engine, page_engine
from pixelcnn.engine.record import drawn_logits
from pixelcnn.sampling.cohort import seed_or_new
from pixelcnn.sampling.stages import Plan
from pixelcnn.studio.grids import grid_shape, render, render_sketch, sketch_picture
from pixelcnn.studio.palette import MARK
from pixelcnn.studio.watch import FPS, Beliefs, chart_for, pixel_chart, shown_at

FRAME_SECONDS = 0.1  # as fast as possible: at most 10 frames a second, so that sending frames leaves the sampler its CPU
FRAME_BUDGET = 20  # frames a second the page sends all its visitors together, at most (each costs the server about 20 ms of CPU)
WAIT_SHOWN = 0.5  # a request that has waited this long for the machine is told how much longer
CROWD = page_engine()  # the page's one engine, in a process of its own: every drawing tab's requests share its batches
WATCHING: set = set()  # the drawings being shown now
SKETCH_SHARE = 0.25  # of a watchable pace, the share the sketch stage is shown for


@dataclass
class Drawing:
    """A finished drawing as the page showed it, with what the model believed about every pixel:
    enough to chart any pixel a visitor clicks."""

    beliefs: Beliefs
    canvas: torch.Tensor  # (N, C, H, W) ints
    columns: int
    scale: int

    def chart_at(self, x_px, y_px) -> tuple[Image.Image, Image.Image]:
        """A click at (x, y) screen pixels of the grid -> (the grid with that pixel outlined, the chart
        of that pixel), or a ValueError."""
        image, row, col = self.pixel_at(x_px, y_px)
        grid = render(self.canvas, self.beliefs.levels, self.canvas[0].numel(), self.columns, self.scale)
        pixels = np.array(grid)
        _, _, h, w = self.canvas.shape
        top = (1 + (image // self.columns) * (h + 1) + row) * self.scale
        left = (1 + (image % self.columns) * (w + 1) + col) * self.scale
        ring = max(1, self.scale // 4)
        box = pixels[top - ring : top + self.scale + ring, left - ring : left + self.scale + ring]
        inside = box[ring:-ring, ring:-ring].copy()
        box[:] = MARK
        box[ring:-ring, ring:-ring] = inside
        return Image.fromarray(pixels), pixel_chart(self.beliefs, self.canvas, image, row, col)

    def pixel_at(self, x_px, y_px) -> tuple[int, int, int]:
        """(x, y) screen pixels of the grid -> (image, row, col), or a ValueError."""
        n, _, h, w = self.canvas.shape
        try:
            x, y = int(x_px) // self.scale - 1, int(y_px) // self.scale - 1  # the grid's own pixels, past its first gap
        except (TypeError, ValueError):
            raise ValueError("Click a pixel of a finished image.") from None
        image = (y // (h + 1)) * self.columns + x // (w + 1)
        row, col = y % (h + 1), x % (w + 1)
        if x < 0 or y < 0 or x // (w + 1) >= self.columns or image >= n or row == h or col == w:
            raise ValueError("That is between the images; click a pixel of one of them.")
        return image, row, col


@dataclass
class Ask:
    """What a visitor asked to be drawn: n images of `model`, their condition (labels, a face's
    cond, a given spatial cond_map, or none), pixels to keep (known, known_mask), and each stage's
    settings; a two-stage model's sketch may be given. The seed is made once, here, so that the
    frames, the engine and the plan agree."""

    model: object
    n: int
    labels: torch.Tensor | None = None
    cond: torch.Tensor | None = None
    cond_map: torch.Tensor | None = None
    known: torch.Tensor | None = None
    known_mask: torch.Tensor | None = None
    temperature: float = 1.0
    seed: int | None = None
    guidance: float = 0.0
    sketch: torch.Tensor | None = None
    sketch_guidance: float | None = None
    sketch_temperature: float | None = None
    no_condition: bool = False

    def __post_init__(self):
        self.seed = seed_or_new(self.seed)

    @property
    def plan(self) -> Plan:
        return Plan.of(self.model, self.seed, self.guidance, self.temperature, self.sketch_guidance, self.sketch_temperature,
                       sketch_given=self.sketch is not None)

    def tickets(self, crowd, detail: Beliefs, rough: Beliefs | None) -> list:
        """Submit it to the crowd -> [(stage, ticket)], the engine recording each stage's beliefs."""
        condition = dict(labels=self.labels, cond=self.cond, temperature=self.temperature, seed=self.seed, guidance=self.guidance,
                         no_condition=self.no_condition, count_bits=not self.no_condition, known=self.known, known_mask=self.known_mask)
        if not self.model.STAGED:
            return [("image", crowd.submit(self.model, self.n, **condition, cond_map=self.cond_map, on_logits=detail.record))]
        return crowd.stages(self.model, self.n, **condition, sketch=self.sketch, sketch_guidance=self.sketch_guidance,
                            sketch_temperature=self.sketch_temperature, on_logits=detail.record, on_sketch_logits=rough.record)


@dataclass
class Frame:
    image: Image.Image
    status: str
    done: bool
    belief: Image.Image | None = None  # the chart of the marked sub-pixel's distribution
    drawing: Drawing | None = None  # with the last frame: the finished drawing, to chart a clicked pixel


@dataclass
class View:
    """How one stage of a drawing is shown: its picture at `shown` sub-pixels, its chart, its share
    of the pace, and the sub-pixels given up front (shown at once)."""

    picture: Callable[[torch.Tensor, int], Image.Image]
    beliefs: Beliefs
    words: str  # what is being drawn, for the status line
    pace: float
    given: int = 0


def waiting(ticket: Ticket, picture: Callable[[], Image.Image], note: str) -> Iterator[Frame]:
    """While a request waits for the machine: a frame that says for about how long, every second."""
    while not ticket.begun.wait(max(0.0, ticket.submitted + WAIT_SHOWN - time.monotonic())):
        yield Frame(picture(), f"{note}Waiting for the machine: it is drawing for other visitors; yours starts in about "
                    f"{max(ticket.wait, 1):.0f} s.", False)
        ticket.begun.wait(1.0)


def play(ticket: Ticket, view: View, guidance: float, status: Callable[[str, int, int], str], interval: Callable[[], float]) -> Iterator[Frame]:
    """One stage's frames at its pace, cut from the ticket's canvas by this visitor's clock: the
    engine draws it (with others' drawings) at full speed, and between frames this thread only
    sleeps. Returns the stage's finished canvas."""
    start = time.perf_counter()
    while True:
        shown_from = time.perf_counter()
        canvas, done = ticket.snapshot()
        if ticket.error is not None:
            raise ticket.error
        if canvas is None or ticket.cancelled:
            raise ValueError("The drawing was stopped.")
        if done == 0:  # the first frame shows a drawn sub-pixel, and its chart: a step away
            ticket.finished.wait(0.002)
            continue
        shown = shown_at(shown_from - start, view.pace, done, ticket.total, view.given)
        if shown >= ticket.total:
            return canvas
        yield Frame(view.picture(canvas, shown), status(view.words, shown, ticket.total), False, chart_for(view.beliefs, canvas, shown, guidance))
        # The next frame one interval after this one began (the time it took to make and send counts).
        pause = max(0.0, shown_from + interval() - time.perf_counter())
        if ticket.finished.is_set():
            time.sleep(pause)  # the drawing is done: the rest is shown at the pace
        else:
            ticket.finished.wait(pause)  # sleeps holding no compute; wakes early when the drawing is done


def drawn_bits(model, tickets: list, sketch, labels, cond) -> float:
    """Bits per sub-pixel the model gives the drawn images, on average: the nats each stage added up
    as it drew (no forward pass afterwards: at the end of a crowd's drawings that would be one per
    visitor at once); a two-stage model's sketch and detail bits over the image's sub-pixels, a
    given sketch's bits worked out from it."""
    nats = sum(ticket.nats for ticket in tickets)
    if model.STAGED and sketch is not None:
        sketch = torch.as_tensor(sketch)
        with torch.no_grad():
            given = model.sketch.bits_per_dim(sketch, labels=labels, cond=cond).double()
        nats = nats + given * math.log(2) * sketch[0].numel()
    return (nats.mean() / (math.log(2) * tickets[-1].total)).item()


def redo(ask: Ask, canvas: torch.Tensor, sketch) -> Callable[[int], torch.Tensor]:
    """A finished drawing's image -> the logits it was drawn from, worked out again when a visitor clicks it
    (a two-stage model's map from its sketch; a one-stage model's given map)."""
    model = ask.model
    drawer = model.detail if model.STAGED else model

    def logits(image: int) -> torch.Tensor:
        def pick(t):
            return None if t is None else torch.as_tensor(t)[image : image + 1]

        image_map = ask.plan.detail_map(pick(sketch)) if model.STAGED else pick(ask.cond_map)
        return drawn_logits(drawer, canvas[image : image + 1], pick(ask.labels), pick(ask.cond), image_map, ask.guidance, ask.no_condition)[0]

    return logits


def frame_interval(pace: float) -> float:
    """Seconds between a visitor's frames: FPS a second at a watchable pace (as fast as possible:
    at most every FRAME_SECONDS), fewer each when many watch at once, so that rendering frames
    never takes more than FRAME_BUDGET frames a second from the machine that draws them."""
    return max(1 / FPS if pace else FRAME_SECONDS, len(WATCHING) / FRAME_BUDGET)


def stream(ask: Ask, pace: float = 0.0, note: str = "", given: int = 0, crowd: Crowd | Engine | None = None, width_px: int = 560) -> Iterator[Frame]:
    """Frames of a growing grid, each with the chart of what the model believed about the marked
    sub-pixel of the first image; the last frame with bits/dim. The drawing is one request to
    `crowd` (the page's shared engine by default), drawn at full speed in a batch with whoever
    else is drawing. pace: seconds to spread the drawing over, at FPS frames a second (0: a
    frame whenever one is ready, at most one every FRAME_SECONDS). given: sub-pixels kept from an
    upload (a completion's rows), shown at once. A two-stage model draws its sketch first (unless
    the ask gives one), then the detail, each as `ask.plan` says."""
    crowd, model, n, plan = crowd or CROWD, ask.model, ask.n, ask.plan
    h, w = model.image_size
    columns = grid_shape(n)
    scale = max(2, width_px // (columns * (w + 1)))
    start = time.perf_counter()
    detail = Beliefs((model.image_channels, h, w), model.levels, ask.temperature)
    underlay, unit = None, "pixels" if model.image_channels == 1 else "colour values"

    def status(words, shown, total):
        return (f"{note}Drawing{' ' + words if words else ''}… {100 * shown / total:.0f}% ({shown:,} of {total:,} {unit}), "
                f"{time.perf_counter() - start:.1f} s")

    if model.STAGED:
        rough = Beliefs((model.image_channels, *model.sketch.image_size), model.sketch.levels,
                        ask.temperature if ask.sketch_temperature is None else ask.sketch_temperature, "sketch cell")
        kept_rows = given // (model.image_channels * w)  # a completion's kept rows: the sketch's rows they cover in full are kept too
        views = {"sketch": View(lambda canvas, shown: render_sketch(model, canvas, shown, columns, scale), rough, "the sketch",
                                pace * SKETCH_SHARE, kept_rows // model.factor * model.image_channels * (w // model.factor)),
                 "detail": View(lambda canvas, shown: render(canvas, model.levels, shown, columns, scale, underlay), detail,
                                "the detail over the sketch", pace * (1 - SKETCH_SHARE) if ask.sketch is None else pace, given)}
        if ask.sketch is not None:
            underlay = sketch_picture(model, ask.sketch)
    else:
        rough = None
        views = {"image": View(lambda canvas, shown: render(canvas, model.levels, shown, columns, scale), detail, "", pace, given)}
    tickets = ask.tickets(crowd, detail, rough)
    outline = ask.sketch  # a two-stage drawing's sketch, given or (below) drawn
    token = object()
    WATCHING.add(token)
    try:
        for stage, ticket in tickets:
            blank = torch.zeros((n, model.image_channels, *plan[stage].model.image_size), dtype=torch.long)
            yield from waiting(ticket, lambda: views[stage].picture(blank, 0), note)
            canvas = yield from play(ticket, views[stage], plan[stage].guidance, status, lambda: frame_interval(pace))
            if stage == "sketch":
                underlay, outline = sketch_picture(model, canvas), canvas
    finally:
        WATCHING.discard(token)
        for _, ticket in tickets:
            ticket.cancel()  # a visitor who leaves (or presses Stop) leaves the batch; a finished drawing is not affected
    detail.redo = redo(ask, canvas, outline)
    detail.record = detail.record.copied()  # kept with the drawing: no longer shared with the engine's process
    bits = None if ask.no_condition else drawn_bits(model, [t for _, t in tickets], ask.sketch, ask.labels, ask.cond)
    yield last_frame(model, Drawing(detail, canvas, columns, scale), time.perf_counter() - start, pace, bits, ask.guidance, note)


def last_frame(model, drawing: Drawing, elapsed: float, pace: float, bits: float | None, guidance: float, note: str) -> Frame:
    """The finished drawing's frame: how long it took, the bits/dim the model gives it (if it drew with a condition)."""
    canvas, n = drawing.canvas, len(drawing.canvas)
    timing = f"{elapsed:.2f} s" if not pace else f"{elapsed:.1f} s at a watchable pace"
    bits = "" if bits is None else (f"; how surprising the model finds them: {bits:.3f} bits per pixel (lower = more typical of what it "
                                    "learnt from)")
    return Frame(render(canvas, model.levels, canvas[0].numel(), drawing.columns, drawing.scale),
                 f"{note}Done: {n} image{'s' * (n > 1)} in {timing}{bits}. Click a pixel to see what the model believed about it.", True,
                 chart_for(drawing.beliefs, canvas, canvas[0].numel(), guidance), drawing)
