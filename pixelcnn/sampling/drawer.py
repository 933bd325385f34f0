"""The drawer every sampler shares: argument checks, and each sub-pixel drawn from its logits by
the Gumbel-max trick with seeded noise (temperature, classifier-free guidance, given pixels)."""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(eq=False)
class Part:
    """One request's images in a sampler batch, with everything that decides how they are drawn:
    its own seed (and so its own random stream), temperature, guidance, given pixels and hook.
    Its images come out the same whoever else shares the batch."""

    n: int
    seed: int
    temperature: float = 1.0
    guidance: float = 0.0
    known: torch.Tensor | None = None  # (n, C, H, W) ints, kept where known_mask is True
    known_mask: torch.Tensor | None = None
    on_logits: Callable | None = None  # (channel, row, col, logits (n, levels)): guided, before the temperature
    canvas: torch.Tensor | None = None  # (n, C, H, W): its rows of the drawer's canvas, set by the drawer
    count_bits: bool = False  # whether to add up, as it draws, the nats the model gives each image's drawn values
    nats: torch.Tensor | None = None  # (n,) float64 with count_bits: -log p(drawn | conditioning) so far, set by the drawer


class Drawer:
    """Draws each sub-pixel of a batch of parts by the Gumbel-max trick, argmax(logits / T + g),
    with each part's Gumbel noise g made one image row at a time from its own seeded generator:
    any sampler that visits the sub-pixels in raster order gets the same numbers, hence the same
    images, and a part's numbers do not depend on the other parts.

    The sampler's batch holds every image's row (part after part), then a second, unconditional
    row for each image of a guided part (`row_images`, `row_unconditional`)."""

    def __init__(self, parts: list[Part], shape: tuple[int, int, int], levels: int, device="cpu"):
        self.parts, self.shape, self.levels, self.device = list(parts), shape, levels, torch.device(device)
        # Every image of every part, for as long as the drawer lives: a part that leaves the batch
        # leaves its rows behind, and the others' rows stay where they are (`kept`), so that whoever
        # reads a part's canvas (another process, through shared memory) reads the same tensor throughout.
        self.canvas = torch.zeros((sum(p.n for p in self.parts), *shape), dtype=torch.long, device=self.device)
        # What each image's drawn values cost under the conditional model: the conditional branch's
        # logits as the sampler computes them, so no forward pass is needed afterwards.
        self.nats = torch.zeros(len(self.canvas), dtype=torch.float64, device=self.device)
        self.kept: torch.Tensor | None = None  # the canvas rows of the images still drawn, in batch order (None: all)
        bounds = [0, *itertools.accumulate(p.n for p in self.parts)]
        for part, lo, hi in zip(self.parts, bounds, bounds[1:]):
            part.canvas, part.nats = self.canvas[lo:hi], self.nats[lo:hi]
        self.generators = [torch.Generator().manual_seed(p.seed) for p in self.parts]
        self.row, self.noise, self.uniform, self.columns_of = -1, None, None, None
        self.arrange()

    def arrange(self) -> None:
        """The per-image and per-row tables of the current parts, and their views of the canvas."""
        parts, device = self.parts, self.device
        bounds = [0, *itertools.accumulate(p.n for p in parts)]
        self.images = bounds[-1]
        self.cells = None  # each sub-pixel's column of the canvas, as views taken once (where this class draws)

        def per_image(value, dtype=torch.float32):
            return torch.tensor([value(p) for p in parts for _ in range(p.n)], dtype=dtype, device=device).reshape(-1, 1)

        guided = per_image(lambda p: bool(p.guidance), torch.bool)[:, 0]
        guided_images = torch.arange(self.images, device=device)[guided]
        # Batch row of each image's unconditional branch (its own row when unguided).
        self.second = torch.arange(self.images, device=device)
        self.second[guided] = self.images + torch.arange(len(guided_images), device=device)
        self.row_images = torch.cat([torch.arange(self.images, device=device), guided_images])
        self.row_unconditional = torch.arange(len(self.row_images), device=device) >= self.images
        self.guided, self.any_guided, self.all_guided = guided[:, None], bool(guided.any()), bool(guided.all())
        # 1 + w and T per image, in float32 and (for a float64 model, index 1) in float64.
        self.scale = [per_image(lambda p: 1.0 + p.guidance, dtype) for dtype in (torch.float32, torch.float64)]
        self.temperature = [per_image(lambda p: p.temperature, dtype) for dtype in (torch.float32, torch.float64)]
        self.tempered = any(p.temperature != 1.0 for p in parts)
        self.known = self.known_mask = None
        if any(p.known is not None for p in parts):
            given = [p.known is not None for p in parts]
            self.known = torch.cat([p.known if g else torch.zeros((p.n, *self.shape), dtype=torch.long) for p, g in zip(parts, given)]).to(device)
            self.known_mask = torch.cat([p.known_mask if g else torch.zeros((p.n, *self.shape), dtype=torch.bool)
                                         for p, g in zip(parts, given)]).to(device)
        self.hooks = [(p.on_logits, lo, hi) for p, lo, hi in zip(parts, bounds, bounds[1:]) if p.on_logits is not None]
        self.counting = any(p.count_bits for p in parts)

    def keep(self, parts: list[Part]) -> torch.Tensor:
        """Go on with only `parts` (a subset, in order) -> the batch rows kept, for the sampler."""
        bounds = [0, *itertools.accumulate(p.n for p in self.parts)]
        kept = [k for k, p in enumerate(self.parts) if any(p is q for q in parts)]
        images = torch.cat([torch.arange(bounds[k], bounds[k + 1]) for k in kept] or [torch.zeros(0, dtype=torch.long)]).to(self.device)
        rows = torch.isin(self.row_images, images).nonzero()[:, 0]
        self.kept = images if self.kept is None else self.kept[images]
        if self.noise is not None:
            self.noise, self.uniform = self.noise[images], self.uniform[images.to(self.uniform.device)]
        self.parts, self.generators = [self.parts[k] for k in kept], [self.generators[k] for k in kept]
        self.arrange()
        return rows

    def row_noise(self, row) -> torch.Tensor:
        """This image row's Gumbel noise, (images, C, W, levels): each part's from its own generator,
        made in place in one buffer kept from row to row (a new one each row costs page faults)."""
        if row != self.row:
            c, _, w = self.shape
            if self.uniform is None or len(self.uniform) != self.images:
                self.uniform = torch.empty((self.images, c, w, self.levels))
            lo = 0
            for part, generator in zip(self.parts, self.generators):
                torch.rand((part.n, c, w, self.levels), generator=generator, out=self.uniform[lo : lo + part.n])
                lo += part.n
            self.noise, self.row = self.uniform.clamp_(min=1e-12).log_().neg_().log_().neg_().to(self.device), row
        return self.noise

    def noise_columns(self, row) -> list[list[torch.Tensor]]:
        """`row_noise`, [channel][col] -> (images, levels): each sub-pixel's view taken once a buffer."""
        self.row_noise(row)
        if self.noise is not self.columns_of:  # a new buffer (the first row, or images left the batch)
            c, _, w = self.shape
            self.columns = [[self.noise[:, channel, col] for col in range(w)] for channel in range(c)]
            self.columns_of = self.noise
        return self.columns

    def __call__(self, channel, row, col, logits):
        """logits (rows, levels) for sub-pixel (channel, row, col) of every batch row -> (rows,)
        drawn (or given) ints, each image's value on both of its rows."""
        images = self.images
        if logits.dtype in (torch.bfloat16, torch.float16):
            logits = logits.float()  # a sampler in half precision draws from float32 logits
        chosen = conditional = logits if len(logits) == images else logits[:images]
        if self.any_guided:
            unconditional = logits[self.second] if not self.all_guided else logits[images:]
            guided = unconditional + self.scale[chosen.dtype == torch.float64] * (chosen - unconditional)
            chosen = guided if self.all_guided else torch.where(self.guided, guided, chosen)
        for hook, lo, hi in self.hooks:
            hook(channel, row, col, chosen[lo:hi])
        if self.tempered:
            chosen = chosen / self.temperature[chosen.dtype == torch.float64]
        value = torch.argmax(chosen + self.noise_columns(row)[channel][col], dim=-1)
        if self.known is not None:
            keep = self.known_mask[:, channel, row, col]
            value = torch.where(keep, self.known[:, channel, row, col], value)
        if self.cells is None:
            c, h, w = self.shape
            self.cells = [[[self.canvas[:, k, y, x] for x in range(w)] for y in range(h)] for k in range(c)]
        if self.kept is None:
            self.cells[channel][row][col].copy_(value)
        else:
            self.cells[channel][row][col].index_copy_(0, self.kept, value)
        if self.counting:
            drawn = torch.log_softmax(conditional, -1).gather(1, value[:, None])[:, 0]
            if self.kept is None:
                self.nats -= drawn
            else:
                self.nats.index_add_(0, self.kept, drawn.to(self.nats.dtype), alpha=-1)
        return value if len(logits) == images else value[self.row_images]
