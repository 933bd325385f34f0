"""Portrait: a face photo becomes a 512-d identity vector, and the PixelCNN conditioned on it draws
new faces of that person (or of a mix of two people)."""

from collections.abc import Iterator

import gradio as gr
import numpy as np
import torch
from PIL import Image

from pixelcnn.data import quantize, square_resize
from pixelcnn.faces import crop_to_image, load_photo, slerp
from pixelcnn.pictures.writing import tile
from pixelcnn.studio.checks import (KEEP_LAYOUT, LAYOUTS, NEW_POSE, open_upload, parse_count, parse_layout, parse_mix, parse_seed,
                                    stage_settings)
from pixelcnn.studio.frames import Ask, Frame, stream
from pixelcnn.studio.serving import friendly, refuse
from pixelcnn.studio.shelf import Shelf, sketch_first
from pixelcnn.studio.watch import DEFAULT_PACE, parse_pace
from pixelcnn.studio.widgets import Radio, Slider, drawing_view, picture_examples, purpose, sampling_controls, wire


HONEST = ("The portrait model learnt from the ORL faces: 360 photos of 40 people. For one of them (try the ORL examples, photos it never "
          "saw) it draws that person in new poses; for anyone else it draws the faces it knows that are nearest to that embedding, so "
          "expect a likeness of hair, glasses and face shape, not the person.")
LAYOUT_INFO = ("New pose: the model draws the person from the face embedding alone, pose and light its own. Keep my photo's layout: your "
               "photo's own 8x8 sketch (where the face, hair and light are) stays; the detail comes from the face.")


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


def tab(shelf: Shelf) -> list:
    def make_portraits(upload, camera, second, mix, walk, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE, layout=NEW_POSE):
        model = shelf.portraits.get(layout, shelf.portraits[NEW_POSE])
        if model is None or shelf.encoder is None:
            raise refuse("The portrait model or the face encoder is not loaded on this server; see the notes at the top.")
        photo = upload if upload is not None else camera
        yield from friendly(portraits, model, shelf.encoder, photo, second, mix, walk, count, temperature, seed, guidance, pace,
                            layout, stills=1)

    with gr.Tab("Portrait"):
        purpose("Upload a portrait: the face encoder finds the face, and the PixelCNN, conditioned on its embedding, draws new "
                "32x32 greyscale faces from it.")
        gr.Markdown(HONEST)
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label="Portrait", file_types=["image"], type="filepath", elem_id="portrait-upload", height=120)
                examples = shelf.examples("orl-*.png") + shelf.examples("*.jpg")
                if examples:  # right under the upload, in view at 1280x900
                    picture_examples(examples, upload, "Examples: held-out ORL photos (the model knows these people), and outside portraits")
                count, temperature, seed, pace, go, stop, guidance = sampling_controls(
                    "Portraits", 8, "Draw portraits", "portraits", guidance=shelf.guidance_for(shelf.portrait_label),
                    temperature=shelf.temperature_for(shelf.portrait_label))  # the settings of the model that draws new poses
                # Under the button, so that the examples and the button are both in view at 1280x900.
                layout = Radio(list(LAYOUTS), value=NEW_POSE, label="Layout", elem_id="portrait-layout",
                               visible=sketch_first("Portraits") in shelf.models, info=LAYOUT_INFO)
                with gr.Accordion("Webcam or clipboard", open=False):
                    camera = gr.Image(label="…or the webcam / clipboard", sources=["webcam", "clipboard"], type="pil")
                with gr.Accordion("Mix with a second person", open=False):
                    second = gr.File(label="Second portrait", file_types=["image"], type="filepath", elem_id="portrait-second")
                    mix = Slider(0, 1, value=0.5, step=0.05, label="Mix: 0 = first person, 1 = second", visible=False, elem_id="portrait-mix")
                    walk = gr.Checkbox(label="Walk from the first person to the second, one image per step", value=False, visible=False,
                                       elem_id="portrait-walk")
            with gr.Column(scale=2):
                crops = gr.Image(label="The face the encoder used", type="pil", format="png", interactive=False, elem_id="crops", height=200)
                canvas, belief, drawn, status = drawing_view("New portraits", "portrait-canvas", "portrait-belief", "portrait-status")
        second.change(lambda f: (gr.update(visible=f is not None),) * 2, second, [mix, walk], api_name=False, queue=False)
        wire(go, stop, make_portraits, [upload, camera, second, mix, walk, count, temperature, seed, guidance, pace, layout],
             [crops, canvas, belief, drawn, status], "portraits")
    return [crops, canvas, belief]
