"""Complete: draw or upload a digit; the model keeps its top rows and draws the rest."""

import gradio as gr

from pixelcnn.studio import requests
from pixelcnn.studio.serving import Picture, friendly
from pixelcnn.studio.shelf import Shelf, picture_of
from pixelcnn.studio.watch import DEFAULT_PACE
from pixelcnn.studio.widgets import (UPLOAD_HEIGHT, Slider, choice, classes_and_settings, drawing_view, pen, picture_examples, purpose,
                                     sampling_controls, wire)


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def complete(dataset, upload, drawing, class_name, keep_rows, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE,
                 sketch_guidance=None, sketch_temperature=None):
        # A two-stage model where one is loaded: it completes the coarse sketch from the kept rows first, which keeps
        # the digit far more often (README: completions).
        yield from friendly(requests.complete, shelf.drawer(dataset), dataset, picture_of(upload, drawing), class_name, keep_rows, count,
                            temperature, seed, guidance, pace, sketch_guidance, sketch_temperature)

    def preview(dataset, upload, drawing, keep_rows):
        """The digit as the model sees it, its class guess, a sentence."""
        path = picture_of(upload, drawing)
        if dataset not in shelf.models or path is None:
            return None, gr.update(), ""
        try:
            shown, guess, sentence = requests.completion_preview(shelf.models[dataset], dataset, path, keep_rows, shelf.drawer(dataset))
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
                    shown = Picture(label="What the model keeps (tinted rows: drawn anew)", type="pil", format="png", interactive=False,
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
