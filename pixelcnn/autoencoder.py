"""Auto-encoders: a Gated PixelCNN decoder conditioned on an m-dimensional code (the paper's
section 3.4), and a plain MSE auto-encoder with the same encoder and code size to compare with.

    python -m pixelcnn.autoencoder assets/autoencoder/pixelcnn-m10 --mse assets/autoencoder/mse-m10 \\
        --twin RUN/model --dataset mnist [--write-card]

writes the paper's figure (originals, MSE reconstructions, several PixelCNN decodings of each
code) and measures held-out bits/dim against the unconditional twin and the MSE error.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .model import GatedPixelCNN
from .sampling import sample

CODE_NAME = "autoencoder-code"
HUB_KWARGS = dict(library_name="pixelcnn", tags=["pixelcnn", "autoencoder"], license="mit")


class Encoder(nn.Module):
    """(B, C, H, W) floats in [0, 1] -> (B, code_dim) codes. H and W must be multiples of 4."""

    def __init__(self, image_channels: int, image_size: list, code_dim: int, channels: int):
        super().__init__()
        h, w = image_size
        if h % 4 or w % 4:
            raise ValueError(f"the auto-encoders need sides that are multiples of 4, got {h}x{w}.")
        self.net = nn.Sequential(
            nn.Conv2d(image_channels, channels, 4, 2, 1), nn.ReLU(),  # (B, ch, H/2, W/2)
            nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.ReLU(),  # (B, 2ch, H/4, W/4)
            nn.Flatten(), nn.Linear(2 * channels * (h // 4) * (w // 4), code_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AutoEncoderBase(nn.Module):
    """What both auto-encoders share: the config, the encoder, and integer-to-float input."""

    def __init__(self, image_channels, image_size, levels, code_dim, encoder_channels, dataset):
        super().__init__()
        if code_dim < 1:
            raise ValueError(f"code_dim must be at least 1, got {code_dim}.")
        self.image_channels = image_channels
        self.image_size = list(image_size)
        self.levels = levels
        self.code_dim = code_dim
        self.dataset = dataset
        self.encoder = Encoder(image_channels, self.image_size, code_dim, encoder_channels)

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        """Integer intensities in [0, levels) -> floats in [0, 1]."""
        if x.is_floating_point() or x.dim() != 4 or tuple(x.shape[1:]) != (self.image_channels, *self.image_size):
            raise ValueError(f"x must be integer images of shape (B, {self.image_channels}, {self.image_size[0]}, {self.image_size[1]}).")
        return x.to(self.encoder.net[0].weight.dtype) / (self.levels - 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints in [0, levels) -> (B, code_dim) codes."""
        return self.encoder(self.unit(x))

    def encoder_line(self) -> str:
        ch = self.encoder.net[0].out_channels
        return f"a 2-layer convolutional encoder ({ch} and {2 * ch} channels) to an m = {self.code_dim} code"

    def parameters_line(self) -> str:
        return f"{sum(p.numel() for p in self.parameters()):,} parameters"

    # What a subclass names: its MEASURE (key, words), the method that measures it per image, and its card's words.
    MEASURE: tuple[str, str]
    TITLE = SENTENCE = DECODER = ""

    def measured(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) the model's MEASURE of each image (labels and cond are not used)."""
        return self.measured(x)

    def card(self) -> tuple[str, str, str]:
        """(title, what it is in a sentence, its size in a line) for the model card."""
        return f"{self.TITLE}, m = {self.code_dim}", self.SENTENCE, f"{self.encoder_line()}; decoder: {self.DECODER or self.decoder.layers_line()}; {self.parameters_line()}."


class PixelCNNAutoEncoder(AutoEncoderBase, PyTorchModelHubMixin, **HUB_KWARGS):
    """Encoder -> code -> a Gated PixelCNN decoder conditioned on the code; trained on its NLL."""

    def __init__(
        self,
        image_channels: int = 1,
        image_size: list | None = None,
        levels: int = 256,
        code_dim: int = 10,
        encoder_channels: int = 32,
        hidden_channels: int = 32,
        num_layers: int = 8,
        kernel_size: int = 5,
        cond_dropout: float = 0.0,
        dataset: str = "",
    ):
        super().__init__(image_channels, image_size or [28, 28], levels, code_dim, encoder_channels, dataset)
        self.decoder = GatedPixelCNN(
            image_channels=image_channels, image_size=self.image_size, levels=levels, hidden_channels=hidden_channels,
            num_layers=num_layers, kernel_size=kernel_size, cond_dim=code_dim, cond_name=CODE_NAME, cond_dropout=cond_dropout,
            dataset=dataset,
        )

    def forward(self, x: torch.Tensor, unconditional=None) -> torch.Tensor:
        """(B, C, H, W) ints -> logits (B, levels, C, H, W) of x given its own code (or, for rows
        where the optional (B,) bools `unconditional` are set, given no code)."""
        return self.decoder(x, cond=self.encode(x), unconditional=unconditional)

    def bits_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) bits per sub-pixel of x given its own code."""
        return self.decoder.bits_per_dim(x, cond=self.encode(x))

    MEASURE = GatedPixelCNN.MEASURE
    measured = bits_per_dim
    TITLE = "PixelCNN auto-encoder"
    SENTENCE = ("An encoder and a Gated PixelCNN decoder conditioned on its code, trained together on the decoder's NLL "
                "(van den Oord et al. 2016, arXiv 1606.05328, section 3.4), from the `pixelcnn` package.")

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, decodings: int = 1, seed=None, temperature: float = 1.0, guidance: float = 0.0) -> torch.Tensor:
        """(B, code_dim) codes -> (B, decodings, C, H, W) ints: images sampled from p(x | code)."""
        cond = codes.repeat_interleave(decodings, dim=0)
        images = sample(self.decoder, len(cond), cond=cond, seed=seed, temperature=temperature, guidance=guidance)
        return images.view(len(codes), decodings, *images.shape[1:])


class MSEAutoEncoder(AutoEncoderBase, PyTorchModelHubMixin, **HUB_KWARGS):
    """The same encoder and code size, a deconvolutional decoder, trained on mean squared error."""

    def __init__(
        self,
        image_channels: int = 1,
        image_size: list | None = None,
        levels: int = 256,
        code_dim: int = 10,
        encoder_channels: int = 32,
        dataset: str = "",
    ):
        super().__init__(image_channels, image_size or [28, 28], levels, code_dim, encoder_channels, dataset)
        h, w = self.image_size
        ch = encoder_channels
        self.decoder = nn.Sequential(
            nn.Linear(code_dim, 2 * ch * (h // 4) * (w // 4)), nn.ReLU(),
            nn.Unflatten(1, (2 * ch, h // 4, w // 4)),
            nn.ConvTranspose2d(2 * ch, ch, 4, 2, 1), nn.ReLU(),  # (B, ch, H/2, W/2)
            nn.ConvTranspose2d(ch, image_channels, 4, 2, 1), nn.Sigmoid(),  # (B, C, H, W) in [0, 1]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints -> reconstructions (B, C, H, W) in [0, 1]."""
        return self.decoder(self.encode(x))

    def mse(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) mean squared error per sub-pixel, intensities in [0, 1]."""
        return (self(x) - self.unit(x)).pow(2).flatten(1).mean(1)

    MEASURE = ("mse", "mean squared error")
    measured = mse
    TITLE = "MSE auto-encoder"
    SENTENCE = ("The baseline for the PixelCNN auto-encoder: the same encoder and code size, a deconvolutional decoder, "
                "trained on mean squared error, from the `pixelcnn` package.")
    DECODER = "a linear layer and 2 transposed convolutions"

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints -> (B, C, H, W) ints in [0, levels): the rounded reconstruction."""
        return (self(x) * (self.levels - 1)).round().long()


def load(location: str):
    """A saved auto-encoder of either kind, from a folder or a Hub location (org/repo[/sub]); its
    config.json says which kind -> the model in eval mode."""
    from .hub import fetch

    folder = Path(location) if Path(location).is_dir() else fetch(location)
    config = json.loads((folder / "config.json").read_text())
    kind = PixelCNNAutoEncoder if "hidden_channels" in config else MSEAutoEncoder
    return kind.from_pretrained(folder).eval()


# -- the paper's figure and the measurements ------------------------------------------------------


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


def main(argv=None):
    from . import data as datasets
    from .cards import write_card_section
    from .images import save_grid
    from .metrics import mean_loss

    parser = argparse.ArgumentParser(prog="python -m pixelcnn.autoencoder", description=__doc__.strip().splitlines()[0])
    parser.add_argument("model", help="the PixelCNN auto-encoder: a saved folder or a Hub repo id")
    parser.add_argument("--mse", required=True, help="the MSE auto-encoder with the same code size")
    parser.add_argument("--twin", default="", help="the unconditional PixelCNN of the same size and budget")
    parser.add_argument("--dataset", required=True, choices=sorted(datasets.WAYS))
    parser.add_argument("--rows", type=int, default=10, help="held-out images in the figure, evenly spread over the test set (default: 10)")
    parser.add_argument("--decodings", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-card", action="store_true", help="write the numbers and figure into both model cards")
    args = parser.parse_args(argv)

    start = time.time()
    pixelcnn, mse = load(args.model), load(args.mse)
    d = datasets.load_dataset(args.dataset)
    if list(d.image_shape[1:]) != pixelcnn.image_size:
        d = datasets.resize_dataset(d, pixelcnn.image_size[-1])
    test = datasets.quantize(d.test_x, pixelcnn.levels)
    bpd = mean_loss(pixelcnn, d.test_x)
    error = mean_loss(mse, d.test_x)
    results = {"test_bpd": bpd, "mse_test_mse": error}
    lines = [
        f"- Held-out bits/dim of the PixelCNN auto-encoder (m = {pixelcnn.code_dim}), each image given its own code: **{bpd:.4f}** "
        f"({len(test)} test images of {d.name})",
        f"- The MSE auto-encoder (same encoder, m = {mse.code_dim}): held-out mean squared error **{error:.5f}** per sub-pixel "
        f"on [0, 1] intensities (RMSE {255 * error ** 0.5:.1f} grey levels of 255)",
    ]
    if args.twin:
        twin = GatedPixelCNN.from_pretrained(args.twin).eval()
        results["twin_test_bpd"] = twin_bpd = mean_loss(twin, d.test_x)
        lines.append(f"- The unconditional Gated PixelCNN of the same size and budget (`{args.twin}`): **{twin_bpd:.4f}** bits/dim; "
                     f"the code {'saves' if twin_bpd >= bpd else 'costs'} {abs(twin_bpd - bpd):.4f} bits/dim")
    rows = torch.from_numpy(test[np.linspace(0, len(test) - 1, args.rows).round().astype(int)])  # spread over the test set
    figure = figure_rows(rows, pixelcnn, mse, args.decodings, args.seed)
    for folder in (args.model, args.mse):
        if Path(folder).is_dir():
            save_grid(figure, pixelcnn.levels, Path(folder) / "figure.png", columns=2 + args.decodings, scale=3)
    lines.insert(0, f"- Command: `python -m pixelcnn.autoencoder {' '.join(sys.argv[1:] if argv is None else argv)}` "
                    f"({(time.time() - start) / 60:.1f} min)")
    lines.append(f"\n![each row: a held-out image, its MSE reconstruction, {args.decodings} PixelCNN decodings of its code](figure.png)")
    print("\n".join(lines))
    print(json.dumps(results))
    if args.write_card:
        for folder in (args.model, args.mse):
            write_card_section(Path(folder), "\n".join(lines))


if __name__ == "__main__":
    main()
