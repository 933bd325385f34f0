"""What each drawing tab asks for, without the page: check the request, bring the visitor's picture
or photo into the model's form, and stream the frames of the drawing.

Every function here raises `ValueError` with one sentence a person can act on when a request is
bad; the page turns that into a message and keeps serving.
"""

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from pixelcnn.data import quantize, square_resize
from pixelcnn.faces import crop_to_image, load_photo, slerp
from pixelcnn.explain import read_class
from pixelcnn.images import tile, to_uint8
from pixelcnn.pictures import model_pixels
from pixelcnn.studio.checks import (KEEP_LAYOUT, NEW_POSE, class_index, number, open_upload, parse_count, parse_guidance, parse_layout,
                                    parse_mix, parse_seed, parse_sketch_guidance, parse_temperature)
from pixelcnn.studio.frames import Ask, Frame, stream
from pixelcnn.studio.grids import sketch_still
from pixelcnn.studio.palette import CURSOR, UNDRAWN
from pixelcnn.studio.watch import DEFAULT_PACE, parse_pace

NO_CLASS = "None"  # the Sketch tab's class choice for the unconditional branch


def stage_settings(model, guidance, temperature, sketch_guidance=None, sketch_temperature=None) -> dict:
    """The Guidance, Temperature, Sketch guidance and Sketch temperature controls, checked -> `Ask`'s
    keywords. Left out (None), a sketch stage's guidance and temperature are the detail stage's."""
    guidance, temperature = parse_guidance(guidance, model), parse_temperature(temperature)
    sketch_guidance = parse_sketch_guidance(guidance if sketch_guidance is None else sketch_guidance, model)
    sketch_temperature = parse_temperature(sketch_temperature, "Sketch temperature") if sketch_temperature is not None else temperature
    return dict(guidance=guidance, temperature=temperature, sketch_guidance=sketch_guidance,
                sketch_temperature=sketch_temperature if model.STAGED else None)


def by_class(model, dataset: str, class_name, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE,
             sketch_guidance=None, sketch_temperature=None) -> Iterator[Frame]:
    n = parse_count(count)
    label = class_index(model, class_name, dataset)
    settings = stage_settings(model, guidance, temperature, sketch_guidance, sketch_temperature)
    yield from stream(Ask(model, n, labels=torch.full((n,), label), seed=parse_seed(seed), **settings), pace=parse_pace(pace))


def sketch_of_drawing(model, image: Image.Image, centre: bool) -> torch.Tensor:
    """A drawing or picture -> (1, C, h, w) the sketch the model reads from it: the picture as
    the model's input (light on dark), laid out as the dataset's images when `centre` (else
    resized whole), averaged over each sketch cell."""
    return model.sketch_of(model_pixels(model, image, layout=centre))


def sketch_preview(model, image_path, centre) -> Image.Image:
    """A visitor's drawing -> the sketch the model will follow, as a picture (ValueError for a bad upload)."""
    if not model.STAGED:
        raise ValueError("This model has no sketch stage.")
    return sketch_still(model, sketch_of_drawing(model, open_upload(image_path), bool(centre)))


def follow_sketch(model, dataset: str, image_path, class_name, centre, count, temperature, seed, guidance=0.0,
                  pace=DEFAULT_PACE) -> tuple[Image.Image, Iterator[Frame]]:
    """A visitor's coarse drawing -> (the sketch as the model reads it, frames of `count` images
    drawn over that sketch, of the chosen class or, with NO_CLASS, of none)."""
    n, temperature, seed, pace = parse_count(count), parse_temperature(temperature), parse_seed(seed), parse_pace(pace)
    if not model.STAGED:
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
    return still, stream(Ask(model, n, labels=labels, sketch=sketch.expand(n, -1, -1, -1).contiguous(), temperature=temperature, seed=seed,
                             guidance=guidance, no_condition=none), pace=pace)


def completion_preview(model, dataset: str, image_path, keep_rows, reader=None) -> tuple[Image.Image, str | None, str]:
    """An uploaded or drawn digit -> (the digit as the model sees it, kept rows as they are and the
    rows it will draw tinted; the class `reader` (default: the model) reads in it, or None when it
    is not sure; a sentence on that reading)."""
    h, _ = model.image_size
    rows = number(keep_rows, "Rows to keep", 0, h, whole=True)
    digit = model_pixels(model, open_upload(image_path))  # (1, C, H, W)
    found = read_class(reader or model, digit)
    guess, words = found.guess, found.words
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


def complete(model, dataset: str, image_path, class_name, keep_rows, count, temperature, seed, guidance=0.0,
             pace=DEFAULT_PACE, sketch_guidance=None, sketch_temperature=None) -> Iterator[Frame]:
    """Keep the top `keep_rows` rows of an uploaded digit and let the model draw the rest (a two-stage
    model: the rest of its sketch first, at its own guidance and temperature, then the detail)."""
    n = parse_count(count, "Completions")
    settings = stage_settings(model, guidance, temperature, sketch_guidance, sketch_temperature)
    label = class_index(model, class_name, dataset)
    h, _ = model.image_size
    rows = number(keep_rows, "Rows to keep", 0, h, whole=True)
    digit = model_pixels(model, open_upload(image_path))
    known = digit.repeat(n, 1, 1, 1)
    known_mask = torch.zeros_like(known, dtype=torch.bool)
    known_mask[:, :, :rows] = True
    yield from stream(Ask(model, n, labels=torch.full((n,), label), known=known, known_mask=known_mask, seed=parse_seed(seed), **settings),
                      pace=parse_pace(pace), given=rows * model.image_channels * model.image_size[1])


def face_of(encoder, photo) -> tuple[torch.Tensor, np.ndarray, int]:
    """An uploaded file's path, or a PIL image from the webcam or clipboard -> its largest face's
    (512,) embedding and (160, 160, 3) uint8 crop, and how many faces the photo holds; or a
    ValueError that says what to do."""
    image = photo if isinstance(photo, Image.Image) else open_upload(photo)
    embedding, crop, faces = encoder.embed_one(image)
    return embedding, np.asarray(crop_to_image(crop)), faces


def faces_note(counts: list[int]) -> str:
    """A sentence for photos with more than one face: which one was used."""
    which = ["first", "second"]
    crowded = [f"the {which[k]} photo has {c} faces" for k, c in enumerate(counts) if c > 1]
    return f"{'; '.join(crowded).capitalize()}: the largest was used (shown above). " if crowded else ""


def photo_layout(model, photo) -> torch.Tensor:
    """A portrait (a path or PIL image) -> (1, 1, h, w) its sketch, the photo made into a training
    image (grey, its centred square at the model's size) and averaged over each sketch cell."""
    picture = square_resize(load_photo(photo if isinstance(photo, Image.Image) else open_upload(photo)).convert("L"), model.image_size[0])
    return model.sketch_of(torch.from_numpy(quantize(np.asarray(picture)[None, None], model.levels)))


def portraits(model, encoder, photo, second, mix, walk, count, temperature, seed, guidance=0.0,
              pace=DEFAULT_PACE, layout=NEW_POSE, sketch_guidance=None) -> tuple[Image.Image, Iterator[Frame]]:
    """New portraits of the person in `photo` (or, with a `second` photo, of a mix of the two
    people: all at `mix`, or with `walk` one image per step from the first to the second)
    -> (the face crops the encoder used, the frames of the growing grid). A two-stage model
    sketches a new layout first, or with KEEP_LAYOUT draws over the first photo's own sketch."""
    n, seed, mix = parse_count(count, "Portraits"), parse_seed(seed), parse_mix(mix)
    settings = stage_settings(model, guidance, temperature, sketch_guidance)
    pace, layout = parse_pace(pace), parse_layout(layout, model)
    if photo is None:
        raise ValueError("Upload a portrait, take one with the webcam, or pick an example first.")
    if walk and second is None:
        raise ValueError("Add a second portrait to walk from one person to the other.")
    if walk and n < 2:
        raise ValueError("A walk between two people needs at least 2 images.")
    photo = photo if isinstance(photo, Image.Image) else open_upload(photo)  # opened once, for the face and the layout
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
    return shown, stream(Ask(model, n, cond=cond.contiguous(), seed=seed, sketch=sketch, **settings), pace=pace, note=faces_note(counts))


def autoencode(pixelcnn, mse, image_path, count, temperature, seed, pace=DEFAULT_PACE, reader=None) -> tuple[Image.Image, Iterator[Frame]]:
    """An uploaded or drawn image -> (the image as the encoders see it beside the MSE auto-encoder's
    reconstruction, the frames of `count` PixelCNN decodings of its code, growing; with a class
    model as `reader`, the last frame says which class it reads in the input and in each decoding)."""
    n, temperature, seed = parse_count(count, "PixelCNN decodings"), parse_temperature(temperature), parse_seed(seed)
    pace = parse_pace(pace)
    image = model_pixels(pixelcnn, open_upload(image_path))  # (1, C, H, W) ints
    with torch.no_grad():
        code = pixelcnn.encode(image)  # (1, code_dim)
        pair = torch.cat([image, mse.reconstruct(image)])
        condition = pixelcnn.conditioning(code.expand(n, -1).contiguous())
    scale = max(2, 240 // pixelcnn.image_size[1])
    shown = Image.fromarray(tile(np.repeat(to_uint8(pair, pixelcnn.levels), 3 // pixelcnn.image_channels, axis=3), columns=2, scale=scale, background=235))
    frames = stream(Ask(pixelcnn.decoder, n, **condition, temperature=temperature, seed=seed), pace=pace)
    return shown, frames if reader is None else kept_in(frames, reader, pair)


def kept_in(frames: Iterator[Frame], reader, pair: torch.Tensor) -> Iterator[Frame]:
    """The decodings' frames, the last one saying what `reader` (a class model) reads in the input, in
    its MSE reconstruction and in each decoding: what the code kept of the input's class."""
    for frame in frames:
        if frame.done and frame.drawing is not None:
            with torch.no_grad():
                guesses = [read_class(reader, image[None]).guess for image in torch.cat([pair, frame.drawing.canvas])]
            frame = replace(frame, status=f"{frame.status} {kept_sentence(guesses, reader.class_names)}")
        yield frame


def kept_sentence(guesses: list[int | None], names: list[str]) -> str:
    """[class read in the input (None: not sure), in the MSE reconstruction, in each decoding] -> a sentence."""
    given, rebuilt, decoded = guesses[0], guesses[1], guesses[2:]
    if given is None:
        return "The model cannot tell which digit your picture is, so it cannot say whether the code kept it."
    same = sum(guess == given for guess in decoded)
    name = f"{'an' if names[given][0].lower() in 'aeiou8' else 'a'} {names[given]}"
    return (f"Your picture reads as {name}; {same} of {len(decoded)} decodings read as {name} too "
            f"(the MSE reconstruction {'does' if rebuilt == given else 'does not'}).")
