"""What the web page does, without the page: load models, check a request, stream frames.

Every function here raises `ValueError` with one sentence a person can act on when a request is
bad; the page turns that into a message and keeps serving.
"""

import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .data import quantize
from .explain import class_probabilities
from .images import tile, to_uint8
from .model import GatedPixelCNN, PixelCNNBase
from .sampling import sample_stream
from .watch import DEFAULT_PACE, FPS, Beliefs, chart_for, parse_pace, shown_at

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MAX_IMAGES = 16
MAX_TEMPERATURE = 3.0
MIN_TEMPERATURE = 0.05
MAX_GUIDANCE = 10.0
# Classifier-free guidance the page starts at, per model folder: the value that measured best
# (`python -m pixelcnn.evaluate`, see the model cards). Models without an unconditional branch get 0.
DEFAULT_GUIDANCE = {"mnist": 2.0, "fashion-mnist": 0.5, "portraits": 0.0}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MIN_UPLOAD_SIDE = 8  # smaller pictures hold too little to complete, encode or classify
FRAME_SECONDS = 0.1  # as fast as possible: at most 10 frames a second, so that sending frames leaves the sampler its CPU
UNDRAWN = np.array([28, 32, 56], dtype=np.uint8)  # a dark blue: pixels the model has not drawn yet
CURSOR = np.array([255, 140, 0], dtype=np.uint8)  # the sub-pixel being drawn
DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist"}
PORTRAITS = "portraits"  # the folder (in assets/ or the Hub repo) of the face-conditioned model
AUTOENCODERS = {"PixelCNN": "autoencoder/pixelcnn-m10", "MSE": "autoencoder/mse-m10"}


@dataclass
class Frame:
    image: Image.Image
    status: str
    done: bool
    belief: Image.Image | None = None  # the chart of the marked sub-pixel's distribution


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


def default_guidance(folder: str, model: GatedPixelCNN) -> float:
    """The guidance the page starts at for the model saved in `folder` (0 when it cannot guide)."""
    return DEFAULT_GUIDANCE.get(folder, 0.0) if model.guidable else 0.0


def parse_guidance(guidance, model: GatedPixelCNN) -> float:
    value = number(guidance, "Guidance", 0, MAX_GUIDANCE, hint="0 is off; higher values follow the class or person more closely")
    if value and not model.guidable:
        raise ValueError("This model was trained without conditioning dropout, so it cannot be guided; set Guidance to 0.")
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


def render(canvas: torch.Tensor, levels: int, done: int, columns: int, scale: int) -> Image.Image:
    """(N, C, H, W) intensities, of which the first `done` sub-pixels (raster order) are drawn ->
    an RGB grid, undrawn pixels tinted and the next pixel marked, upscaled by nearest neighbour."""
    n, c, h, w = canvas.shape
    tiles = to_uint8(canvas, levels)  # (N, H, W, C)
    if c == 1:
        tiles = np.repeat(tiles, 3, axis=3)
    pixels_done = done // c
    flat = tiles.reshape(n, h * w, 3)
    flat[:, pixels_done:] = UNDRAWN
    if pixels_done < h * w:
        flat[:, pixels_done] = CURSOR
    return Image.fromarray(tile(flat.reshape(n, h, w, 3), columns, scale, background=235))


def grid_shape(n: int) -> int:
    return math.ceil(math.sqrt(n))


def stream(model: PixelCNNBase, n: int, labels=None, cond=None, known=None, known_mask=None, temperature=1.0, seed=None, guidance=0.0,
           width_px=560, note: str = "", pace: float = 0.0, given: int = 0) -> Iterator[Frame]:
    """Frames of a growing grid, each with the chart of what the model believed about the marked
    sub-pixel of the first image; the last frame with bits/dim. pace: seconds to spread the
    drawing over, at FPS frames a second (0: a frame whenever one is ready, at most one every
    FRAME_SECONDS). The sampler runs at full speed either way. given: sub-pixels kept from an
    upload (the rows a completion keeps), shown at once rather than paced."""
    h, w = model.image_size
    columns = grid_shape(n)
    scale = max(2, width_px // (columns * (w + 1)))
    interval = 1 / FPS if pace else FRAME_SECONDS
    beliefs = Beliefs((model.image_channels, h, w), model.levels, temperature)
    start = last = time.perf_counter()
    canvas, shown = None, 0

    def frame(total):
        status = f"{note}Drawing… {100 * shown / total:.0f}% ({shown:,} of {total:,} sub-pixels), {time.perf_counter() - start:.1f} s"
        return Frame(render(canvas, model.levels, shown, columns, scale), status, False, chart_for(beliefs, canvas, shown, guidance))

    frames = sample_stream(model, n, labels=labels, cond=cond, temperature=temperature, seed=seed, known=known, known_mask=known_mask,
                           guidance=guidance, on_logits=beliefs)
    for canvas, done, total in frames:
        now = time.perf_counter()
        if done < total and now - last < interval:
            continue
        shown = shown_at(now - start, pace, done, total, given)
        if shown < total:
            last = now
            yield frame(total)
    sampled = time.perf_counter() - start
    while shown < total:  # the sampler is done; the drawing goes on at its pace
        time.sleep(max(0.0, last + interval - time.perf_counter()))
        last = time.perf_counter()
        shown = shown_at(last - start, pace, total, total, given)
        if shown < total:
            yield frame(total)
    with torch.no_grad():
        bpd = model.bits_per_dim(canvas, labels=labels, cond=cond).mean().item()
    elapsed = time.perf_counter() - start
    timing = f"{elapsed:.2f} s" if not pace else f"{elapsed:.1f} s at a watchable pace (the model took {sampled:.2f} s)"
    yield Frame(render(canvas, model.levels, total, columns, scale),
                f"{note}Done: {n} image{'s' * (n > 1)} in {timing}; the model gives them {bpd:.3f} bits/dim.", True,
                chart_for(beliefs, canvas, total, guidance))


def by_class(model: GatedPixelCNN, dataset: str, class_name, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE) -> Iterator[Frame]:
    n = parse_count(count)
    label = class_index(model, class_name, dataset)
    yield from stream(model, n, labels=torch.full((n,), label), temperature=parse_temperature(temperature), seed=parse_seed(seed),
                      guidance=parse_guidance(guidance, model), pace=parse_pace(pace))


def eight_bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grey pictures -> 8-bit grey with their tones kept (PIL's own
    conversion clips them instead of scaling); any other mode as it is."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return image
    array = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
    if image.mode == "F" and array.max() <= 1.0:
        top = 1.0
    return Image.fromarray((array.clip(0, top) * (255.0 / top)).round().astype(np.uint8), "L")


def digit_from_upload(model: GatedPixelCNN, image: Image.Image) -> torch.Tensor:
    """Any picture -> (1, C, H, W) model intensities at the model's size; a dark-on-light picture
    (a drawing on white) is inverted to match MNIST's light-on-dark."""
    h, w = model.image_size
    image = eight_bit(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    grey = np.asarray(image.convert("L" if model.image_channels == 1 else "RGB").resize((w, h), Image.LANCZOS))
    if model.image_channels == 1 and grey.mean() > 127:
        grey = 255 - grey
    array = grey[None, None] if model.image_channels == 1 else grey.transpose(2, 0, 1)[None]
    return torch.from_numpy(quantize(array, model.levels))


def completion_preview(model: GatedPixelCNN, dataset: str, image_path, keep_rows) -> tuple[Image.Image, str, str]:
    """An uploaded or drawn digit -> (the digit as the model sees it, kept rows as they are and the
    rows it will draw tinted, the model's guess of its class, a sentence on that guess)."""
    h, _ = model.image_size
    rows = number(keep_rows, "Rows to keep", 0, h, whole=True)
    digit = digit_from_upload(model, open_upload(image_path))  # (1, C, H, W)
    probs = class_probabilities(model, digit)
    guess = int(probs.argmax())
    tiles = to_uint8(digit, model.levels)[0]  # (H, W, C)
    tiles = np.repeat(tiles, 3 // tiles.shape[2], axis=2).astype(np.float64)
    tiles[rows:] = 0.35 * tiles[rows:] + 0.65 * UNDRAWN  # what the model will draw anew
    if rows < h:
        tiles[rows] = 0.5 * tiles[rows] + 0.5 * CURSOR  # where it starts
    shown = Image.fromarray(tile(tiles.round().astype(np.uint8)[None], columns=1, scale=8, background=235))
    sentence = (f"The model keeps the top {rows} of {h} rows and draws the rest. It reads this {dataset} image as "
                f"**{model.class_names[guess]}** (p = {probs[guess]:.2f}, by Bayes over its classes); change the Class to steer it.")
    return shown, model.class_names[guess], sentence


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


def portraits(model: GatedPixelCNN, encoder, photo, second, mix, walk, count, temperature, seed, guidance=0.0,
              pace=DEFAULT_PACE) -> tuple[Image.Image, Iterator[Frame]]:
    """New portraits of the person in `photo` (or, with a `second` photo, of a mix of the two
    people: all at `mix`, or with `walk` one image per step from the first to the second)
    -> (the face crops the encoder used, the frames of the growing grid)."""
    from .portrait import slerp

    n, temperature, seed, mix = parse_count(count, "Portraits"), parse_temperature(temperature), parse_seed(seed), parse_mix(mix)
    pace = parse_pace(pace)
    guidance = parse_guidance(guidance, model)
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
    return shown, stream(model, n, cond=cond.contiguous(), temperature=temperature, seed=seed, guidance=guidance, note=faces_note(counts), pace=pace)


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
