"""By class: pick a dataset and a class, watch new images of it drawn pixel by pixel."""

from collections.abc import Iterator

import gradio as gr
import torch

from pixelcnn.studio.checks import class_index, parse_count, parse_seed, stage_settings
from pixelcnn.studio.frames import Ask, Frame, stream
from pixelcnn.studio.serving import friendly
from pixelcnn.studio.shelf import LEARNT, Shelf
from pixelcnn.studio.watch import DEFAULT_PACE, parse_pace
from pixelcnn.studio.widgets import choice, classes_and_settings, drawing_view, purpose, sampling_controls, wire


def by_class(model, dataset: str, class_name, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE,
             sketch_guidance=None, sketch_temperature=None) -> Iterator[Frame]:
    n = parse_count(count)
    label = class_index(model, class_name, dataset)
    settings = stage_settings(model, guidance, temperature, sketch_guidance, sketch_temperature)
    yield from stream(Ask(model, n, labels=torch.full((n,), label), seed=parse_seed(seed), **settings), pace=parse_pace(pace))


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def generate(dataset, class_name, count, temperature, seed, guidance=0.0, pace=DEFAULT_PACE, sketch_guidance=None,
                 sketch_temperature=None):
        yield from friendly(by_class, shelf.drawer(dataset), dataset, class_name, count, temperature, seed, guidance, pace,
                            sketch_guidance, sketch_temperature)

    with gr.Tab("By class"):
        purpose("Pick a dataset and a class: the model draws new images of it, one pixel at a time, row by row.")
        with gr.Row():
            with gr.Column(scale=1):
                dataset = choice(names, "Dataset")
                class_name = choice(shelf.class_names(names[0] if names else None), "Class")
                start = shelf.drawing_settings(names[0]) if names else (0.0, 0.0, 1.0, 1.0)
                count, temperature, seed, pace, go, stop, guidance, sketch_guidance, sketch_temperature = sampling_controls(
                    "Images", 16, "Generate", "generate", "stop", guidance=start[0], sketch_guidance=start[1], temperature=start[2],
                    sketch_temperature=start[3])
                learnt = gr.Markdown(LEARNT.get(names[0], "") if names else "")
            with gr.Column(scale=2):
                canvas, belief, drawn, status = drawing_view("Samples", "canvas", "belief", "status")
        dataset.change(lambda name: classes_and_settings(shelf, name), dataset, [class_name, guidance, sketch_guidance, temperature,
                                                                                     sketch_temperature], api_name=False)
        dataset.change(lambda name: LEARNT.get(name, ""), dataset, learnt, api_name=False, queue=False)
        wire(go, stop, generate, [dataset, class_name, count, temperature, seed, guidance, pace, sketch_guidance, sketch_temperature],
             [canvas, belief, drawn, status], "generate")
    return [canvas, belief]
