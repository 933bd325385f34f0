"""Sketch first, then detail: a two-stage PixelCNN with the paper's location-dependent conditioning.

    p(x | h) ~ p(s | h) * p(x | s, h),   s = the image average-pooled by `factor` (28x28 -> 7x7)

The sketch model is a Gated PixelCNN of the small picture s, conditioned on h (a class, a face
embedding, or nothing). The detail model is a Gated PixelCNN of the full image conditioned on
the same h and on s as a spatial map: a small network m(s) (two 3x3 convolutions over the
sketch, then a deconvolution that gives each position inside a cell its own weights, as the
paper's "deconvolution network") turns s into a map of the image's size, added in every layer
through an unmasked 1x1 convolution. The map is conditioning, known in full before a pixel is
drawn, so it may look at every cell, below and to the right included.

Bits/dim = (bits of s + bits of x given s) / sub-pixels of x. Because s is a function of x,
the model's p(x) = sum over s' of p(s') p(x | s') >= p(s(x)) p(x | s(x)): the number is an
upper bound on the model's negative log-likelihood (it leaves out the mass the detail model
gives x under other sketches).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from pixelcnn.models.gated import GatedPixelCNN
from pixelcnn.models.saved import Saved

MAP_CHANNELS = 16  # channels of the spatial map m(s) the detail model is conditioned on


class SketchMap(nn.Module):
    """m(s): (B, C, h, w) sketch scaled to [-1, 1] -> (B, channels, h*factor, w*factor) map."""

    def __init__(self, image_channels: int, factor: int, channels: int = MAP_CHANNELS):
        super().__init__()
        self.cells = nn.Sequential(
            nn.Conv2d(image_channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
        )
        self.up = nn.ConvTranspose2d(channels, channels, factor, stride=factor)

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        return self.up(self.cells(sketch))


class TwoStagePixelCNN(
    nn.Module,
    Saved,
    library_name="pixelcnn",
    tags=["pixelcnn", "autoregressive", "image-generation", "two-stage"],
    license="mit",
):
    """A sketch Gated PixelCNN and a detail Gated PixelCNN conditioned on the sketch, saved and
    loaded as one (`save_pretrained` / `from_pretrained` of one folder or Hub location)."""

    TITLE = "Two-stage Gated PixelCNN (sketch, then detail)"
    STAGED = True  # drawn by sampling.sample_stages
    LOSS = ("bpd", "bits/dim")

    def __init__(self, factor: int = 4, sketch: dict | None = None, detail: dict | None = None, map_channels: int = MAP_CHANNELS):
        """factor: the sketch is the image average-pooled by factor x factor; sketch / detail:
        the two Gated PixelCNNs' configs (the detail one's cond_map_channels must equal
        map_channels, and both must share the image channels and conditioning)."""
        super().__init__()
        sketch, detail = dict(sketch or {}), dict(detail or {})
        if factor < 2:
            raise ValueError(f"factor must be at least 2, got {factor}.")
        detail.setdefault("cond_map_channels", map_channels)
        if detail["cond_map_channels"] != map_channels:
            raise ValueError(f"the detail model's cond_map_channels must be {map_channels}.")
        self.factor, self.map_channels = factor, map_channels
        self.sketch = GatedPixelCNN(**sketch)
        self.detail = GatedPixelCNN(**detail)
        for key in ("image_channels", "num_classes", "cond_dim", "class_names"):
            if getattr(self.sketch, key) != getattr(self.detail, key):
                raise ValueError(f"the sketch and detail models must agree on {key}.")
        self.map = SketchMap(self.detail.image_channels, factor, map_channels)

    @classmethod
    def build(cls, factor: int, sketch_levels: int = 32, sketch_layers: int | None = None, sketch_channels: int | None = None,
              **detail) -> "TwoStagePixelCNN":
        """A new two-stage model from one PixelCNN config (the detail model's keywords): the sketch
        model shares it but for its size (image_size / factor), levels and, optionally, depth and width."""
        size = detail.get("image_size")
        if size and any(s % factor for s in size):
            raise ValueError(f"the image size {size} must be a multiple of the sketch factor {factor}.")
        sketch = {**detail, "levels": sketch_levels, "image_size": [s // factor for s in size] if size else None}
        if sketch_layers:
            sketch["num_layers"] = sketch_layers
        if sketch_channels:
            sketch["hidden_channels"] = sketch_channels
        sketch.pop("cond_map_channels", None)
        sketch.pop("vector_map_channels", None)  # a map m(h) of the conditioning vector is the detail stage's
        return cls(factor=factor, sketch=sketch, detail={**detail, "cond_map_channels": MAP_CHANNELS})

    # -- what the page and the trainer read off any PixelCNN -------------------------------------

    def __getattr__(self, name):
        # image_size, levels, num_classes, class_names, cond_dim, cond_name, guidable, dataset, ...:
        # the detail model's, which is the image the visitor sees.
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in ("sketch", "detail", "map") or name.startswith("_"):
                raise
            return getattr(self.detail, name)

    @property
    def guidable(self) -> bool:
        return self.sketch.guidable and self.detail.guidable

    def describe(self) -> dict:
        return dict(self._hub_mixin_config)

    # -- the sketch and its map ------------------------------------------------------------------

    def sketch_of(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) ints in [0, levels) -> (B, C, H/f, W/f) ints in [0, sketch levels): each
        factor x factor cell's mean intensity, quantized to the sketch model's levels."""
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"the image's sides {tuple(x.shape[-2:])} must be multiples of {self.factor}.")
        mean = F.avg_pool2d(x.double(), self.factor)  # in [0, levels - 1]
        return (mean * self.sketch.levels / self.detail.levels).floor().long().clamp_(0, self.sketch.levels - 1)

    def known_sketch(self, known: torch.Tensor | None, known_mask: torch.Tensor | None) -> dict:
        """An image's known sub-pixels (B, C, H, W) and where they are -> the sketch stage's sampler
        keywords `known` and `known_mask`: a cell is known when every sub-pixel in it is (a completion
        draws the rest of the sketch from them first, then the detail); {} when nothing is known."""
        if known_mask is None:
            return {}
        whole = F.avg_pool2d(torch.as_tensor(known_mask).double(), self.factor) == 1
        return {"known": self.sketch_of(torch.as_tensor(known)) * whole, "known_mask": whole}

    def cond_map_of(self, sketch: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) sketch ints -> (B, map_channels, h*f, w*f) the detail model's spatial map."""
        return self.map(self.sketch.scale(sketch))

    def upsampled(self, sketch: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) sketch ints -> (B, C, h*f, w*f) ints at the detail model's levels (each cell
        filled with its level's intensity, 0 black and the top level white): the sketch as a
        picture of the image's size."""
        scaled = sketch.double() * (self.detail.levels - 1) / (self.sketch.levels - 1)
        full = scaled.round().long().clamp_(0, self.detail.levels - 1)
        return full.repeat_interleave(self.factor, -2).repeat_interleave(self.factor, -1)

    # -- likelihood ------------------------------------------------------------------------------

    def forward(self, x, labels=None, cond=None, cond_map=None, unconditional=None):
        """x: (B, C, H, W) ints -> (sketch logits (B, sketch levels, C, h, w), detail logits
        (B, levels, C, H, W)), the detail given x's own sketch. cond_map must be None (the
        sketch is the map)."""
        if cond_map is not None:
            raise ValueError("a two-stage model makes its own map from the sketch: pass cond_map=None.")
        sketch = self.sketch_of(x)
        return (self.sketch(sketch, labels, cond, None, unconditional),
                self.detail(x, labels, cond, self.cond_map_of(sketch), unconditional))

    def bits(self, x, logits) -> torch.Tensor:
        """(B,) bits/dim of x from forward's two logits: (sketch bits + detail bits) / C*H*W."""
        sketch_logits, detail_logits = logits
        sketch_nll = F.cross_entropy(sketch_logits.float(), self.sketch_of(x), reduction="none").flatten(1).sum(1)
        detail_nll = F.cross_entropy(detail_logits.float(), x.long(), reduction="none").flatten(1).sum(1)
        return (sketch_nll + detail_nll) / (x[0].numel() * math.log(2))

    def bits_per_dim(self, x, labels=None, cond=None, cond_map=None) -> torch.Tensor:
        """x: (B, C, H, W) ints -> (B,) an upper bound on bits per sub-pixel (see the module)."""
        if x.is_floating_point():
            raise ValueError("bits_per_dim needs integer intensities in [0, levels).")
        return self.bits(x, self(x, labels, cond, cond_map))

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        return self.bits_per_dim(x, labels if self.num_classes else None, cond if self.cond_dim else None)

    def sketch_loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) bits per sketch sub-pixel of the images' sketches under the
        sketch stage alone (what `pixelcnn train --stage sketch` trains and reports)."""
        return self.sketch.loss_per_image(self.sketch_of(x), labels, cond)

    def start_detail_from(self, weights: dict[str, torch.Tensor]) -> None:
        """Start the detail stage from a single-stage Gated PixelCNN's weights (same options, no
        map): its map projections start at zero, so the detail model begins as exactly that model
        and learns to use the sketch from there."""
        missing, unexpected = self.detail.load_state_dict(weights, strict=False)
        if unexpected or any(".cond_map." not in key for key in missing):
            raise ValueError(f"these weights do not fit the detail model (missing {missing[:3]}, unexpected {unexpected[:3]}).")
        for layer in self.detail.layers:
            nn.init.zeros_(layer.cond_map.weight)
            nn.init.zeros_(layer.cond_map.bias)

    # -- the model card --------------------------------------------------------------------------

    def multiply_adds_per_pixel(self) -> int:
        """Per full-size pixel: the detail model's, plus the sketch model's spread over its cells."""
        return self.detail.multiply_adds_per_pixel() + self.sketch.multiply_adds_per_pixel() // self.factor**2
