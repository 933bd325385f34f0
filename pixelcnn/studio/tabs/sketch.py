"""Sketch: paint a rough shape; the model reads it as a coarse sketch and draws the detail over it
(the paper's location-dependent conditioning)."""

import gradio as gr

from pixelcnn.studio import requests
from pixelcnn.studio.requests import NO_CLASS
from pixelcnn.studio.serving import Picture, friendly
from pixelcnn.studio.shelf import Shelf, picture_of
from pixelcnn.studio.watch import DEFAULT_PACE
from pixelcnn.studio.widgets import UPLOAD_HEIGHT, choice, drawing_view, new_choices, pen, picture_examples, purpose, sampling_controls, wire


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def follow(dataset, upload, drawing, class_name, centre, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE):
        yield from friendly(requests.follow_sketch, shelf.drawer(dataset), dataset, picture_of(upload, drawing), class_name, centre, count,
                            temperature, seed, guidance, pace, stills=1)

    def preview(dataset, upload, drawing, centre):
        """The sketch the model will follow, as soon as there is a drawing."""
        path = picture_of(upload, drawing)
        if dataset not in shelf.models or path is None:
            return None
        try:
            return requests.sketch_preview(shelf.drawer(dataset), path, centre)
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
                shown = Picture(label="The sketch the model follows", type="pil", format="png", interactive=False, elem_id="sketch-preview",
                                 height=200)
                canvas, belief, drawn, status = drawing_view("Drawn over your sketch", "sketch-canvas", "sketch-belief", "sketch-status")
        dataset.change(lambda name: new_choices([NO_CLASS, *shelf.class_names(name)]), dataset, class_name,
                       api_name=False, queue=False)
        for source in (upload, pad, centre, dataset):
            source.change(preview, [dataset, upload, pad, centre], shown, api_name=False)
        wire(go, stop, follow, [dataset, upload, pad, class_name, centre, count, temperature, seed, guidance, pace],
             [shown, canvas, belief, drawn, status], "sketch")
    return [shown, canvas, belief]
