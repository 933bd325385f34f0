"""Auto-encoders: a Gated PixelCNN decoder conditioned on an m-dimensional code (the paper's
section 3.4), and a plain MSE auto-encoder with the same encoder and code size to compare with.

A code that only biases every layer (the same for every position) is hard for the decoder to use
for *where* strokes go, and a strong autoregressive decoder then models digits without it (19.5%
of decodings kept the encoded digit). With `code_map_channels`, a deconvolution m(code) also turns
the code into a spatial map that conditions every layer position by position (the paper's section
2.3, "location-dependent conditioning"), so the code can say where the strokes are.
"""

import torch
from torch import nn

from pixelcnn.models.gated import GatedPixelCNN
from pixelcnn.models.saved import Saved
from pixelcnn.sampling import sample

CODE_NAME = "autoencoder-code"
HUB_KWARGS = dict(library_name="pixelcnn", tags=["pixelcnn", "autoencoder"], license="mit")


def deconvolution(code_dim: int, image_size: list, channels: int, out_channels: int) -> nn.Sequential:
    """(B, code_dim) -> (B, out_channels, H, W): a linear layer to a (2 channels, H/4, W/4) grid, then two
    stride-2 transposed convolutions (the encoder's mirror)."""
    h, w = image_size
    return nn.Sequential(
        nn.Linear(code_dim, 2 * channels * (h // 4) * (w // 4)), nn.ReLU(),
        nn.Unflatten(1, (2 * channels, h // 4, w // 4)),
        nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.ReLU(),  # (B, ch, H/2, W/2)
        nn.ConvTranspose2d(channels, out_channels, 4, 2, 1),  # (B, out, H, W)
    )


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

    STAGED = False  # decoded in one stage (what the trainer and the samplers ask of any model)

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
        code_map_channels: int = 0,
        dataset: str = "",
    ):
        """code_map_channels: channels of the spatial map m(code) every decoder layer is also
        conditioned on (0: the code is a per-layer bias only, the paper's plain vector h)."""
        super().__init__(image_channels, image_size or [28, 28], levels, code_dim, encoder_channels, dataset)
        if code_map_channels < 0:
            raise ValueError(f"code_map_channels must be 0 or more, got {code_map_channels}.")
        self.code_map_channels = code_map_channels
        self.decoder = GatedPixelCNN(
            image_channels=image_channels, image_size=self.image_size, levels=levels, hidden_channels=hidden_channels,
            num_layers=num_layers, kernel_size=kernel_size, cond_dim=code_dim, cond_name=CODE_NAME,
            cond_map_channels=code_map_channels, cond_dropout=cond_dropout, dataset=dataset,
        )
        self.code_map = deconvolution(code_dim, self.image_size, encoder_channels, code_map_channels) if code_map_channels else None

    def conditioning(self, codes: torch.Tensor) -> dict:
        """(B, code_dim) codes -> the decoder's keyword arguments: cond, and cond_map where it takes one."""
        return dict(cond=codes, cond_map=None if self.code_map is None else self.code_map(codes))

    def forward(self, x: torch.Tensor, unconditional=None) -> torch.Tensor:
        """(B, C, H, W) ints -> logits (B, levels, C, H, W) of x given its own code (or, for rows
        where the optional (B,) bools `unconditional` are set, given no code)."""
        condition = self.conditioning(self.encode(x))
        if unconditional is not None and condition["cond_map"] is not None:
            condition["cond_map"] = condition["cond_map"] * ~torch.as_tensor(unconditional, device=x.device)[:, None, None, None]
        return self.decoder(x, **condition, unconditional=unconditional)

    def bits_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) bits per sub-pixel of x given its own code."""
        return self.decoder.bits_per_dim(x, **self.conditioning(self.encode(x)))

    LOSS = GatedPixelCNN.LOSS

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        return self.bits_per_dim(x)

    TITLE = "PixelCNN auto-encoder"

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, decodings: int = 1, seed=None, temperature: float = 1.0, guidance: float = 0.0) -> torch.Tensor:
        """(B, code_dim) codes -> (B, decodings, C, H, W) ints: images sampled from p(x | code)."""
        condition = self.conditioning(codes.repeat_interleave(decodings, dim=0))
        images = sample(self.decoder, len(condition["cond"]), **condition, seed=seed, temperature=temperature, guidance=guidance)
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
        self.decoder = deconvolution(code_dim, self.image_size, encoder_channels, image_channels).append(nn.Sigmoid())  # in [0, 1]

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
