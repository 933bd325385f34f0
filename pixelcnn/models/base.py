"""What every PixelCNN here shares: its config, inputs, conditioning, output head and bits/dim.

p(x | h) = prod over sub-pixels in raster order (row, column, then colour R, G, B) of a
`levels`-way softmax. The constructor's keyword arguments are the whole config:
`save_pretrained` writes them to config.json beside model.safetensors.

`PixelCNNBase` holds what every PixelCNN here shares (its config, inputs, conditioning, output
head and bits/dim); `GatedPixelCNN` adds the two gated stacks, and `original.PixelCNN` the one
stack of masked convolutions it replaced.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from pixelcnn.models.convs import MaskedConv1x1, channel_groups, vector_map


def check_config(image_channels, levels, kernel_size, hidden_channels, num_layers, classifier_temperature, cond_dropout, class_names,
                 num_classes, surprise_limit=0.0) -> list[str]:
    """A PixelCNN's config checked, with a sentence for each thing wrong -> its class names (digits by default)."""
    if image_channels not in (1, 3):
        raise ValueError(f"image_channels must be 1 or 3, got {image_channels}.")
    if not 2 <= levels <= 256:
        raise ValueError(f"levels must be between 2 and 256, got {levels}.")
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and at least 3, got {kernel_size}.")
    if hidden_channels % image_channels:
        raise ValueError("hidden_channels must be a multiple of image_channels (one group per colour).")
    if num_layers < 1:
        raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
    if not classifier_temperature > 0:
        raise ValueError(f"classifier_temperature must be above 0, got {classifier_temperature}.")
    if not surprise_limit >= 0:
        raise ValueError(f"surprise_limit must be 0 or more, got {surprise_limit}.")
    if not 0.0 <= cond_dropout < 1.0:
        raise ValueError(f"cond_dropout must lie in [0, 1), got {cond_dropout}.")
    class_names = list(class_names) if class_names else [str(k) for k in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {num_classes} classes.")
    return class_names


class PixelCNNBase(nn.Module):
    """The config, inputs, conditioning, head and bits/dim of a PixelCNN; a subclass builds its
    layers in `build_layers` and maps scaled images to summed features in `features`."""

    TITLE = "PixelCNN"
    STAGED = False  # drawn in one stage (sampling.sample_stream)
    CACHED = False  # no incremental sampler: drawn one full pass per sub-pixel

    def __init__(
        self,
        image_channels: int = 1,
        image_size: list | None = None,
        levels: int = 256,
        hidden_channels: int = 32,
        num_layers: int = 8,
        kernel_size: int = 5,
        num_classes: int = 0,
        class_names: list | None = None,
        cond_dim: int = 0,
        cond_name: str = "",
        cond_map_channels: int = 0,
        cond_dropout: float = 0.0,
        dataset: str = "",
        classifier_temperature: float = 1.0,
        surprise_limit: float = 0.0,
        vector_map_channels: int = 0,
    ):
        """
        image_channels: 1 (grey) or 3 (RGB); image_size: [H, W] the model was trained at (a
        hint for samplers; any size works); levels: intensity levels per sub-pixel, 2..256;
        num_classes: 0 for no class conditioning; class_names: one name per class, in label
        order; cond_dim: width of a conditioning vector (0 = none, 512 for a face embedding);
        cond_name: what produced that vector (checked when it is used); cond_map_channels:
        channels of an optional spatial conditioning map (0 = none); cond_dropout: the share of
        each training batch whose conditioning vector was replaced by "none" (the zero vector),
        so the model also learnt p(x) and can be sampled with classifier-free guidance (0 = it
        was not, and guidance is refused); classifier_temperature: the model as a classifier
        divides its class log-likelihoods by this before Bayes' rule (fitted on held-out images by
        `pixelcnn evaluate --calibrate`; 1 = plain Bayes); surprise_limit: bits per sub-pixel (a
        two-stage model's: of its sketch) under its most likely class above which a picture is
        none of its classes (fitted by `pixelcnn evaluate --surprise`; 0 = none fitted);
        vector_map_channels: channels of a map m(h) that a small deconvolution makes from the
        conditioning vector h, which conditions every layer position by position (the paper's
        section 2.3; 0 = h only biases each layer, the same everywhere).
        """
        super().__init__()
        class_names = check_config(image_channels, levels, kernel_size, hidden_channels, num_layers, classifier_temperature, cond_dropout,
                                   class_names, num_classes, surprise_limit)
        self.image_channels, self.image_size, self.levels = image_channels, list(image_size) if image_size else None, levels
        self.hidden_channels, self.num_layers, self.kernel_size = hidden_channels, num_layers, kernel_size
        self.num_classes, self.class_names, self.cond_dim, self.cond_name = num_classes, class_names, cond_dim, cond_name
        self.cond_map_channels, self.vector_map_channels, self.cond_dropout = cond_map_channels, vector_map_channels, cond_dropout
        self.dataset, self.classifier_temperature, self.surprise_limit = dataset, classifier_temperature, surprise_limit
        # Store the names themselves, so label order survives any reload.
        self._hub_mixin_config = {**(self._hub_mixin_config or {}), "class_names": class_names}

        self.layers = self.build_layers(num_classes + cond_dim)
        self.vector_map = self.build_vector_map(vector_map_channels)
        self.head_hidden, self.head_out = self.build_head()

    def build_head(self) -> tuple[nn.Module, nn.Module]:
        """The output head: two masked 1x1s, hidden -> hidden -> levels per colour."""
        hidden_groups = channel_groups(self.hidden_channels, self.image_channels)
        out_groups = torch.arange(self.image_channels * self.levels) // self.levels  # output channel k predicts colour k // levels
        return (MaskedConv1x1(self.hidden_channels, self.hidden_channels, hidden_groups, hidden_groups),
                MaskedConv1x1(self.hidden_channels, self.image_channels * self.levels, hidden_groups, out_groups))

    # -- inputs -------------------------------------------------------------------------------

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """Integer intensities in [0, levels) -> floats in [-1, 1]; float input is taken as scaled."""
        if x.is_floating_point():
            return x.to(self.head_out.weight.dtype)
        return x.to(self.head_out.weight.dtype) * (2.0 / (self.levels - 1)) - 1.0

    def check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.image_channels:
            raise ValueError(f"x must be (B, {self.image_channels}, H, W), got shape {tuple(x.shape)}.")
        if not x.is_floating_point() and x.numel() and (x.min() < 0 or x.max() >= self.levels):
            raise ValueError(f"integer intensities must lie in [0, {self.levels}).")

    @property
    def guidable(self) -> bool:
        """Whether the model learnt an unconditional branch (trained with cond_dropout > 0)."""
        return self.cond_dropout > 0 and bool(self.num_classes or self.cond_dim)

    def conditioning_vector(self, batch: int, labels=None, cond=None, unconditional=None) -> torch.Tensor | None:
        """Validate labels/cond and return the (B, num_classes + cond_dim) vector, or None.

        unconditional: optional (B,) bools; those rows get the "none" conditioning (zeros)."""
        parts = []
        if self.num_classes:
            if labels is None:
                raise ValueError(f"this model is class-conditional: pass labels, {batch} ints in [0, {self.num_classes}).")
            labels = torch.as_tensor(labels, device=self.head_out.weight.device)
            if labels.shape != (batch,) or labels.is_floating_point():
                raise ValueError(f"labels must be {batch} integers, got shape {tuple(labels.shape)}.")
            if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ValueError(f"labels must lie in [0, {self.num_classes}): classes {self.class_names}.")
            parts.append(F.one_hot(labels.long(), self.num_classes).to(self.head_out.weight.dtype))
        elif labels is not None:
            raise ValueError("this model is not class-conditional: pass labels=None.")
        if self.cond_dim:
            if cond is None:
                raise ValueError(f"this model is conditioned on a vector: pass cond of shape ({batch}, {self.cond_dim}).")
            if tuple(cond.shape) != (batch, self.cond_dim):
                raise ValueError(f"cond must have shape ({batch}, {self.cond_dim}), got {tuple(cond.shape)}.")
            parts.append(cond.to(self.head_out.weight.dtype))
        elif cond is not None:
            raise ValueError("this model takes no conditioning vector: pass cond=None.")
        if not parts:
            return None
        vector = torch.cat(parts, dim=1)
        if unconditional is not None:
            vector = vector * ~torch.as_tensor(unconditional, device=vector.device, dtype=torch.bool)[:, None]
        return vector

    def build_vector_map(self, channels: int) -> nn.Module | None:
        if not channels:
            return None
        if channels < 0 or not (self.num_classes or self.cond_dim) or not self.image_size:
            raise ValueError("vector_map_channels needs a conditioning vector (classes or cond_dim), an image_size, and is 0 or more.")
        return vector_map(self.num_classes + self.cond_dim, self.image_size, channels)

    @property
    def map_channels(self) -> int:
        """Channels of the map every layer is conditioned on: the given cond_map's, then m(h)'s."""
        return self.cond_map_channels + self.vector_map_channels

    def spatial_conditioning(self, cond_vec, cond_map, size) -> torch.Tensor | None:
        """The map every layer sees at an image of `size` (H, W): the given (checked) cond_map, then
        m(h) of the conditioning vector; a row with "none" conditioning (all zeros) gets no m(h) either."""
        if self.vector_map is None:
            return cond_map
        made = self.vector_map(cond_vec.to(self.head_out.weight.dtype))[:, :, : size[0], : size[1]]
        made = made * (cond_vec != 0).any(1).to(made.dtype)[:, None, None, None]
        return made if cond_map is None else torch.cat([cond_map, made], 1)

    def check_cond_map(self, x, cond_map):
        if self.vector_map is not None and (x.shape[2] > self.image_size[0] or x.shape[3] > self.image_size[1]):
            raise ValueError(f"this model draws images of at most {self.image_size[0]}x{self.image_size[1]} (its map of the conditioning).")
        if not self.cond_map_channels:
            if cond_map is not None:
                raise ValueError("this model takes no spatial conditioning: pass cond_map=None.")
            return None
        expected = (x.shape[0], self.cond_map_channels, x.shape[2], x.shape[3])
        if cond_map is None or tuple(cond_map.shape) != expected:
            raise ValueError(f"cond_map must have shape {expected}.")
        return cond_map.to(self.head_out.weight.dtype)

    # -- the network --------------------------------------------------------------------------

    def head(self, skips: torch.Tensor) -> torch.Tensor:
        """(B, hidden, H, W) features (the Gated model's summed skips) -> (B, levels, C, H, W) logits."""
        out = self.head_out(F.relu(self.head_hidden(F.relu(skips))))
        b, _, h, w = out.shape
        return out.view(b, self.image_channels, self.levels, h, w).transpose(1, 2)

    def build_layers(self, cond_features: int) -> nn.ModuleList:
        raise NotImplementedError

    def features(self, x: torch.Tensor, cond_vec, cond_map) -> torch.Tensor:
        """(B, C, H, W) scaled image -> (B, hidden, H, W) features for the head."""
        raise NotImplementedError

    def forward(self, x, labels=None, cond=None, cond_map=None, unconditional=None) -> torch.Tensor:
        """x: (B, C, H, W) ints in [0, levels) or floats in [-1, 1] -> logits (B, levels, C, H, W).

        unconditional: optional (B,) bools: those rows are computed with "none" conditioning."""
        self.check_input(x)
        cond_vec = self.conditioning_vector(x.shape[0], labels, cond, unconditional)
        cond_map = self.spatial_conditioning(cond_vec, self.check_cond_map(x, cond_map), x.shape[2:])
        return self.head(self.features(self.scale(x), cond_vec, cond_map))

    def bits_per_dim(self, x, labels=None, cond=None, cond_map=None) -> torch.Tensor:
        """x: (B, C, H, W) ints in [0, levels) -> (B,) bits per sub-pixel: NLL / (C*H*W*ln 2)."""
        if x.is_floating_point():
            raise ValueError("bits_per_dim needs integer intensities in [0, levels).")
        logits = self(x, labels, cond, cond_map)
        nll = F.cross_entropy(logits, x.long(), reduction="none")  # (B, C, H, W) nats
        return nll.flatten(1).sum(1) / (x[0].numel() * math.log(2))

    LOSS = ("bpd", "bits/dim")  # what training and evaluation report, as (key, words): loss_per_image's unit

    def loss_per_image(self, x, labels=None, cond=None) -> torch.Tensor:
        """(B, C, H, W) ints -> (B,) bits/dim; labels and cond are used where the model takes them."""
        return self.bits_per_dim(x, labels if self.num_classes else None, cond if self.cond_dim else None)

    def describe(self) -> dict:
        """The config as saved in config.json (the constructor's keyword arguments)."""
        return dict(self._hub_mixin_config)

    def multiply_adds_per_pixel(self) -> int:
        """Multiply-adds one pixel position costs in a full forward pass: every convolution weight
        a mask leaves in place is used once per position (the conditioning vector's projections
        are per image, not per pixel, and are not counted)."""
        total = 0
        for module in self.modules():
            if hasattr(module, "mask") and isinstance(getattr(module, "weight", None), torch.Tensor):
                total += int((module.mask.expand_as(module.weight) != 0).sum())
            elif isinstance(module, nn.Conv2d):
                total += module.weight.numel()
        return total

    LAYER_WORDS = "layers"
    PAPER = "van den Oord et al. 2016, arXiv 1606.05328"

    def layers_line(self) -> str:
        return f"{self.num_layers} {self.LAYER_WORDS}, {self.hidden_channels} channels, kernel {self.kernel_size}, {self.levels} levels"
