"""The drawer every sampler shares: argument checks, and each sub-pixel drawn from its logits by
the Gumbel-max trick with seeded noise (temperature, classifier-free guidance, given pixels)."""

import math

import torch

MAX_SIDE = 512
METHODS = ("cached", "naive")


def check_args(model, n, size, temperature, method, guidance=0.0):
    """Validate user-facing arguments; returns (H, W)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number above 0, got {temperature!r}.")
    if not isinstance(guidance, (int, float)) or not math.isfinite(guidance) or guidance < 0:
        raise ValueError(f"guidance must be a finite number of at least 0, got {guidance!r}.")
    if guidance and not model.guidable:
        raise ValueError(
            "this model has no unconditional branch to guide with (it was not trained with --cond-dropout, or it has no "
            "conditioning): use guidance=0."
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    size = size if size is not None else model.image_size
    if size is None:
        raise ValueError("this model records no image size: pass size=(H, W).")
    if isinstance(size, int):
        size = (size, size)
    h, w = (int(s) for s in size)
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ValueError(f"size must be between 1 and {MAX_SIDE} pixels a side, got {tuple(size)}.")
    return h, w


class Drawer:
    """Draws each sub-pixel by the Gumbel-max trick, argmax(logits / T + g), with the Gumbel noise g
    made one image row at a time from the seeded generator: any sampler that visits the
    sub-pixels in raster order gets the same numbers, hence the same images."""

    def __init__(self, canvas, seed, temperature, known=None, known_mask=None, on_logits=None, levels=256, guidance=0.0):
        self.canvas, self.temperature, self.guidance = canvas, temperature, guidance
        self.known, self.known_mask, self.on_logits = known, known_mask, on_logits
        self.levels = levels
        self.generator = torch.Generator().manual_seed(seed)
        self.row, self.noise = -1, None

    def row_noise(self, row):
        if row != self.row:
            n, c, _, w = self.canvas.shape
            u = torch.rand((n, c, w, self.levels), generator=self.generator).clamp_(min=1e-12)
            self.noise, self.row = (-torch.log(-torch.log(u))).to(self.canvas.device), row  # (n, C, W, levels)
        return self.noise

    def __call__(self, channel, row, col, logits):
        """logits (n, levels) for sub-pixel (channel, row, col) -> (n,) drawn (or given) ints.

        With guidance, logits are (2n, levels): the conditional rows, then the unconditional
        ones; the n drawn values are returned twice, for both branches' next inputs."""
        if self.guidance:
            conditional, unconditional = logits.chunk(2)
            logits = unconditional + (1 + self.guidance) * (conditional - unconditional)
        if self.on_logits is not None:
            self.on_logits(channel, row, col, logits)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        value = torch.argmax(logits + self.row_noise(row)[:, channel, col], dim=-1)
        if self.known is not None:
            keep = self.known_mask[:, channel, row, col]
            value = torch.where(keep, self.known[:, channel, row, col], value)
        self.canvas[:, channel, row, col] = value
        return value.repeat(2) if self.guidance else value
