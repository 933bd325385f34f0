"""Inspect: how many bits each pixel of a picture costs the model, what class it reads in it, and
which pixels a clicked pixel's prediction looks at (beside the original PixelCNN's blind spot)."""

import gradio as gr
import numpy as np
import torch
from PIL import Image

from pixelcnn.explain import Reading, dependency_map, noun, read_class, surprise_map
from pixelcnn.pictures.writing import to_uint8
from pixelcnn.pictures.reading import model_pixels
from pixelcnn.studio.checks import open_upload
from pixelcnn.studio.palette import CURSOR, UNDRAWN, UNSEEN
from pixelcnn.studio.serving import answered
from pixelcnn.studio.shelf import Shelf, original_of, picture_of
from pixelcnn.studio.widgets import UPLOAD_HEIGHT, Label, choice, clicked, new_choices, pen, picture_examples, purpose

SCALE = 10  # screen pixels per image pixel in every Inspect picture
BEST_GUESS = "Its best guess"  # the Class choice that uses the class the model finds most likely
# As on the drawing tabs: dark blue (UNDRAWN) is not drawn yet when the pixel is predicted; orange (CURSOR) is the pixel asked about.


def heat(values: np.ndarray, top: float) -> np.ndarray:
    """(H, W) values in [0, top] -> (H, W, 3) uint8 colours of matplotlib's magma map."""
    from matplotlib import colormaps

    return (colormaps["magma"](np.clip(values / max(top, 1e-12), 0, 1))[..., :3] * 255).round().astype(np.uint8)


def upscale(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(rgb.repeat(SCALE, axis=0).repeat(SCALE, axis=1))


def as_rgb(x: torch.Tensor, levels: int) -> np.ndarray:
    """(1, C, H, W) ints -> (H, W, 3) uint8."""
    image = to_uint8(x, levels)[0]
    return np.repeat(image, 3 // image.shape[2], axis=2)


def read(model, dataset: str, image_path, class_choice, classify: bool = False, reader=None
         ) -> tuple[torch.Tensor, Reading | None, int]:
    """An upload or drawing -> (the image as the model sees it (1, C, H, W), what the model reads in
    it, the class its surprise and dependencies are computed under). The reading (a pass per class,
    by `reader`, default the model itself) is made when asked for or when the class is the model's
    best guess, else None."""
    if image_path is None:
        raise ValueError("Draw a digit or a garment, upload an image, or pick an example first.")
    named = class_choice not in (None, "", BEST_GUESS)
    if named and class_choice not in model.class_names:
        raise ValueError(f"{dataset} has no class {class_choice!r}; choose a Class from: {BEST_GUESS}, {', '.join(model.class_names)}.")
    x = model_pixels(model, open_upload(image_path))
    found = read_class(reader or model, x) if classify or not named else None
    return x, found, model.class_names.index(class_choice) if named else int(found.probs.argmax())


def inspect_picture(model, dataset: str, image_path, class_choice, reader=None) -> tuple[Image.Image, tuple, str, Image.Image]:
    """-> (the surprise map, (the headline: the class read, or "Not sure" / "Not a digit"; {class name:
    p(class | image)}) by `reader` (default: the model), a sentence with the totals, the image as the
    model sees it, to click on)."""
    x, found, label = read(model, dataset, image_path, class_choice, classify=True, reader=reader)
    bits = surprise_map(model, x, label=label).numpy()  # (C, H, W)
    per_pixel = bits.sum(0)  # (H, W): a pixel's bits, all its colours
    bpd = float(bits.mean())
    name = model.class_names[label]
    sentence = (f"Given the class **{name}**, this image costs the model **{bits.sum():.0f} bits**, **{bpd:.3f} bits per pixel**: how "
                f"surprising it finds it (lower = more typical; the brightest pixel on the map costs {per_pixel.max():.1f} bits). "
                f"As a classifier (Bayes over its classes, calibrated) it reads "
                f"the image as {found.words}{' (from its coarse sketch)' if (reader or model).STAGED else ''}.")
    labels = {class_name: float(p) for class_name, p in zip(model.class_names, found.probs)}
    return upscale(heat(per_pixel, per_pixel.max())), (headline(found, model), labels), sentence, upscale(as_rgb(x, model.levels))


def headline(found: Reading, model) -> str:
    """The word above the bars: the class read, and never a class when the model is not sure."""
    if found.outside:
        return f"Not a {noun(model)}"
    return "Not sure" if found.guess is None else model.class_names[found.guess]


def pixel_at(model, x_px, y_px) -> tuple[int, int]:
    """A click on the upscaled image (x, y in screen pixels) -> (row, col), or a ValueError."""
    h, w = model.image_size
    try:
        col, row = int(x_px) // SCALE, int(y_px) // SCALE
    except (TypeError, ValueError):
        raise ValueError("Click a pixel of the image on the left to see where its prediction looks.") from None
    if not (0 <= row < h and 0 <= col < w and int(x_px) >= 0 and int(y_px) >= 0):
        raise ValueError(f"That click is outside the {h} x {w} image; click one of its pixels.")
    return row, col


def looks_map(model, x: torch.Tensor, label: int, row: int, col: int) -> tuple[Image.Image, int, int]:
    """One model's dependency map for the prediction of pixel (row, col) -> (the picture, how many
    earlier pixels it sees, how many earlier pixels it cannot see)."""
    strength = dependency_map(model, x, row, col, channel=0, label=label).sum(0).numpy()  # (H, W)
    h, w = strength.shape
    rows, cols = np.indices((h, w))
    past = (rows < row) | ((rows == row) & (cols < col))
    seen = strength > 0
    shade = np.log1p(strength / max(strength.max(), 1e-30) * 1e3) / np.log1p(1e3)  # log scale: faint links stay visible
    rgb = 0.8 * heat(shade, 1.0) + 0.2 * as_rgb(x, model.levels)  # the image shows through, faintly
    rgb[~seen & past] = UNSEEN
    rgb[~past] = UNDRAWN
    rgb = rgb.round().astype(np.uint8)
    rgb[row, col] = CURSOR
    return upscale(rgb), int((seen & past).sum()), int((~seen & past).sum())


def where_it_looks(gated, original, dataset: str, image_path, class_choice, x_px, y_px, reader=None
                   ) -> tuple[Image.Image, Image.Image | None, str]:
    """A click at (x_px, y_px) on the image -> (the Gated PixelCNN's dependency map, the original
    PixelCNN's, a sentence comparing them), under the class chosen or read by `reader`."""
    x, _, label = read(gated, dataset, image_path, class_choice, reader=reader)
    row, col = pixel_at(gated, x_px, y_px)
    gated_map, gated_seen, gated_unseen = looks_map(gated, x, label, row, col)
    where = f"pixel (row {row + 1}, column {col + 1})"
    if original is None:
        return gated_map, None, f"The Gated PixelCNN's prediction of {where} looks at {gated_seen} earlier pixels."
    original_map, original_seen, original_unseen = looks_map(original, x, label, row, col)
    sentence = (f"To predict {where}, the Gated PixelCNN looks at **{gated_seen}** of the earlier pixels and misses {gated_unseen}; "
                f"the original PixelCNN looks at **{original_seen}** and misses **{original_unseen}**"
                + (": the red wedge above and to the right is its blind spot." if original_unseen > gated_unseen else "."))
    return gated_map, original_map, sentence


LOOKS = ("**Where a pixel looks.** Click a pixel of the image below: the maps shade every pixel whose value changes the model's prediction "
         "for it (brighter = more), computed through the model itself. Orange: the pixel you clicked; dark blue: not drawn yet when it is "
         "predicted; red: drawn already, yet out of the prediction's sight.")


def picture(label: str, elem_id: str) -> gr.Image:
    return gr.Image(label=label, type="pil", format="png", interactive=False, elem_id=elem_id, height=300)


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def look(dataset, upload, drawing, class_choice):
        return answered(inspect_picture, shelf.model_for(dataset), dataset, picture_of(upload, drawing), class_choice, shelf.reader(dataset))

    def looks_at(dataset, upload, drawing, class_choice, x_px, y_px):
        return answered(where_it_looks, shelf.model_for(dataset), shelf.models.get(original_of(dataset)), dataset,
                        picture_of(upload, drawing), class_choice, x_px, y_px, shelf.reader(dataset))

    with gr.Tab("Inspect"):
        purpose("Draw or upload an image: see how many bits the model needs for each pixel, what class it thinks the image is, "
                "and, when you click a pixel, which pixels its prediction looks at.", legend=False)
        with gr.Row():
            with gr.Column(scale=1):
                dataset = choice(names, "Dataset", "inspect-dataset")
                pad = gr.Sketchpad(type="filepath", format="png", label="Draw", canvas_size=(196, 196), height=250, brush=pen(), elem_id="inspect-pad")
                upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="inspect-upload", height=UPLOAD_HEIGHT)
                class_choice = choice([BEST_GUESS, *shelf.class_names(names[0] if names else None)], "Class the bits are counted under",
                                      "inspect-class")
                go = gr.Button("Inspect", variant="primary", elem_id="inspect")
                if shelf.held_out():
                    picture_examples(shelf.held_out(), upload, "Held-out test images (MNIST digits, Fashion-MNIST garments)", (dataset,))
            with gr.Column(scale=2):
                with gr.Row():
                    surprise = picture("Surprise: bits per pixel (bright = unexpected)", "inspect-surprise")
                    classes = Label(label="The model as a classifier: p(class | image)", num_top_classes=10, elem_id="inspect-classes")
                summary = gr.Markdown(elem_id="inspect-summary")
                gr.Markdown(LOOKS)
                with gr.Row():
                    image, gated, original = (picture("Click a pixel", "inspect-image"), picture("Gated PixelCNN", "inspect-gated"),
                                              picture("Original PixelCNN", "inspect-original"))
                looks = gr.Markdown(elem_id="inspect-looks")
                x, y = gr.Number(visible=False), gr.Number(visible=False)
        inputs, outputs = [dataset, upload, pad, class_choice], [surprise, classes, summary, image]
        dataset.change(lambda name: new_choices([BEST_GUESS, *shelf.class_names(name)]), dataset, class_choice, api_name=False, queue=False)
        go.click(look, inputs, outputs, api_name="inspect", concurrency_limit=2)
        for source in (upload, pad, class_choice):
            source.change(look, inputs, outputs, api_name=False, trigger_mode="always_last", concurrency_limit=2)
        image.select(clicked, None, [x, y], api_name=False, queue=False).then(looks_at, [*inputs, x, y], [gated, original, looks],
                                                                              api_name="where_it_looks", concurrency_limit=2)
    return [surprise, image, gated, original]
