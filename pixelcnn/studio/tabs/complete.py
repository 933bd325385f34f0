"""Complete: draw or upload a digit; the model keeps its top rows and draws the rest."""

from collections.abc import Iterator

import gradio as gr
import numpy as np
import torch
from PIL import Image

from pixelcnn.explain import read_class
from pixelcnn.pictures.writing import tile, to_uint8
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio.checks import class_index, number, open_upload, parse_count, parse_seed, stage_settings
from pixelcnn.studio.frames import Ask, Frame, stream
from pixelcnn.studio.palette import CURSOR, UNDRAWN
from pixelcnn.studio.serving import friendly
from pixelcnn.studio.shelf import Shelf, picture_of
from pixelcnn.studio.watch import DEFAULT_PACE, parse_pace
from pixelcnn.studio.widgets import (UPLOAD_HEIGHT, Slider, choice, classes_and_settings, drawing_view, pen, picture_examples, purpose,
                                     sampling_controls, wire)


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


def completions(model, dataset: str, image_path, class_name, keep_rows, count, temperature, seed, guidance=0.0,
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


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def complete(dataset, upload, drawing, class_name, keep_rows, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE,
                 sketch_guidance=None, sketch_temperature=None):
        # A two-stage model where one is loaded: it completes the coarse sketch from the kept rows first, which keeps
        # the digit far more often (README: completions).
        yield from friendly(completions, shelf.drawer(dataset), dataset, picture_of(upload, drawing), class_name, keep_rows, count,
                            temperature, seed, guidance, pace, sketch_guidance, sketch_temperature)

    def preview(dataset, upload, drawing, keep_rows):
        """The digit as the model sees it, its class guess, a sentence."""
        path = picture_of(upload, drawing)
        if dataset not in shelf.models or path is None:
            return None, gr.update(), ""
        try:
            shown, guess, sentence = completion_preview(shelf.models[dataset], dataset, path, keep_rows, shelf.reader(dataset))
        except ValueError as err:
            return None, gr.update(), str(err)
        return shown, gr.update() if guess is None else guess, sentence  # when the model is not sure, the Class stays as it is

    with gr.Tab("Complete"):
        purpose("Draw a digit or upload one: the model keeps its top rows and draws the rest.")
        with gr.Row():
            with gr.Column(scale=1):
                pad = gr.Sketchpad(type="filepath", format="png", label="Draw a digit", canvas_size=(196, 196), height=250, brush=pen(),
                                   elem_id="complete-pad")
                upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="complete-upload",
                                 height=UPLOAD_HEIGHT)
                with gr.Row():
                    dataset = choice(names, "Dataset")
                    class_name = choice(shelf.class_names(names[0] if names else None), "Class", "complete-class")
                keep = Slider(0, 28, value=14, step=1, label="Rows to keep")
                start = shelf.drawing_settings(names[0]) if names else (0.0, 0.0, 1.0, 1.0)
                count, temperature, seed, pace, go, stop, guidance, sketch_guidance, sketch_temperature = sampling_controls(
                    "Completions", 8, "Complete", "complete", guidance=start[0], sketch_guidance=start[1], temperature=start[2],
                    sketch_temperature=start[3])
                if shelf.examples("mnist-*.png"):
                    picture_examples(shelf.examples("mnist-*.png"), upload, "…or pick a held-out MNIST digit")
            with gr.Column(scale=2):
                with gr.Row():
                    shown = gr.Image(label="What the model keeps (tinted rows: drawn anew)", type="pil", format="png", interactive=False,
                                     elem_id="complete-preview", height=240)
                    guess = gr.Markdown(elem_id="complete-guess")
                canvas, belief, drawn, status = drawing_view("Completions", "complete-canvas", "complete-belief", "complete-status")
        dataset.change(lambda name: classes_and_settings(shelf, name), dataset, [class_name, guidance, sketch_guidance, temperature,
                                                                                 sketch_temperature], api_name=False)
        for source in (upload, pad, keep, dataset):
            source.change(preview, [dataset, upload, pad, keep], [shown, class_name, guess], api_name=False)
        wire(go, stop, complete, [dataset, upload, pad, class_name, keep, count, temperature, seed, guidance, pace, sketch_guidance,
                                  sketch_temperature], [canvas, belief, drawn, status], "complete")
    return [shown, canvas, belief]
