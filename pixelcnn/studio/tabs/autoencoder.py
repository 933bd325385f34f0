"""Auto-encoder: a digit squeezed into 10 numbers, decoded by a PixelCNN (sampling) beside a plain
MSE decoder: what the code keeps, and what the PixelCNN invents."""

import gradio as gr

from pixelcnn.studio import requests
from pixelcnn.studio.serving import Picture, friendly, refuse
from pixelcnn.studio.shelf import Shelf, picture_of
from pixelcnn.studio.watch import DEFAULT_PACE
from pixelcnn.studio.widgets import UPLOAD_HEIGHT, drawing_view, pen, picture_examples, purpose, sampling_controls, wire

HONEST = ("The MSE decoder gives back one blurry average. The PixelCNN decodes the same 10 numbers several times: each decoding "
          "sharp and a little different (stroke, thickness, small details), and the same digit in about 86% of held-out cases. The "
          "code reaches the decoder as a map over the whole picture, so it says where the strokes go; the PixelCNN invents the "
          "rest. Both learnt from the same 9,003 MNIST digits.")


def tab(shelf: Shelf) -> list:
    pixelcnn_ae, mse_ae = shelf.models.get("Auto-encoder (PixelCNN)"), shelf.models.get("Auto-encoder (MSE)")
    reader = shelf.drawer("MNIST") if "MNIST" in shelf.models else None  # reads the digit in the input and in each decoding

    def decode(upload, drawing, count, temperature, seed, pace=DEFAULT_PACE):
        if pixelcnn_ae is None or mse_ae is None:
            raise refuse("The auto-encoders are not loaded on this server; see the notes at the top.")
        yield from friendly(requests.autoencode, pixelcnn_ae, mse_ae, picture_of(upload, drawing), count, temperature, seed, pace, reader,
                            stills=1)

    with gr.Tab("Auto-encoder"):
        purpose("An encoder squeezes a digit into 10 numbers; a PixelCNN decodes them by sampling, beside a plain MSE decoder.")
        gr.Markdown(HONEST)
        with gr.Row():
            with gr.Column(scale=1):
                pad = gr.Sketchpad(type="filepath", format="png", label="Draw a digit", canvas_size=(196, 196), height=250, brush=pen())
                upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="autoencoder-upload",
                                 height=UPLOAD_HEIGHT)
                count, temperature, seed, pace, go, stop = sampling_controls("PixelCNN decodings", 8, "Decode", "autoencode")
                if shelf.examples("mnist-*.png"):
                    picture_examples(shelf.examples("mnist-*.png"), upload, "Held-out MNIST digits")
            with gr.Column(scale=2):
                pair = Picture(label="The input as encoded | the MSE reconstruction", type="pil", format="png", interactive=False)
                canvas, belief, drawn, status = drawing_view("PixelCNN decodings of the same code", "autoencoder-canvas", "autoencoder-belief",
                                                             "autoencoder-status")
        wire(go, stop, decode, [upload, pad, count, temperature, seed, pace], [pair, canvas, belief, drawn, status], "autoencode")
    return [pair, canvas, belief]
