"""The model as a classifier, as the page uses it: its temperature fitted on held-out images in
the page's form, its calibration error before and after, the surprise above which a picture is
"not a digit" (fitted on held-out digits redrawn as the pad draws them), and its reading of drawn
digits and of drawings that are not digits."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelcnn import data as datasets
from pixelcnn.explain import SURE, calibration_error, class_log_likelihoods, fit_temperature, read_class, softmax
from pixelcnn.pictures.reading import model_pixels, pad_drawing


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


SURPRISE_QUANTILE = 0.95  # held-out pad drawings of the classes under the limit: at most 5% of drawn digits told "not a digit"
LEFT_FOR_THE_TESTS = 5  # the first held-out digits of each class: the drawn-digit test set (tests/data/make_drawn_digits.py)


def fit_surprise(model, d: datasets.ImageDataset, images: int, seed: int) -> tuple[float, list[str], dict]:
    """The surprise limit: `images` held-out test images (a seeded draw, leaving out the first
    LEFT_FOR_THE_TESTS of each class) redrawn as a visitor's pad draws them and brought into the
    page's form; the limit is the SURPRISE_QUANTILE quantile of their surprise -> (limit, card lines, figures)."""
    rng = np.random.default_rng(seed)
    tested = np.concatenate([np.flatnonzero(d.test_y == c)[:LEFT_FOR_THE_TESTS] for c in np.unique(d.test_y)])
    picked = rng.permutation(np.setdiff1d(np.arange(len(d.test_y)), tested))[:images]
    drawings = page_form(model, [pad_drawing(d.test_x[k, 0], rng) for k in picked])
    surprise = np.array([read_class(model, drawings[k : k + 1]).surprise for k in range(len(drawings))])
    limit = float(np.quantile(surprise, SURPRISE_QUANTILE))
    lines = [f"- \"Not a digit\": the page says so of a picture whose bits per sub-pixel{' (of its 7x7 sketch)' if model.STAGED else ''} "
             f"under its most likely class exceed **{limit:.3f}**, the {100 * SURPRISE_QUANTILE:.0f}th percentile over {len(picked)} held-out "
             f"test images redrawn as the pad draws them (median {np.median(surprise):.3f}; seed {seed})."]
    return limit, lines, {"surprise_limit": limit, "surprise_median": float(np.median(surprise))}


def labelled(folder: Path) -> list[Path]:
    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise SystemExit(f"{folder}: no PNG files there.")
    return paths


def read_drawn(model, folder: Path) -> tuple[list[str], dict]:
    """The model's reading of the drawn-digit set (pictures named ...-<label>.png) through the
    page's upload path -> (card lines, figures)."""
    paths = labelled(folder)
    labels = np.array([model.class_names.index(p.stem.rsplit("-", 1)[1]) for p in paths])
    readings = [read_class(model, page_form(model, [Image.open(p)])) for p in paths]
    probs = np.stack([r.probs for r in readings])
    right = probs.argmax(1) == labels
    sure = probs.max(1) >= SURE
    outside = np.array([r.outside for r in readings])
    figures = {"drawn_accuracy": float(right.mean()), "drawn_wrong_top_p": [round(float(q), 3) for q in probs.max(1)[~right]],
               "drawn_not_sure": int((~sure).sum()), "drawn_wrong_and_sure": int((~right & sure).sum()),
               "drawn_not_a_digit": float(outside.mean())}
    lines = [f"- Drawn digits (`{folder}`, {len(paths)} held-out digits redrawn as a pad makes them, read through the page's upload path): "
             f"read right **{100 * right.mean():.0f}%**; wrong {int((~right).sum())}, of which {figures['drawn_wrong_and_sure']} with "
             f"p >= {SURE}; the page says \"not sure\" on {figures['drawn_not_sure']}, and \"not a digit\" on "
             f"**{100 * outside.mean():.0f}%** ({int(outside.sum())})."]
    return lines, figures


def read_others(model, folder: Path) -> tuple[list[str], dict]:
    """The model's reading of pictures that are none of its classes (letters, shapes, scribbles,
    faces, as a pad draws them) through the page's upload path -> (card lines, figures)."""
    paths = labelled(folder)
    readings = [read_class(model, page_form(model, [Image.open(p)])) for p in paths]
    outside = np.array([r.outside for r in readings])
    unsure = np.array([r.guess is None for r in readings])
    missed = [p.stem for p, r in zip(paths, readings) if not r.outside]
    figures = {"others_not_a_digit": float(outside.mean()), "others_no_class_stated": float(unsure.mean()), "others_missed": missed}
    lines = [f"- Not digits (`{folder}`, {len(paths)} letters, shapes, scribbles and faces drawn as a pad makes them): the page says "
             f"\"not a digit\" of **{100 * outside.mean():.0f}%**, and states no digit (\"not a digit\" or \"not sure\") for "
             f"{100 * unsure.mean():.0f}%; taken for digits: {', '.join(missed) or 'none'}."]
    return lines, figures
