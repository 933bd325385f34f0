"""Completions measured as the Complete tab makes them: keep the top rows of held-out images in the
page's form, draw the rest conditioned on the image's class, and count the completions a judge
still reads as that class."""

import numpy as np
import torch

from pixelcnn import data as datasets
from pixelcnn.sampling import sample
from pixelcnn.evaluation.calibration import page_form
from pixelcnn.evaluation.judge import predict

BATCH = 400  # completions drawn at once


def complete_held_out(model, d: datasets.ImageDataset, per_class: int, keep_rows: int, count: int, keywords: dict, seed: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` completions of each of `per_class` held-out images of every class (a seeded draw),
    its top `keep_rows` rows kept, drawn with the sampler's `keywords` (a two-stage model completes
    its sketch first) -> ((N, count, C, H, W) uint8 completions, (N,) classes, (N, C, H, W) uint8
    originals in the page's form)."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.permutation(np.flatnonzero(d.test_y == c))[:per_class] for c in range(len(d.class_names))])
    originals = page_form(model, list(d.test_x[picked, 0])) if d.image_shape[0] == 1 else torch.from_numpy(
        datasets.quantize(d.test_x[picked], model.levels))
    known = originals.repeat_interleave(count, 0)
    mask = torch.zeros_like(known, dtype=torch.bool)
    mask[:, :, :keep_rows] = True
    labels = torch.from_numpy(d.test_y[picked]).repeat_interleave(count)
    drawn = torch.cat([sample(model, len(rows), labels=labels[rows], known=known[rows], known_mask=mask[rows], seed=seed + k, **keywords)
                       for k, rows in enumerate(torch.arange(len(labels)).split(BATCH))])
    drawn = datasets.dequantize(drawn.numpy(), model.levels)
    return drawn.reshape(len(picked), count, *drawn.shape[1:]), d.test_y[picked], datasets.dequantize(originals.numpy(), model.levels)


def kept_share(classifier, drawn: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, count, C, H, W) completions of images of classes (N,) -> (N,) the share the judge reads as their class."""
    n, count = drawn.shape[:2]
    return (predict(classifier, drawn.reshape(n * count, *drawn.shape[2:])).reshape(n, count) == labels[:, None]).mean(1)


def completion_lines(model, classifier, d, per_class: int, keep_rows: int, count: int, settings: list, seed: int) -> tuple[list[str], dict]:
    """The Complete tab's measure at each sampling `Setting` -> (card lines, figures)."""
    lines, figures = [], {"completion": []}
    for setting in settings:
        drawn, labels, originals = complete_held_out(model, d, per_class, keep_rows, count, setting.keywords(model), seed)
        shares = kept_share(classifier, drawn, labels)
        by_class = np.array([shares[labels == c].mean() for c in range(len(d.class_names))])
        worst = int(np.argmin(by_class))
        figures["completion"].append({"setting": setting.key, "kept": float(shares.mean()), "kept_by_class": by_class.tolist(),
                                      "originals_read_right": float((predict(classifier, originals) == labels).mean())})
        lines.append(f"- Completions at {setting.key} (the top {keep_rows} rows of {per_class} held-out images of each class kept, in "
                     f"the page's form, {count} completions each, conditioned on the image's class): the judge reads "
                     f"**{100 * shares.mean():.1f}%** as the image's class; fewest: {d.class_names[worst]}, "
                     f"**{count * by_class[worst]:.1f} of {count}**; by class: "
                     + ", ".join(f"{name} {count * share:.1f}" for name, share in zip(d.class_names, by_class)))
    return lines, figures
