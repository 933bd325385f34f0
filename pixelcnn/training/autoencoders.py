"""The auto-encoders measured side by side: the PixelCNN auto-encoder's held-out bits/dim (and
what its code saves against the unconditional twin), the MSE auto-encoder's error, and the
paper's figure (originals, MSE reconstructions, several PixelCNN decodings of each code)."""

import json
import time
from pathlib import Path

import numpy as np
import torch

from pixelcnn import data as datasets
from pixelcnn.images import save_grid
from pixelcnn.loader import load
from pixelcnn.training.cards import figure_rows, write_card_section
from pixelcnn.training.metrics import mean_loss


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
        lines.append(f"- The unconditional Gated PixelCNN of the same size and budget (`{args.twin}`): **{twin_bpd:.4f}** bits/dim; "
                     f"the code {'saves' if twin_bpd >= bpd else 'costs'} {abs(twin_bpd - bpd):.4f} bits/dim")
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
