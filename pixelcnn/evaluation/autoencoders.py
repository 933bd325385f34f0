"""The auto-encoders measured side by side: whether a decoding is still the digit that was encoded
(the project's judge, for the PixelCNN decodings and the MSE reconstruction), what the code saves
in bits/dim against the unconditional twin, how much decodings of one code differ from each
other, and the paper's figure (originals, MSE reconstructions, several PixelCNN decodings of each
code)."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pixelcnn import data as datasets
from pixelcnn.pictures.writing import save_grid
from pixelcnn.loader import load
from pixelcnn.evaluation.cards import figure_rows, write_card_section
from pixelcnn.evaluation.judge import predict, train_classifier
from pixelcnn.training.metrics import mean_loss
from pixelcnn.evaluation.realism import features, spread


@dataclass
class Kept:
    """What the decodings of held-out images' codes keep of them."""

    kept: float  # share of PixelCNN decodings the judge reads as the encoded image's class
    kept_by_class: np.ndarray
    mse_kept: float  # the same for the MSE reconstructions
    originals: float  # the judge on the originals themselves: the ceiling
    variety: float  # mean pairwise judge-feature distance among one code's decodings / the same among real images of its class
    pixel_difference: float  # RMS difference between two decodings of one code, in grey levels of 255
    mse_error: float  # RMS difference between the MSE reconstruction and the original, in grey levels of 255


def held_out(test_y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of `per_class` held-out images of every class (a seeded draw), class by class."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(np.flatnonzero(test_y == c))[:per_class] for c in np.unique(test_y)])


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a.astype(np.float64) - b) ** 2).mean()))


@torch.no_grad()
def kept(pixelcnn, mse, classifier, d: datasets.ImageDataset, per_class: int, decodings: int, temperature: float, seed: int) -> Kept:
    """Encode `per_class` held-out images of every class, decode each code `decodings` times with the
    PixelCNN (at `temperature`) and once with the MSE auto-encoder, and read them all with the judge."""
    picked = held_out(d.test_y, per_class, seed)
    originals, labels = d.test_x[picked], d.test_y[picked]
    x = torch.from_numpy(datasets.quantize(originals, pixelcnn.levels))
    drawn = pixelcnn.decode(pixelcnn.encode(x), decodings, seed=seed, temperature=temperature)  # (N, K, C, H, W)
    drawn = datasets.dequantize(drawn.flatten(0, 1).numpy(), pixelcnn.levels).reshape(len(x), decodings, *originals.shape[1:])
    rebuilt = datasets.dequantize(mse.reconstruct(torch.from_numpy(datasets.quantize(originals, mse.levels))).numpy(), mse.levels)
    hits = (predict(classifier, drawn.reshape(-1, *originals.shape[1:])).reshape(len(x), decodings) == labels[:, None])
    ones = features(classifier, drawn.reshape(-1, *originals.shape[1:])).reshape(len(x), decodings, -1)
    real = features(classifier, d.test_x)
    own_spread = np.mean([spread(code) for code in ones])
    class_spread = np.mean([spread(real[d.test_y == c][:100]) for c in np.unique(labels)])
    pairs = [rms(code[i], code[j]) for code in drawn for i in range(decodings) for j in range(i + 1, decodings)]
    return Kept(float(hits.mean()), np.array([hits[labels == c].mean() for c in np.unique(labels)]),
                float((predict(classifier, rebuilt) == labels).mean()), float((predict(classifier, originals) == labels).mean()),
                float(own_spread / class_spread), float(np.mean(pairs)), rms(rebuilt, originals))


def kept_lines(found: Kept, per_class: int, decodings: int, temperature: float, classes: int) -> list[str]:
    worst = int(np.argmin(found.kept_by_class))
    return [
        f"- Decodings that are still the encoded image's class (the judge, a small CNN; {per_class} held-out images of each of "
        f"{classes} classes, {decodings} decodings of each code at temperature {temperature:g}): PixelCNN **{100 * found.kept:.1f}%** "
        f"(fewest: class {worst}, {100 * found.kept_by_class[worst]:.0f}%), MSE reconstruction **{100 * found.mse_kept:.1f}%**; "
        f"the judge reads {100 * found.originals:.1f}% of the originals right",
        f"- Variety among decodings of one code: the judge's features of one code's decodings lie {found.variety:.2f} as far apart as "
        f"different real images of a class; two decodings of one code differ by {found.pixel_difference:.1f} grey levels (RMS of 255), "
        f"where the MSE auto-encoder gives one image, {found.mse_error:.1f} grey levels (RMS) from the original",
    ]


def evaluate_autoencoder(args, pixelcnn, command: str) -> None:
    """`pixelcnn evaluate AUTOENCODER --mse MSE [--twin TWIN]`: the numbers and figure, printed and
    (with --write-card) written into both models' cards."""
    if not args.mse:
        raise SystemExit("an auto-encoder is measured beside the MSE auto-encoder of the same code size: pass --mse FOLDER.")
    start = time.time()
    mse = load(args.mse)
    d = datasets.load_dataset(args.dataset)
    if list(d.image_shape[1:]) != pixelcnn.image_size:
        d = datasets.resize_dataset(d, pixelcnn.image_size[-1])
    test = datasets.quantize(d.test_x, pixelcnn.levels)
    bpd, error = mean_loss(pixelcnn, d.test_x), mean_loss(mse, d.test_x)
    results = {"test_bpd": bpd, "mse_test_mse": error}
    lines = [
        f"- Held-out bits/dim of the PixelCNN auto-encoder (m = {pixelcnn.code_dim}), each image given its own code: **{bpd:.4f}** "
        f"({len(test)} test images of {d.name})",
        f"- The MSE auto-encoder (same encoder, m = {mse.code_dim}): held-out mean squared error **{error:.5f}** per sub-pixel "
        f"on [0, 1] intensities (RMSE {255 * error ** 0.5:.1f} grey levels of 255)",
    ]
    if args.twin:
        results["twin_test_bpd"] = twin_bpd = mean_loss(load(args.twin), d.test_x)
        pixels = int(np.prod(d.image_shape))
        lines.append(f"- The unconditional Gated PixelCNN of the same size (`{args.twin}`): **{twin_bpd:.4f}** bits/dim; the code "
                     f"{'saves' if twin_bpd >= bpd else 'costs'} **{abs(twin_bpd - bpd):.4f}** bits/dim ({abs(twin_bpd - bpd) * pixels:.0f} bits an image)")
    if args.per_class:
        classifier = train_classifier(d)
        for temperature in args.temperature:
            found = kept(pixelcnn, mse, classifier, d, args.per_class, args.decodings, temperature, args.seed)
            results.setdefault("kept", []).append({"temperature": temperature, **{k: v.tolist() if isinstance(v, np.ndarray) else v
                                                                                  for k, v in vars(found).items()}})
            lines += kept_lines(found, args.per_class, args.decodings, temperature, len(d.class_names))
    rows = torch.from_numpy(test[np.linspace(0, len(test) - 1, args.rows).round().astype(int)])  # spread over the test set
    figure = figure_rows(rows, pixelcnn, mse, args.decodings, args.seed)
    for folder in (args.model, args.mse):
        if Path(folder).is_dir():
            save_grid(figure, pixelcnn.levels, Path(folder) / "figure.png", columns=2 + args.decodings, scale=3)
    lines.insert(0, f"- Command: `{command}` ({(time.time() - start) / 60:.1f} min)")
    lines.append(f"\n![each row: a held-out image, its MSE reconstruction, {args.decodings} PixelCNN decodings of its code](figure.png)")
    print("\n".join(lines))
    print(json.dumps(results))
    if args.write_card:
        for folder in (args.model, args.mse):
            write_card_section(Path(folder), "\n".join(lines))
