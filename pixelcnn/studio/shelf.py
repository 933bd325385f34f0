"""The models the page serves: which folder holds each (in assets/ or a Hub repo), loading them
(Hub first when asked, the bundled weights otherwise), and which model draws, reads or guides
what on each tab."""

import os
from pathlib import Path

import gradio as gr

import pixelcnn
from pixelcnn.faces import EMBEDDING, check_embedding
from pixelcnn.hub import HubUnavailable
from pixelcnn.studio.checks import KEEP_LAYOUT, NEW_POSE, default_guidance
from pixelcnn.studio.serving import refuse

# The bundled weights: a checkout's assets/ (or PIXELCNN_ASSETS, for an installed package).
ASSETS = Path(os.environ.get("PIXELCNN_ASSETS", Path(__file__).resolve().parents[2] / "assets"))
DATASETS = {"MNIST": "mnist", "Fashion-MNIST": "fashion-mnist"}
# Classifier-free guidance the page starts at, per model folder: the value that measured best
# (`pixelcnn evaluate`, see the model cards). Models without an unconditional branch get 0.
DEFAULT_GUIDANCE = {"mnist": 2.0, "fashion-mnist": 0.5, "portraits": 0.0, "mnist-sketch": 0.0, "fashion-mnist-sketch": 0.0,
                    "portraits-sketch": 0.0}
# A two-stage model's sketch-stage guidance the page starts at, per folder (its Guidance slider is the detail stage's).
DEFAULT_SKETCH_GUIDANCE = {"mnist-sketch": 0.75, "fashion-mnist-sketch": 0.5, "portraits-sketch": 0.0}
# The temperature the page starts at, per folder (a two-stage model's: its detail stage's), and a two-stage model's
# sketch-stage temperature: chosen with the guidance by class, realism and variety at once (the cards' Evaluation
# tables, docs/quality.md); 1.0 where not listed. MNIST's: the rule's pick over four seeds (its card's second
# table), detail stage at 0.9 (strokes whole, not broken, where 1 breaks them). Fashion-MNIST's: the rule's pick
# over seeds 0-2 (docs/quality.md), a warm sketch stage (1.0) with light guidance, the detail stage at 0.9.
# The Portrait tab's temperature (both layouts) is the portrait models' best identity rate at an unchanged face
# realism.
DEFAULT_TEMPERATURE = {"mnist-sketch": 0.9, "fashion-mnist-sketch": 0.9, "portraits": 0.6, "portraits-sketch": 0.6}
DEFAULT_SKETCH_TEMPERATURE = {"mnist-sketch": 0.9, "fashion-mnist-sketch": 1.0}
# What each model learnt from, said where its tab uses it.
LEARNT = {
    "MNIST": "The MNIST model learnt from 9,003 handwritten digits; 997 more were kept back to test it.",
    "Fashion-MNIST": "The Fashion-MNIST model learnt from Zalando's 60,000 small greyscale photos of clothes.",
}


def sketch_first(label: str) -> str:
    """The label of the two-stage model (a sketch, then the detail) for the data of `label`."""
    return f"{label} (sketch first)"


def reader_of(label: str) -> str:
    """The label of the model that reads the class in a visitor's picture of `label`'s data, where
    it is not the model that draws (MNIST: the drawer is surer of its wrong readings)."""
    return f"{label} (reader)"


def original_of(label: str) -> str:
    """The label of the original PixelCNN trained on the same data as the model labelled `label`."""
    return f"{label} (original PixelCNN)"


# Models that only read the class in a visitor's picture and never draw: label -> folder.
READERS = {reader_of("MNIST"): "mnist-reader"}
# Every model the page can show: label -> its folder in assets/ and in a Hub repo.
MODELS = {
    **DATASETS,
    **{original_of(label): f"{name}-original" for label, name in DATASETS.items()},
    "Portraits": "portraits",
    **READERS,
    **{sketch_first(label): f"{name}-sketch" for label, name in {**DATASETS, "Portraits": "portraits"}.items()},
    "Auto-encoder (PixelCNN)": "autoencoder/pixelcnn-m10",
    "Auto-encoder (MSE)": "autoencoder/mse-m10",
}


def loaded(location) -> "torch.nn.Module":  # noqa: F821
    """A model through the one loader; one conditioned on a vector (a face's) checked against our face
    encoder (an auto-encoder's decoder takes its code inside the model, not from the page)."""
    model = pixelcnn.load(location)
    if getattr(model, "cond_dim", 0):
        check_embedding(model, EMBEDDING)
    return model


def bundled(name: str):
    """The model saved in assets/<name>, or None when it is not there."""
    folder = ASSETS / name
    return loaded(folder) if (folder / "model.safetensors").exists() else None


def load_models(hub: str | None) -> tuple[dict, list[str]]:
    """Each model of MODELS from the Hub location if one is given, else (or on failure) from assets/."""
    models, notes = {}, []
    for label, name in MODELS.items():
        model = None
        if hub:
            try:
                model = loaded(f"{hub.rstrip('/')}/{name}")
                notes.append(f"{label}: loaded from the Hub ({hub}/{name}).")
            except (HubUnavailable, ValueError) as err:
                notes.append(f"{label}: {err} Using the bundled weights.")
        if model is None:
            model = bundled(name)
        if model is not None:
            models[label] = model
        else:
            notes.append(f"{label}: no weights found (assets/{name} is missing); the tab is disabled.")
    return models, notes


def load_encoder(notes: list[str]):
    """The face encoder for the Portrait tab, or None with a note saying how to get its weights."""
    from pixelcnn.faces import FaceEncoder

    try:
        return FaceEncoder()
    except RuntimeError as err:
        notes.append(f"Portrait: the face encoder is unavailable ({err}); run `pixelcnn fetch faces`.")
        return None


class Shelf:
    """The loaded models, and which of them each tab uses."""

    def __init__(self, models: dict, notes: list[str]):
        self.models, self.notes = models, notes
        self.names = [label for label in DATASETS if label in models]  # the datasets the drawing tabs offer
        self.first = models[self.names[0]] if self.names else None
        # Both layouts come from the two-stage portrait model where it is loaded: sketching a new pose
        # first, it measured the better likeness (docs/quality.md, Portraits); the one-stage one stands in.
        self.portrait_label = sketch_first("Portraits") if sketch_first("Portraits") in models else "Portraits"
        self.portraits = {NEW_POSE: models.get(self.portrait_label), KEEP_LAYOUT: models.get(sketch_first("Portraits"))}
        self.encoder = load_encoder(notes) if self.portraits[NEW_POSE] is not None else None

    def model_for(self, dataset):
        if dataset not in self.models:
            raise refuse(f"Dataset must be one of: {', '.join(self.names) or 'none is loaded'}, not {dataset!r}.")
        return self.models[dataset]

    def drawer(self, dataset):
        """The model that draws a dataset's classes: its two-stage model where one is loaded."""
        return self.models.get(sketch_first(dataset)) or self.model_for(dataset)

    def reader(self, dataset):
        """The model that reads the class in a visitor's picture of a dataset: its reader where one
        is loaded, else its drawer."""
        return self.models.get(reader_of(dataset)) or self.drawer(dataset)

    def drawing(self) -> list:
        """The loaded models a tab may draw with: all but the readers."""
        return [model for label, model in self.models.items() if label not in READERS]

    def guidance_for(self, label, defaults=DEFAULT_GUIDANCE) -> float:
        model = self.models.get(label)
        return default_guidance(MODELS[label], model, defaults) if model is not None else 0.0

    def drawing_settings(self, dataset) -> tuple[float, float, float, float]:
        """(guidance, sketch guidance, temperature, sketch temperature) the By class tab starts at for a dataset."""
        label = sketch_first(dataset) if sketch_first(dataset) in self.models else dataset
        return (self.guidance_for(label), self.guidance_for(label, DEFAULT_SKETCH_GUIDANCE), self.temperature_for(label),
                self.temperature_for(label, DEFAULT_SKETCH_TEMPERATURE))

    def temperature_for(self, label, defaults=DEFAULT_TEMPERATURE) -> float:
        return defaults.get(MODELS.get(label), 1.0)

    def class_names(self, dataset) -> list[str]:
        model = self.models.get(dataset)
        return model.class_names if model else []

    def examples(self, pattern: str) -> list[str]:
        return sorted(str(p) for p in (ASSETS / "examples").glob(pattern))

    def held_out(self) -> list[list[str]]:
        """[path, dataset label] of each held-out test image in assets/examples, for loaded datasets."""
        return [[path, label] for label, name in DATASETS.items() if label in self.models for path in self.examples(f"{name}-test-*.png")]

    def card_links(self) -> str:
        """Markdown links to the loaded models' cards, served as they are (the About text links them)."""
        cards = {label: ASSETS / MODELS[label] / "README.md" for label in self.models}
        cards = {label: path for label, path in cards.items() if path.exists()}
        gr.set_static_paths(list(cards.values()))
        return ", ".join(f"[{label}](/gradio_api/file={path})" for label, path in cards.items())


def picture_of(upload, drawing):
    """The picture a tab works on: the uploaded file, else the pad's drawing (its composite), or None."""
    return upload or (drawing or {}).get("composite")
