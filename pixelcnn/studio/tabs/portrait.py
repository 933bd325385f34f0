"""Portrait: a face photo becomes a 512-d identity vector, and the PixelCNN conditioned on it draws
new faces of that person (or of a mix of two people)."""

import gradio as gr

from pixelcnn.studio import requests
from pixelcnn.studio.checks import LAYOUTS, NEW_POSE
from pixelcnn.studio.serving import Picture, friendly, refuse
from pixelcnn.studio.shelf import Shelf, sketch_first
from pixelcnn.studio.watch import DEFAULT_PACE
from pixelcnn.studio.widgets import Radio, Slider, drawing_view, picture_examples, purpose, sampling_controls, wire

HONEST = ("The portrait model learnt from the ORL faces: 360 photos of 40 people. For one of them (try the ORL examples, photos it never "
          "saw) it draws that person in new poses; for anyone else it draws the faces it knows that are nearest to that embedding, so "
          "expect a likeness of hair, glasses and face shape, not the person.")
LAYOUT_INFO = ("New pose: the model draws the person from the face embedding alone, pose and light its own. Keep my photo's layout: your "
               "photo's own 8x8 sketch (where the face, hair and light are) stays; the detail comes from the face.")


def tab(shelf: Shelf) -> list:
    def make_portraits(upload, camera, second, mix, walk, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE, layout=NEW_POSE):
        model = shelf.portraits.get(layout, shelf.portraits[NEW_POSE])
        if model is None or shelf.encoder is None:
            raise refuse("The portrait model or the face encoder is not loaded on this server; see the notes at the top.")
        photo = upload if upload is not None else camera
        yield from friendly(requests.portraits, model, shelf.encoder, photo, second, mix, walk, count, temperature, seed, guidance, pace,
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
                    "Portraits", 8, "Draw portraits", "portraits", guidance=shelf.guidance_for("Portraits"),
                    temperature=shelf.temperature_for("Portraits"))
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
                crops = Picture(label="The face the encoder used", type="pil", format="png", interactive=False, elem_id="crops", height=200)
                canvas, belief, drawn, status = drawing_view("New portraits", "portrait-canvas", "portrait-belief", "portrait-status")
        second.change(lambda f: (gr.update(visible=f is not None),) * 2, second, [mix, walk], api_name=False, queue=False)
        wire(go, stop, make_portraits, [upload, camera, second, mix, walk, count, temperature, seed, guidance, pace, layout],
             [crops, canvas, belief, drawn, status], "portraits")
    return [crops, canvas, belief]
