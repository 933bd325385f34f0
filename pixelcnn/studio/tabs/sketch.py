"""Sketch: paint a rough shape; the model reads it as a coarse sketch and draws the detail over it
(the paper's location-dependent conditioning)."""

from collections.abc import Iterator

import gradio as gr
import torch
from PIL import Image

from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio.checks import class_index, open_upload, parse_count, parse_guidance, parse_seed, parse_temperature
from pixelcnn.studio.frames import Ask, Frame, stream
from pixelcnn.studio.grids import sketch_still
from pixelcnn.studio.serving import friendly
from pixelcnn.studio.shelf import Shelf, picture_of
from pixelcnn.studio.watch import DEFAULT_PACE, parse_pace
from pixelcnn.studio.widgets import (UPLOAD_HEIGHT, choice, drawing_view, new_choices, pen, picture_examples, purpose, sampling_controls,
                                     wire)


NO_CLASS = "None"  # the Sketch tab's class choice for the unconditional branch


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


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def follow(dataset, upload, drawing, class_name, centre, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE):
        yield from friendly(follow_sketch, shelf.drawer(dataset), dataset, picture_of(upload, drawing), class_name, centre, count,
                            temperature, seed, guidance, pace, stills=1)

    def preview(dataset, upload, drawing, centre):
        """The sketch the model will follow, as soon as there is a drawing."""
        path = picture_of(upload, drawing)
        if dataset not in shelf.models or path is None:
            return None
        try:
            return sketch_preview(shelf.drawer(dataset), path, centre)
        except ValueError:
            return None

    with gr.Tab("Sketch"):
        purpose("Paint a rough shape with a thick brush: the model reads it as a 7x7 sketch and draws the detail over it, in the "
                "class you pick or in none. Your picture, not just a label, steers the drawing at every pixel.")
        with gr.Row():
            with gr.Column(scale=1):
                pad = gr.Sketchpad(type="filepath", format="png", label="Paint a shape", canvas_size=(196, 196),
                                   height=250, brush=pen(18), elem_id="sketch-pad")
                upload = gr.File(label="…or upload a picture", file_types=["image"], type="filepath", elem_id="sketch-upload", height=UPLOAD_HEIGHT)
                with gr.Row():
                    dataset = choice(names, "Dataset", "sketch-dataset")
                    class_name = choice([NO_CLASS, *shelf.class_names(names[0] if names else None)], "Class", "sketch-class")
                centre = gr.Checkbox(value=True, label="Centre and size my drawing as the dataset's images are", elem_id="sketch-centre")
                count, temperature, seed, pace, go, stop, guidance = sampling_controls(
                    "Images", 8, "Draw over it", "sketch", guidance=shelf.drawing_settings(names[0])[0] if names else 0.0)
                if shelf.held_out():
                    picture_examples(shelf.held_out(), upload, "Or start from a held-out image's sketch", (dataset,))
            with gr.Column(scale=2):
                shown = gr.Image(label="The sketch the model follows", type="pil", format="png", interactive=False, elem_id="sketch-preview",
                                 height=200)
                canvas, belief, drawn, status = drawing_view("Drawn over your sketch", "sketch-canvas", "sketch-belief", "sketch-status")
        dataset.change(lambda name: new_choices([NO_CLASS, *shelf.class_names(name)]), dataset, class_name,
                       api_name=False, queue=False)
        for source in (upload, pad, centre, dataset):
            source.change(preview, [dataset, upload, pad, centre], shown, api_name=False)
        wire(go, stop, follow, [dataset, upload, pad, class_name, centre, count, temperature, seed, guidance, pace],
             [shown, canvas, belief, drawn, status], "sketch")
    return [shown, canvas, belief]
