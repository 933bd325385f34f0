"""The model as a classifier, as the page uses it: its temperature fitted on held-out images in
the page's form, its calibration error before and after, and its reading of drawn digits."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelcnn import data as datasets
from pixelcnn.explain import SURE, calibration_error, class_log_likelihoods, class_probabilities, fit_temperature, softmax
from pixelcnn.pictures import model_pixels


def page_form(model, pictures) -> torch.Tensor:
    """Pictures (PIL images, or (H, W) uint8 arrays) -> (N, C, H, W) model ints, each brought into
    the model's form the way the page brings an upload (`pictures.model_pixels`)."""
    return torch.cat([model_pixels(model, p if isinstance(p, Image.Image) else Image.fromarray(p)) for p in pictures])


def log_likelihood_table(model, x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) ints -> (N, K) log p(x | c) in nats."""
    return np.stack([class_log_likelihoods(model, x[k : k + 1]) for k in range(len(x))])


def calibrate(model, d: datasets.ImageDataset, images: int, seed: int) -> tuple[float, list[str], dict]:
    """Fit the classifier's temperature on `images` held-out test images (a seeded draw, brought
    into the page's form) and measure the expected calibration error on as many others, before
    and after -> (temperature, card lines, figures)."""
    picked = np.random.default_rng(seed).permutation(len(d.test_y))[: 2 * images]
    x = page_form(model, d.test_x[picked, 0])
    table, labels = log_likelihood_table(model, x), d.test_y[picked]
    fit, check = slice(0, images), slice(images, 2 * images)
    temperature = fit_temperature(table[fit], labels[fit])
    before, after = softmax(table[check]), softmax(table[check], temperature)
    right = after.argmax(1) == labels[check]
    sure = after.max(1) >= SURE
    figures = {"temperature": temperature, "ece_before": calibration_error(before, labels[check]),
               "ece_after": calibration_error(after, labels[check]), "accuracy": float(right.mean()),
               "sure_share": float(sure.mean()), "accuracy_when_sure": float(right[sure].mean()) if sure.any() else float("nan"),
               "accuracy_when_not_sure": float(right[~sure].mean()) if (~sure).any() else float("nan")}
    lines = [
        f"- Calibration of the model as a classifier: temperature **{temperature:.1f}** on its class log-likelihoods, fitted on "
        f"{images} held-out test images in the page's form (seed {seed}); on {images} other held-out images the expected calibration "
        f"error goes from {100 * figures['ece_before']:.1f}% (plain Bayes) to **{100 * figures['ece_after']:.1f}%**. "
        f"Accuracy {100 * figures['accuracy']:.1f}%; it answers with p >= {SURE} on {100 * figures['sure_share']:.0f}% of them and is "
        f"right on {100 * figures['accuracy_when_sure']:.1f}% of those, against {100 * figures['accuracy_when_not_sure']:.1f}% below "
        f"{SURE} (where the page says it is not sure).",
    ]
    return temperature, lines, figures


def read_drawn(model, folder: Path) -> tuple[list[str], dict]:
    """The model's reading of the drawn-digit set (pictures named ...-<label>.png) through the
    page's upload path -> (card lines, figures)."""
    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise SystemExit(f"--drawn {folder}: no PNG files there.")
    labels = np.array([model.class_names.index(p.stem.rsplit("-", 1)[1]) for p in paths])
    probs = np.stack([class_probabilities(model, page_form(model, [Image.open(p)])) for p in paths])
    right = probs.argmax(1) == labels
    sure = probs.max(1) >= SURE
    figures = {"drawn_accuracy": float(right.mean()), "drawn_wrong_top_p": [round(float(q), 3) for q in probs.max(1)[~right]],
               "drawn_not_sure": int((~sure).sum()), "drawn_wrong_and_sure": int((~right & sure).sum())}
    lines = [f"- Drawn digits (`{folder}`, {len(paths)} held-out digits redrawn as a pad makes them, read through the page's upload path): "
             f"read right **{100 * right.mean():.0f}%**; wrong {int((~right).sum())}, of which {figures['drawn_wrong_and_sure']} with "
             f"p >= {SURE}; the page says \"not sure\" on {figures['drawn_not_sure']}."]
    return lines, figures
