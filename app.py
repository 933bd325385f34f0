"""PixelCNN studio: watch a Gated PixelCNN draw, pixel by pixel.

    python app.py                      # bundled weights from assets/, http://127.0.0.1:7860
    python app.py --hub org/repo       # weights through the Hugging Face Hub (falls back to assets/)

Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT. The page only calls the `pixelcnn` package.
"""

import argparse
import os
import sys

import gradio as gr
import torch

from pixelcnn import demo
from pixelcnn.hub import HubUnavailable, fetch
from pixelcnn.model import GatedPixelCNN

ABOUT = """
**What you are watching.** A PixelCNN writes an image the way you read one: pixel by pixel, row
by row, each pixel drawn from a probability distribution over its 256 possible intensities that
a neural network computes from every pixel above and to the left. The *Gated* PixelCNN
(van den Oord et al., 2016, [arXiv 1606.05328](https://arxiv.org/abs/1606.05328)) uses two
stacks of masked convolutions so no pixel above is ever hidden, and a label (a digit, a garment)
steers every layer. Orange marks the pixel being drawn; blue ones are not drawn yet.

Model cards: {cards}. Code and training commands: the repository's README.
"""


def load_models(hub: str | None) -> tuple[dict[str, GatedPixelCNN], list[str]]:
    """Each model from the Hub location if one is given, else (or on failure) from assets/."""
    models, notes = {}, []
    for label, name in demo.DATASETS.items():
        model = None
        if hub:
            try:
                model = GatedPixelCNN.from_pretrained(fetch(f"{hub.rstrip('/')}/{name}")).eval()
                notes.append(f"{label}: loaded from the Hub ({hub}/{name}).")
            except (HubUnavailable, ValueError) as err:
                notes.append(f"{label}: {err} Using the bundled weights.")
        if model is None:
            model = demo.bundled(name)
        if model is not None:
            models[label] = model
        else:
            notes.append(f"{label}: no weights found (assets/{name} is missing); the tab is disabled.")
    return models, notes


def friendly(generator):
    """Run a frame generator for the page: bad requests become one message, frames become outputs."""
    try:
        for frame in generator:
            yield frame.image, frame.status
    except ValueError as err:
        raise gr.Error(str(err), print_exception=False) from None


def build(models: dict[str, GatedPixelCNN], notes: list[str]) -> gr.Blocks:
    names = list(models)
    first = models[names[0]] if names else None

    def model_for(dataset):
        if dataset not in models:
            raise gr.Error(f"No model is loaded for {dataset!r}; choose one of: {', '.join(names) or 'none'}.", print_exception=False)
        return models[dataset]

    def classes(dataset):
        model = models.get(dataset)
        choices = model.class_names if model else []
        return gr.Dropdown(choices=choices, value=choices[0] if choices else None)

    def generate(dataset, class_name, count, temperature, seed):
        yield from friendly(demo.by_class(model_for(dataset), dataset, class_name, count, temperature, seed))

    def complete(dataset, upload, drawing, class_name, keep_rows, count, temperature, seed):
        path = upload or (drawing or {}).get("composite")
        yield from friendly(demo.complete(model_for(dataset), dataset, path, class_name, keep_rows, count, temperature, seed))

    cards = ", ".join(f"[{label}](https://huggingface.co/models?other=pixelcnn) (`assets/{demo.DATASETS[label]}/README.md`)" for label in names)
    with gr.Blocks(title="PixelCNN studio") as page:
        gr.Markdown("# PixelCNN studio\nWatch an autoregressive model draw, one pixel at a time.")
        if notes:
            gr.Markdown("\n".join(f"- {note}" for note in notes))
        with gr.Tab("By class"):
            with gr.Row():
                with gr.Column(scale=1):
                    dataset = gr.Dropdown(names, value=names[0] if names else None, label="Dataset")
                    class_name = gr.Dropdown(first.class_names if first else [], value=first.class_names[0] if first else None, label="Class", allow_custom_value=True)
                    count = gr.Slider(1, demo.MAX_IMAGES, value=16, step=1, label="Images")
                    temperature = gr.Slider(demo.MIN_TEMPERATURE, demo.MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature")
                    seed = gr.Textbox(label="Seed (blank = random)", value="")
                    with gr.Row():
                        go = gr.Button("Generate", variant="primary", elem_id="generate")
                        stop = gr.Button("Stop", elem_id="stop")
                with gr.Column(scale=2):
                    canvas = gr.Image(label="Samples", type="pil", format="png", elem_id="canvas", interactive=False)
                    status = gr.Markdown(elem_id="status")
            dataset.change(classes, dataset, class_name, api_name=False)
            event = go.click(generate, [dataset, class_name, count, temperature, seed], [canvas, status], api_name="generate", concurrency_limit=2)
            stop.click(None, None, None, cancels=[event], api_name=False)

        with gr.Tab("Complete"):
            gr.Markdown("Draw a digit (light on dark or dark on light) or upload one; the model keeps its top rows and draws the rest.")
            with gr.Row():
                with gr.Column(scale=1):
                    c_dataset = gr.Dropdown(names, value=names[0] if names else None, label="Dataset")
                    drawing = gr.Sketchpad(type="filepath", label="Draw", canvas_size=(280, 280))
                    upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath")
                    c_class = gr.Dropdown(first.class_names if first else [], value=first.class_names[0] if first else None, label="Class", allow_custom_value=True)
                    keep = gr.Slider(0, 28, value=14, step=1, label="Rows to keep")
                    c_count = gr.Slider(1, demo.MAX_IMAGES, value=8, step=1, label="Completions")
                    c_temperature = gr.Slider(demo.MIN_TEMPERATURE, demo.MAX_TEMPERATURE, value=1.0, step=0.05, label="Temperature")
                    c_seed = gr.Textbox(label="Seed (blank = random)", value="")
                    with gr.Row():
                        c_go = gr.Button("Complete", variant="primary", elem_id="complete")
                        c_stop = gr.Button("Stop")
                with gr.Column(scale=2):
                    c_canvas = gr.Image(label="Completions", type="pil", format="png", interactive=False)
                    c_status = gr.Markdown()
            c_dataset.change(classes, c_dataset, c_class, api_name=False)
            c_event = c_go.click(
                complete, [c_dataset, upload, drawing, c_class, keep, c_count, c_temperature, c_seed], [c_canvas, c_status], api_name="complete", concurrency_limit=2
            )
            c_stop.click(None, None, None, cancels=[c_event], api_name=False)

        with gr.Accordion("About", open=False):
            gr.Markdown(ABOUT.format(cards=cards or "none loaded"))
    return page


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--hub", default=os.environ.get("PIXELCNN_HUB_REPO"), help="Hub location org/repo holding mnist/, fashion-mnist/ (default: env PIXELCNN_HUB_REPO)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1, so two requests at a time share a 2-vCPU machine without contention)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    models, notes = load_models(args.hub)
    for note in notes:
        print(note, file=sys.stderr)
    page = build(models, notes)
    page.queue(max_size=32, default_concurrency_limit=2)
    page.launch(max_file_size=demo.MAX_UPLOAD_BYTES)


if __name__ == "__main__":
    main()
