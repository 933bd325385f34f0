"""What the web page does, without the page: load models, check a request, stream frames.

Every function here raises `ValueError` with one sentence a person can act on when a request is
bad; the page turns that into a message and keeps serving.
"""

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .data import quantize, square_resize
from .explain import SURE, class_probabilities, reading
from .images import model_input, tile, to_uint8
from .model import GatedPixelCNN, PixelCNNBase
from .sampling import sample_stages, sample_stream
from .twostage import TwoStagePixelCNN
from .watch import DEFAULT_PACE, FPS, Beliefs, chart_for, parse_pace, pixel_chart, shown_at

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MAX_IMAGES = 16
MAX_TEMPERATURE = 3.0
MIN_TEMPERATURE = 0.05
MAX_GUIDANCE = 10.0
# Classifier-free guidance the page starts at, per model folder: the value that measured best
# (`python -m pixelcnn.evaluate`, see the model cards). Models without an unconditional branch get 0.
DEFAULT_GUIDANCE = {"mnist": 2.0, "fashion-mnist": 0.5, "portraits": 0.0, "mnist-sketch": 0.0, "fashion-mnist-sketch": 0.0,
                    "portraits-sketch": 0.0}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MIN_UPLOAD_SIDE = 8  # smaller pictures hold too little to complete, encode or classify
FRAME_SECONDS = 0.1  # as fast as possible: at most 10 frames a second, so that sending frames leaves the sampler its CPU
UNDRAWN = np.array([28, 32, 56], dtype=np.uint8)  # a dark blue: pixels the model has not drawn yet
CURSOR = np.array([255, 140, 0], dtype=np.uint8)  # the sub-pixel being drawn
DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist"}
PORTRAITS = "portraits"  # the folder (in assets/ or the Hub repo) of the face-conditioned model
SKETCH_FIRST = {"MNIST": "mnist-sketch", "Fashion-MNIST": "fashion-mnist-sketch", "Portraits": "portraits-sketch"}  # two-stage models
# A two-stage model's sketch-stage guidance the page starts at, per folder (its Guidance slider is the detail stage's).
DEFAULT_SKETCH_GUIDANCE = {"mnist-sketch": 3.0, "fashion-mnist-sketch": 3.0, "portraits-sketch": 0.0}
NO_CLASS = "None: follow the sketch only"  # the Sketch tab's class choice for the unconditional branch
NEW_POSE = "New pose: drawn from the face alone"
KEEP_LAYOUT = "Keep my photo's layout: its own 8x8 sketch, detail from the face"
LAYOUTS = (NEW_POSE, KEEP_LAYOUT)
AUTOENCODERS = {"PixelCNN": "autoencoder/pixelcnn-m10", "MSE": "autoencoder/mse-m10"}


@dataclass
class Drawing:
    """A finished drawing as the page showed it, with what the model believed about every pixel:
    enough to chart any pixel a visitor clicks."""

    beliefs: Beliefs
    canvas: torch.Tensor  # (N, C, H, W) ints
    columns: int
    scale: int

    def chart_at(self, x_px, y_px) -> Image.Image:
        """A click at (x, y) screen pixels of the grid -> the chart of that pixel, or a ValueError."""
        n, _, h, w = self.canvas.shape
        try:
            x, y = int(x_px) // self.scale - 1, int(y_px) // self.scale - 1  # the grid's own pixels, past its first gap
        except (TypeError, ValueError):
            raise ValueError("Click a pixel of a finished image.") from None
        image = (y // (h + 1)) * self.columns + x // (w + 1)
        row, col = y % (h + 1), x % (w + 1)
        if x < 0 or y < 0 or x // (w + 1) >= self.columns or image >= n or row == h or col == w:
            raise ValueError("That is between the images; click a pixel of one of them.")
        return pixel_chart(self.beliefs, self.canvas, image, row, col)


@dataclass
class Frame:
    image: Image.Image
    status: str
    done: bool
    belief: Image.Image | None = None  # the chart of the marked sub-pixel's distribution
    drawing: Drawing | None = None  # with the last frame: the finished drawing, to chart a clicked pixel


# -- requests -----------------------------------------------------------------------------------


def number(value, control: str, low: float, high: float, whole: bool = False, hint: str = "", allowed: str = "") -> float:
    """A request's value for the control labelled `control` -> a number in [low, high], or a
    ValueError that names the control, the allowed values, what was sent and what to do."""
    try:
        parsed = float(value)
    except (TypeError, ValueError, OverflowError):
        parsed = float("nan")
    if math.isfinite(parsed) and low <= parsed <= high and (not whole or parsed == int(parsed)):
        return int(parsed) if whole else parsed
    allowed = allowed or (f"a whole number from {low:g} to {high:g}" if whole else f"a number from {low:g} to {high:g}")
    sent = repr(value) if isinstance(value, str) else f"{value}"
    raise ValueError(f"{control} must be {allowed}, not {sent}{'; ' + hint if hint else ''}.")


def parse_count(count, control: str = "Images") -> int:
    return number(count, control, 1, MAX_IMAGES, whole=True, hint="move its slider")


def parse_temperature(temperature) -> float:
    return number(temperature, "Temperature", MIN_TEMPERATURE, MAX_TEMPERATURE, hint="1.0 samples the model as trained")


def default_guidance(folder: str, model: GatedPixelCNN, defaults: dict = DEFAULT_GUIDANCE) -> float:
    """The guidance the page starts at for the model saved in `folder` (0 when it cannot guide)."""
    return defaults.get(folder, 0.0) if model.guidable else 0.0


def parse_guidance(guidance, model: GatedPixelCNN, control: str = "Guidance") -> float:
    value = number(guidance, control, 0, MAX_GUIDANCE, hint="0 is off; higher values follow the class or person more closely")
    if value and not model.guidable:
        raise ValueError(f"This model was trained without conditioning dropout, so it cannot be guided; set {control} to 0.")
    return value


def parse_seed(seed) -> int | None:
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return None
    return number(seed, "Seed", 0, 2**63 - 1, whole=True, allowed="a whole number of 0 or more", hint="leave it blank for a random one")


def class_index(model: GatedPixelCNN, name, dataset: str) -> int:
    """A class name as the page or an API caller sends it (the digit 7 as "7" or 7) -> its label."""
    if isinstance(name, (int, float)) and not isinstance(name, bool) and math.isfinite(name) and name == int(name):
        name = str(int(name))
    if name in model.class_names:
        return model.class_names.index(name)
    raise ValueError(f"{dataset} has no class {name!r}; choose a Class from: {', '.join(model.class_names)}.")


def open_upload(path) -> Image.Image:
    """A user's uploaded file -> a still PIL image, or a ValueError that says what to do."""
    if path is None:
        raise ValueError("Upload an image first.")
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise ValueError("The uploaded file is empty; upload a PNG or JPEG image.")
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"The upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB; upload a smaller image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise ValueError(f"The image is {image.width}x{image.height} pixels; upload one under {MAX_UPLOAD_PIXELS // 10**6} megapixels.")
            if getattr(image, "n_frames", 1) > 1:
                raise ValueError("Animated images are not supported; upload a still PNG or JPEG.")
            if min(image.size) < MIN_UPLOAD_SIDE:
                raise ValueError(f"The image is only {image.width}x{image.height} pixels, too small to mean anything; "
                                 f"upload one at least {MIN_UPLOAD_SIDE} pixels a side (28x28 or larger works best).")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"The image is too large to open safely; upload one under {MAX_UPLOAD_PIXELS // 10**6} megapixels.") from None
    except UnidentifiedImageError:
        raise ValueError("The file is not an image we can read; upload a PNG or JPEG.") from None
    except OSError:
        raise ValueError("The image file is damaged or cut short; upload it again or try another file.") from None
    return image


# -- frames -------------------------------------------------------------------------------------


def render(canvas: torch.Tensor, levels: int, done: int, columns: int, scale: int, underlay: np.ndarray | None = None) -> Image.Image:
    """(N, C, H, W) intensities, of which the first `done` sub-pixels (raster order) are drawn ->
    an RGB grid, undrawn pixels tinted (over `underlay` (N, H, W, 3) uint8, a sketch, if given)
    and the next pixel marked, upscaled by nearest neighbour."""
    n, c, h, w = canvas.shape
    tiles = to_uint8(canvas, levels)  # (N, H, W, C)
    if c == 1:
        tiles = np.repeat(tiles, 3, axis=3)
    pixels_done = done // c
    flat = tiles.reshape(n, h * w, 3)
    if underlay is None:
        flat[:, pixels_done:] = UNDRAWN
    else:  # the sketch shows through where the detail is not drawn yet
        flat[:, pixels_done:] = (0.55 * underlay.reshape(n, h * w, 3)[:, pixels_done:] + 0.45 * UNDRAWN).round().astype(np.uint8)
    if pixels_done < h * w:
        flat[:, pixels_done] = CURSOR
    return Image.fromarray(tile(flat.reshape(n, h, w, 3), columns, scale, background=235))


def sketch_picture(model: TwoStagePixelCNN, sketch) -> np.ndarray:
    """(N, C, h, w) sketch intensities -> (N, H, W, 3) uint8: each cell a block of its grey (or colour)."""
    return np.repeat(to_uint8(model.upsampled(torch.as_tensor(sketch)), model.levels), 3 // model.image_channels, axis=3)


def sketch_still(model: TwoStagePixelCNN, sketch: torch.Tensor) -> Image.Image:
    """(1, C, h, w) one sketch -> a picture of it, each cell a block, 8 screen pixels an image pixel."""
    return Image.fromarray(tile(sketch_picture(model, sketch), columns=1, scale=8, background=235))


def render_sketch(model: TwoStagePixelCNN, sketch: torch.Tensor, done: int, columns: int, scale: int) -> Image.Image:
    """(N, C, h, w) sketch intensities, the first `done` sub-pixels drawn -> the grid at the image's
    size, each sketch cell a block: drawn cells in their grey, undrawn ones dark blue, the next one orange."""
    n, c, h, w = sketch.shape
    f = model.factor
    cells = np.arange(h * w).reshape(h, w).repeat(f, 0).repeat(f, 1)  # (H, W) the cell of each pixel
    tiles = sketch_picture(model, sketch)  # (N, H, W, 3)
    drawn = done // c
    tiles[:, cells >= drawn] = UNDRAWN
    tiles[:, cells == drawn] = CURSOR
    return Image.fromarray(tile(tiles, columns, scale, background=235))


def grid_shape(n: int) -> int:
    """Columns of the grid for n images: the squarest layout with no empty cell (8 -> 4 x 2),
    else the square one."""
    square = math.ceil(math.sqrt(n))
    return next((columns for columns in range(square, 2 * square + 1) if n % columns == 0), square)


@dataclass
class View:
    """How one stage of a drawing is shown: its picture at `shown` sub-pixels, its chart, its share
    of the pace, and the sub-pixels given up front (shown at once)."""

    picture: Callable[[torch.Tensor, int], Image.Image]
    beliefs: Beliefs
    words: str  # what is being drawn, for the status line
    pace: float
    given: int = 0


def play(frames, view: View, guidance: float, status: Callable[[str, int, int], str], interval: float) -> Iterator[Frame]:
    """One stage's frames at its pace. frames: the sampler's (canvas, done, total) for the stage. The
    sampler runs ahead; once it is done, the rest is shown at the pace. Returns the last canvas."""
    start = last = time.perf_counter()
    canvas, shown, total = None, 0, 1
    for canvas, done, total in frames:
        now = time.perf_counter()
        if done < total and now - last < interval:
            continue
        shown = shown_at(now - start, view.pace, done, total, view.given)
        if shown < total:
            last = now
            yield Frame(view.picture(canvas, shown), status(view.words, shown, total), False, chart_for(view.beliefs, canvas, shown, guidance))
    while shown < total:  # the sampler is done; the drawing goes on at its pace
        time.sleep(max(0.0, last + interval - time.perf_counter()))
        last = time.perf_counter()
        shown = shown_at(last - start, view.pace, total, total, view.given)
        if shown < total:
            yield Frame(view.picture(canvas, shown), status(view.words, shown, total), False, chart_for(view.beliefs, canvas, shown, guidance))
    return canvas


SKETCH_SHARE = 0.25  # of a watchable pace, the share the sketch stage is shown for


def stream(model: PixelCNNBase | TwoStagePixelCNN, n: int, labels=None, cond=None, known=None, known_mask=None, temperature=1.0, seed=None,
           guidance=0.0, width_px=560, note: str = "", pace: float = 0.0, given: int = 0, sketch=None, sketch_guidance=None,
           no_condition: bool = False) -> Iterator[Frame]:
    """Frames of a growing grid, each with the chart of what the model believed about the marked
    sub-pixel of the first image; the last frame with bits/dim. pace: seconds to spread the
    drawing over, at FPS frames a second (0: a frame whenever one is ready, at most one every
    FRAME_SECONDS). The sampler runs at full speed either way. given: sub-pixels kept from an
    upload (the rows a completion keeps), shown at once rather than paced. A two-stage model
    draws its sketch first (unless `sketch` is given), then the detail over it."""
    h, w = model.image_size
    columns = grid_shape(n)
    scale = max(2, width_px // (columns * (w + 1)))
    interval = 1 / FPS if pace else FRAME_SECONDS
    start = time.perf_counter()
    detail = Beliefs((model.image_channels, h, w), model.levels, temperature, images=n)
    condition = dict(labels=labels, cond=cond, temperature=temperature, seed=seed, guidance=guidance, no_condition=no_condition)
    underlay = None

    def status(words, shown, total):
        return f"{note}Drawing{' ' + words if words else ''}… {100 * shown / total:.0f}% ({shown:,} of {total:,} sub-pixels), {time.perf_counter() - start:.1f} s"

    if isinstance(model, TwoStagePixelCNN):
        rough = Beliefs((model.image_channels, *model.sketch.image_size), model.sketch.levels, temperature, "sketch cell")
        frames = sample_stages(model, n, **condition, sketch=sketch, sketch_guidance=sketch_guidance, on_logits=detail, on_sketch_logits=rough)
        views = {"sketch": View(lambda canvas, shown: render_sketch(model, canvas, shown, columns, scale), rough, "the sketch",
                                pace * SKETCH_SHARE),
                 "detail": View(lambda canvas, shown: render(canvas, model.levels, shown, columns, scale, underlay), detail,
                                "the detail over the sketch", pace * (1 - SKETCH_SHARE) if sketch is None else pace)}
        if sketch is not None:
            underlay = sketch_picture(model, sketch)
    else:
        frames = (("image", *frame) for frame in sample_stream(model, n, **condition, known=known, known_mask=known_mask, on_logits=detail))
        views = {"image": View(lambda canvas, shown: render(canvas, model.levels, shown, columns, scale), detail, "", pace, given)}
    for stage, stage_frames in groupby(frames, key=lambda frame: frame[0]):
        stage_guidance = sketch_guidance if stage == "sketch" and sketch_guidance is not None else guidance
        canvas = yield from play((frame[1:] for frame in stage_frames), views[stage], stage_guidance, status, interval)
        if stage == "sketch":
            underlay = sketch_picture(model, canvas)
    elapsed = time.perf_counter() - start
    timing = f"{elapsed:.2f} s" if not pace else f"{elapsed:.1f} s at a watchable pace"
    bits = ""
    if not no_condition:
        with torch.no_grad():
            bits = (f"; the model gives them {model.bits_per_dim(canvas, labels=labels, cond=cond).mean().item():.3f} bits/dim "
                    "(bits it needs per pixel value: lower = less surprising)")
    yield Frame(render(canvas, model.levels, canvas[0].numel(), columns, scale),
                f"{note}Done: {n} image{'s' * (n > 1)} in {timing}{bits}. Click a pixel to see what the model believed about it.", True,
                chart_for(detail, canvas, canvas[0].numel(), guidance), Drawing(detail, canvas, columns, scale))


def parse_sketch_guidance(guidance, model) -> float | None:
    """The Sketch guidance control -> the sketch stage's guidance (None for a one-stage model)."""
    if not isinstance(model, TwoStagePixelCNN):
        return None
    return parse_guidance(guidance, model.sketch, "Sketch guidance")


def by_class(model: GatedPixelCNN | TwoStagePixelCNN, dataset: str, class_name, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE,
             sketch_guidance=None) -> Iterator[Frame]:
    n = parse_count(count)
    label = class_index(model, class_name, dataset)
    sketch_guidance = parse_sketch_guidance(guidance if sketch_guidance is None else sketch_guidance, model)
    yield from stream(model, n, labels=torch.full((n,), label), temperature=parse_temperature(temperature), seed=parse_seed(seed),
                      guidance=parse_guidance(guidance, model), pace=parse_pace(pace), sketch_guidance=sketch_guidance)


def sketch_of_drawing(model: TwoStagePixelCNN, image: Image.Image, centre: bool) -> torch.Tensor:
    """A drawing or picture -> (1, C, h, w) the sketch the model reads from it: the picture as
    the model's input (light on dark), laid out as the dataset's images when `centre` (else
    resized whole), averaged over each sketch cell."""
    return model.sketch_of(digit_from_upload(model, image, layout=centre))


def sketch_preview(model: TwoStagePixelCNN, image_path, centre) -> Image.Image:
    """A visitor's drawing -> the sketch the model will follow, as a picture (ValueError for a bad upload)."""
    if not isinstance(model, TwoStagePixelCNN):
        raise ValueError("This model has no sketch stage.")
    return sketch_still(model, sketch_of_drawing(model, open_upload(image_path), bool(centre)))


def follow_sketch(model: TwoStagePixelCNN, dataset: str, image_path, class_name, centre, count, temperature, seed, guidance=0.0,
                  pace=DEFAULT_PACE) -> tuple[Image.Image, Iterator[Frame]]:
    """A visitor's coarse drawing -> (the sketch as the model reads it, frames of `count` images
    drawn over that sketch, of the chosen class or, with NO_CLASS, of none)."""
    n, temperature, seed, pace = parse_count(count), parse_temperature(temperature), parse_seed(seed), parse_pace(pace)
    if not isinstance(model, TwoStagePixelCNN):
        raise ValueError(f"The {dataset} model on this server has no sketch stage; pick another Dataset.")
    none = class_name == NO_CLASS
    label = None if none else class_index(model, class_name, dataset)
    guidance = 0.0 if none else parse_guidance(guidance, model)
    if image_path is None:
        raise ValueError("Paint a rough shape on the pad, upload a picture, or pick an example first.")
    sketch = sketch_of_drawing(model, open_upload(image_path), bool(centre))
    if not sketch.any():
        raise ValueError("The drawing is empty; paint a rough shape on the pad (or pick an example) first.")
    still = sketch_still(model, sketch)
    labels = None if none else torch.full((n,), label)
    return still, stream(model, n, labels=labels, sketch=sketch.expand(n, -1, -1, -1).contiguous(), temperature=temperature, seed=seed,
                         guidance=guidance, pace=pace, no_condition=none)


def digit_from_upload(model: GatedPixelCNN, image: Image.Image, layout: bool = True) -> torch.Tensor:
    """Any picture -> (1, C, H, W) model intensities at the model's size, in the form the model
    learnt from (`images.model_input`: light on dark, MNIST digits and garments cropped, scaled
    and centred as their datasets were made; with layout=False, resized whole)."""
    array = model_input(image, model.image_channels, tuple(model.image_size), model.dataset if layout else "")
    return torch.from_numpy(quantize(array[None], model.levels))


def completion_preview(model: GatedPixelCNN, dataset: str, image_path, keep_rows, reader=None) -> tuple[Image.Image, str | None, str]:
    """An uploaded or drawn digit -> (the digit as the model sees it, kept rows as they are and the
    rows it will draw tinted; the class `reader` (default: the model) reads in it, or None when it
    is not sure; a sentence on that reading)."""
    h, _ = model.image_size
    rows = number(keep_rows, "Rows to keep", 0, h, whole=True)
    digit = digit_from_upload(model, open_upload(image_path))  # (1, C, H, W)
    guess, words = reading(class_probabilities(reader or model, digit), model.class_names)
    tiles = to_uint8(digit, model.levels)[0]  # (H, W, C)
    tiles = np.repeat(tiles, 3 // tiles.shape[2], axis=2).astype(np.float64)
    tiles[rows:] = 0.35 * tiles[rows:] + 0.65 * UNDRAWN  # what the model will draw anew
    if rows < h:
        tiles[rows] = 0.5 * tiles[rows] + 0.5 * CURSOR  # where it starts
    shown = Image.fromarray(tile(tiles.round().astype(np.uint8)[None], columns=1, scale=8, background=235))
    steer = "change the Class to steer it" if guess is not None else "pick the Class yourself"
    sentence = (f"The model keeps the top {rows} of {h} rows and draws the rest. It reads this {dataset} image as {words} "
                f"(its own likelihoods, by Bayes over its classes); {steer}.")
    return shown, None if guess is None else model.class_names[guess], sentence


def complete(model: GatedPixelCNN, dataset: str, image_path, class_name, keep_rows, count, temperature, seed, guidance=0.0,
             pace=DEFAULT_PACE) -> Iterator[Frame]:
    """Keep the top `keep_rows` rows of an uploaded digit and let the model draw the rest."""
    n, guidance = parse_count(count, "Completions"), parse_guidance(guidance, model)
    label = class_index(model, class_name, dataset)
    h, _ = model.image_size
    rows = number(keep_rows, "Rows to keep", 0, h, whole=True)
    digit = digit_from_upload(model, open_upload(image_path))
    known = digit.repeat(n, 1, 1, 1)
    known_mask = torch.zeros_like(known, dtype=torch.bool)
    known_mask[:, :, :rows] = True
    yield from stream(model, n, labels=torch.full((n,), label), known=known, known_mask=known_mask, temperature=parse_temperature(temperature),
                      seed=parse_seed(seed), guidance=guidance, pace=parse_pace(pace), given=rows * model.image_channels * model.image_size[1])


def parse_mix(mix) -> float:
    return number(mix, "Mix", 0, 1, hint="0 is the first person, 1 the second")


def face_of(encoder, photo) -> tuple[torch.Tensor, np.ndarray, int]:
    """An uploaded file's path, or a PIL image from the webcam or clipboard -> its largest face's
    (512,) embedding and (160, 160, 3) uint8 crop, and how many faces the photo holds; or a
    ValueError that says what to do."""
    from .faces import crop_to_image

    image = photo if isinstance(photo, Image.Image) else open_upload(photo)
    embedding, crop, faces = encoder.embed_one(image)
    return embedding, np.asarray(crop_to_image(crop)), faces


def faces_note(counts: list[int]) -> str:
    """A sentence for photos with more than one face: which one was used."""
    which = ["first", "second"]
    crowded = [f"the {which[k]} photo has {c} faces" for k, c in enumerate(counts) if c > 1]
    return f"{'; '.join(crowded).capitalize()}: the largest was used (shown above). " if crowded else ""


def photo_layout(model: TwoStagePixelCNN, photo) -> torch.Tensor:
    """A portrait (a path or PIL image) -> (1, 1, h, w) its sketch, the photo made into a training
    image (grey, its centred square at the model's size) and averaged over each sketch cell."""
    from .faces import load_photo

    picture = square_resize(load_photo(photo if isinstance(photo, Image.Image) else open_upload(photo)).convert("L"), model.image_size[0])
    return model.sketch_of(torch.from_numpy(quantize(np.asarray(picture)[None, None], model.levels)))


def parse_layout(layout, model) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"Layout must be one of: {'; '.join(LAYOUTS)}; not {layout!r}.")
    if layout == KEEP_LAYOUT and not isinstance(model, TwoStagePixelCNN):
        raise ValueError("The portrait model on this server has no sketch stage, so it cannot keep a photo's layout; pick the new pose.")
    return layout


def portraits(model: GatedPixelCNN | TwoStagePixelCNN, encoder, photo, second, mix, walk, count, temperature, seed, guidance=0.0,
              pace=DEFAULT_PACE, layout=NEW_POSE, sketch_guidance=None) -> tuple[Image.Image, Iterator[Frame]]:
    """New portraits of the person in `photo` (or, with a `second` photo, of a mix of the two
    people: all at `mix`, or with `walk` one image per step from the first to the second)
    -> (the face crops the encoder used, the frames of the growing grid). A two-stage model
    sketches a new layout first, or with KEEP_LAYOUT draws over the first photo's own sketch."""
    from .portrait import slerp

    n, temperature, seed, mix = parse_count(count, "Portraits"), parse_temperature(temperature), parse_seed(seed), parse_mix(mix)
    pace, layout = parse_pace(pace), parse_layout(layout, model)
    guidance = parse_guidance(guidance, model)
    sketch_guidance = parse_sketch_guidance(guidance if sketch_guidance is None else sketch_guidance, model)
    if photo is None:
        raise ValueError("Upload a portrait, take one with the webcam, or pick an example first.")
    if walk and second is None:
        raise ValueError("Add a second portrait to walk from one person to the other.")
    if walk and n < 2:
        raise ValueError("A walk between two people needs at least 2 images.")
    embedding, crop, count = face_of(encoder, photo)
    crops, counts = [crop], [count]
    cond = embedding[None].expand(n, -1)
    if second is not None:
        other, other_crop, other_count = face_of(encoder, second)
        crops.append(other_crop)
        counts.append(other_count)
        cond = slerp(embedding, other, torch.linspace(0, 1, n) if walk else torch.full((n,), mix))
    shown = Image.fromarray(tile(np.stack(crops), columns=len(crops), gap=4, background=235))
    sketch = photo_layout(model, photo).expand(n, -1, -1, -1).contiguous() if layout == KEEP_LAYOUT else None
    return shown, stream(model, n, cond=cond.contiguous(), temperature=temperature, seed=seed, guidance=guidance, note=faces_note(counts),
                         pace=pace, sketch=sketch, sketch_guidance=sketch_guidance)


def autoencode(pixelcnn, mse, image_path, count, temperature, seed, pace=DEFAULT_PACE) -> tuple[Image.Image, Iterator[Frame]]:
    """An uploaded or drawn image -> (the image as the encoders see it beside the MSE auto-encoder's
    reconstruction, the frames of `count` PixelCNN decodings of its code, growing)."""
    n, temperature, seed = parse_count(count, "PixelCNN decodings"), parse_temperature(temperature), parse_seed(seed)
    pace = parse_pace(pace)
    image = digit_from_upload(pixelcnn, open_upload(image_path))  # (1, C, H, W) ints
    with torch.no_grad():
        code = pixelcnn.encode(image)  # (1, code_dim)
        pair = torch.cat([image, mse.reconstruct(image)])
    scale = max(2, 240 // pixelcnn.image_size[1])
    shown = Image.fromarray(tile(np.repeat(to_uint8(pair, pixelcnn.levels), 3 // pixelcnn.image_channels, axis=3), columns=2, scale=scale, background=235))
    return shown, stream(pixelcnn.decoder, n, cond=code.expand(n, -1).contiguous(), temperature=temperature, seed=seed, pace=pace)


# -- models -------------------------------------------------------------------------------------


def bundled(name: str, loader=None):
    """The model saved in assets/<name>, loaded by `loader` (default: a GatedPixelCNN), or None."""
    folder = ASSETS / name
    if not (folder / "model.safetensors").exists():
        return None
    return (loader or GatedPixelCNN.from_pretrained)(folder).eval()
