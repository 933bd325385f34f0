"""Inspect: how many bits each pixel of a picture costs the model, what class it reads in it, and
which pixels a clicked pixel's prediction looks at (beside the original PixelCNN's blind spot)."""

import gradio as gr

from pixelcnn.studio import inspection
from pixelcnn.studio.serving import Picture, answered
from pixelcnn.studio.shelf import Shelf, original_of, picture_of
from pixelcnn.studio.widgets import UPLOAD_HEIGHT, Label, choice, clicked, new_choices, pen, picture_examples, purpose

LOOKS = ("**Where a pixel looks.** Click a pixel of the image below: the maps shade every pixel whose value changes the model's prediction "
         "for it (brighter = more), computed through the model itself. Orange: the pixel you clicked; dark blue: not drawn yet when it is "
         "predicted; red: drawn already, yet out of the prediction's sight.")


def picture(label: str, elem_id: str) -> gr.Image:
    return Picture(label=label, type="pil", format="png", interactive=False, elem_id=elem_id, height=300)


def tab(shelf: Shelf) -> list:
    names = shelf.names

    def inspect(dataset, upload, drawing, class_choice):
        return answered(inspection.inspect, shelf.model_for(dataset), dataset, picture_of(upload, drawing), class_choice, shelf.drawer(dataset))

    def looks_at(dataset, upload, drawing, class_choice, x_px, y_px):
        return answered(inspection.where_it_looks, shelf.model_for(dataset), shelf.models.get(original_of(dataset)), dataset,
                        picture_of(upload, drawing), class_choice, x_px, y_px, shelf.drawer(dataset))

    with gr.Tab("Inspect"):
        purpose("Draw or upload an image: see how many bits the model needs for each pixel, what class it thinks the image is, "
                "and, when you click a pixel, which pixels its prediction looks at.", legend=False)
        with gr.Row():
            with gr.Column(scale=1):
                dataset = choice(names, "Dataset", "inspect-dataset")
                pad = gr.Sketchpad(type="filepath", format="png", label="Draw", canvas_size=(196, 196), height=250, brush=pen(), elem_id="inspect-pad")
                upload = gr.File(label="…or upload an image", file_types=["image"], type="filepath", elem_id="inspect-upload", height=UPLOAD_HEIGHT)
                class_choice = choice([inspection.BEST_GUESS, *shelf.class_names(names[0] if names else None)], "Class the bits are counted under",
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
        dataset.change(lambda name: new_choices([inspection.BEST_GUESS, *shelf.class_names(name)]), dataset, class_choice, api_name=False, queue=False)
        go.click(inspect, inputs, outputs, api_name="inspect", concurrency_limit=2)
        for source in (upload, pad, class_choice):
            source.change(inspect, inputs, outputs, api_name=False, trigger_mode="always_last", concurrency_limit=2)
        image.select(clicked, None, [x, y], api_name=False, queue=False).then(looks_at, [*inputs, x, y], [gated, original, looks],
                                                                              api_name="where_it_looks", concurrency_limit=2)
    return [surprise, image, gated, original]
