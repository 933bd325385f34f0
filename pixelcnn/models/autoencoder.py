"""Auto-encoders: a Gated PixelCNN decoder conditioned on an m-dimensional code (the paper's
section 3.4), and a plain MSE auto-encoder with the same encoder and code size to compare with."""

import torch
from torch import nn

from pixelcnn.models.gated import GatedPixelCNN
from pixelcnn.models.saved import Saved
from pixelcnn.sampling import sample

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

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) each image's loss, in the unit LOSS names (labels and cond are not used)."""
        raise NotImplementedError


class PixelCNNAutoEncoder(AutoEncoderBase, Saved, **HUB_KWARGS):
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

    LOSS = GatedPixelCNN.LOSS

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        return self.bits_per_dim(x)

    TITLE = "PixelCNN auto-encoder"

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, decodings: int = 1, seed=None, temperature: float = 1.0, guidance: float = 0.0) -> torch.Tensor:
        """(B, code_dim) codes -> (B, decodings, C, H, W) ints: images sampled from p(x | code)."""
        cond = codes.repeat_interleave(decodings, dim=0)
        images = sample(self.decoder, len(cond), cond=cond, seed=seed, temperature=temperature, guidance=guidance)
        return images.view(len(codes), decodings, *images.shape[1:])


class MSEAutoEncoder(AutoEncoderBase, Saved, **HUB_KWARGS):
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

    LOSS = ("mse", "mean squared error")

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        return self.mse(x)

    TITLE = "MSE auto-encoder"

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints -> (B, C, H, W) ints in [0, levels): the rounded reconstruction."""
        return (self(x) * (self.levels - 1)).round().long()
