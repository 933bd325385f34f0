"""Auto-encoder: a digit squeezed into 10 numbers, decoded by a PixelCNN (sampling) beside a plain
MSE decoder: what the code keeps, and what the PixelCNN invents."""

from collections.abc import Iterator
from dataclasses import replace

import gradio as gr
import numpy as np
import torch
from PIL import Image

from pixelcnn.explain import read_class
from pixelcnn.pictures.writing import tile, to_uint8
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio.checks import open_upload, parse_count, parse_seed, parse_temperature
from pixelcnn.studio.frames import Ask, Frame, stream
from pixelcnn.studio.serving import friendly, refuse
from pixelcnn.studio.shelf import Shelf, picture_of
from pixelcnn.studio.watch import DEFAULT_PACE, parse_pace
from pixelcnn.studio.widgets import UPLOAD_HEIGHT, drawing_view, pen, picture_examples, purpose, sampling_controls, wire


HONEST = ("The MSE decoder gives back one blurry average. The PixelCNN decodes the same 10 numbers several times: each decoding "
          "sharp and a little different (stroke, thickness, small details), and the same digit in about 86% of held-out cases. The "
          "code reaches the decoder as a map over the whole picture, so it says where the strokes go; the PixelCNN invents the "
          "rest. Both learnt from the same 9,003 MNIST digits.")


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


def tab(shelf: Shelf) -> list:
    pixelcnn_ae, mse_ae = shelf.models.get("Auto-encoder (PixelCNN)"), shelf.models.get("Auto-encoder (MSE)")
    reader = shelf.reader("MNIST") if "MNIST" in shelf.models else None  # reads the digit in the input and in each decoding

    def decode(upload, drawing, count, temperature, seed, pace=DEFAULT_PACE):
        if pixelcnn_ae is None or mse_ae is None:
            raise refuse("The auto-encoders are not loaded on this server; see the notes at the top.")
        yield from friendly(autoencode, pixelcnn_ae, mse_ae, picture_of(upload, drawing), count, temperature, seed, pace, reader,
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
                pair = gr.Image(label="The input as encoded | the MSE reconstruction", type="pil", format="png", interactive=False)
                canvas, belief, drawn, status = drawing_view("PixelCNN decodings of the same code", "autoencoder-canvas", "autoencoder-belief",
                                                             "autoencoder-status")
        wire(go, stop, decode, [upload, pad, count, temperature, seed, pace], [pair, canvas, belief, drawn, status], "autoencode")
    return [pair, canvas, belief]
