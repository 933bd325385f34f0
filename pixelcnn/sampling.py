"""Sampling from a GatedPixelCNN: a naive reference and a cached incremental sampler.

Both draw one uniform number per sub-pixel up front from the seeded generator and pick each
intensity by inverting the softmax's CDF, so for the same seed they return the same images.

The cached sampler exploits the two-stack design: the vertical stack depends only on complete
rows above, so it runs once per finished row; the horizontal stack at a pixel needs, per layer,
only that pixel and the kernel_size//2 pixels to its left, kept in a small per-layer row
buffer. Per pixel the work is a few (B, 2h) matrix products per layer instead of a full pass.
"""

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from .gated import gate
from .model import GatedPixelCNN

MAX_SIDE = 512
METHODS = ("cached", "naive")


def check_args(model: GatedPixelCNN, n, size, temperature, method):
    """Validate user-facing arguments; returns (H, W)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number above 0, got {temperature!r}.")
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


def pick(logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
    """Inverse-CDF draw: logits (B, levels), u (B,) uniform in [0, 1) -> (B,) ints in [0, levels)."""
    cdf = torch.softmax(logits.double() / temperature, dim=-1).cumsum(-1)
    return torch.searchsorted(cdf, u.double().reshape(-1, 1).contiguous(), right=True).squeeze(1).clamp_(max=logits.shape[-1] - 1)


def sample_stream(
    model: GatedPixelCNN,
    n: int,
    *,
    labels=None,
    cond=None,
    cond_map=None,
    size=None,
    temperature: float = 1.0,
    seed: int | None = None,
    method: str = "cached",
    known: torch.Tensor | None = None,
    known_mask: torch.Tensor | None = None,
    every: int = 1,
    on_logits=None,
) -> Iterator[tuple[torch.Tensor, int, int]]:
    """Yield (canvas, done, total) every `every` pixels and once at the end.

    canvas: (n, C, H, W) int64 in [0, levels), zeros where not yet drawn; done/total count
    sub-pixels. The last canvas equals `sample(...)` for the same arguments. `on_logits`, if
    given, is called with (channel, row, col, logits (n, levels)) before each draw.
    """
    h, w = check_args(model, n, size, temperature, method)
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}.")
    device = next(model.parameters()).device
    c = model.image_channels
    generator = torch.Generator().manual_seed(seed if seed is not None else int(torch.randint(2**62, ()).item()))
    noise = torch.rand((n, c, h, w), generator=generator, dtype=torch.float64).to(device)  # (n, C, H, W)
    canvas = torch.zeros((n, c, h, w), dtype=torch.long, device=device)
    if known is not None or known_mask is not None:
        if known is None or known_mask is None or tuple(known.shape) != (n, c, h, w) or known.shape != known_mask.shape:
            raise ValueError(f"known and known_mask must both have shape {(n, c, h, w)}.")
        if known.is_floating_point() or known.min() < 0 or known.max() >= model.levels:
            raise ValueError(f"known must hold integer intensities in [0, {model.levels}).")
        known, known_mask = known.to(device).long(), known_mask.to(device).bool()
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    if labels is not None:
        labels = torch.as_tensor(labels, device=device)
    if cond is not None:
        cond = torch.as_tensor(cond, device=device)
    if cond_map is not None:
        cond_map = torch.as_tensor(cond_map, device=device)
    cond_vec = model.conditioning_vector(n, labels, cond)
    model.check_cond_map(canvas, cond_map)

    def draw(channel, row, col, logits):
        if on_logits is not None:
            on_logits(channel, row, col, logits)
        value = pick(logits, noise[:, channel, row, col], temperature)
        if known is not None:
            keep = known_mask[:, channel, row, col]
            value = torch.where(keep, known[:, channel, row, col], value)
        canvas[:, channel, row, col] = value
        return value

    steps = _naive(model, canvas, labels, cond, cond_map, draw) if method == "naive" else _cached(model, canvas, cond_vec, cond_map, draw)
    total = c * h * w
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for pixel in steps:
                if (pixel + 1) % every == 0 and pixel + 1 < h * w:
                    yield canvas.clone(), (pixel + 1) * c, total
    finally:
        model.train(was_training)
    yield canvas.clone(), total, total


def sample(model: GatedPixelCNN, n: int, **kwargs) -> torch.Tensor:
    """Draw n images: (n, C, H, W) int64 intensities in [0, levels).

    Keyword arguments as `sample_stream`: labels (int or (n,) ints), cond (n, cond_dim), size
    (H, W), temperature > 0, seed, method ("cached" or "naive"), known / known_mask (n, C, H, W)
    to keep given pixels and complete the rest.
    """
    for canvas, done, total in sample_stream(model, n, every=1 << 30, **kwargs):
        pass
    return canvas


def _naive(model, canvas, labels, cond, cond_map, draw):
    """Reference: one full forward pass per sub-pixel. Yields the index of each finished pixel."""
    n, c, h, w = canvas.shape
    for row in range(h):
        for col in range(w):
            for channel in range(c):
                logits = model(canvas, labels, cond, cond_map)  # (n, levels, C, H, W)
                draw(channel, row, col, logits[:, :, channel, row, col])
            yield row * w + col


class _LayerState:
    """One gated layer's weights as matrices, and its small caches."""

    def __init__(self, layer, bias, n, w, pad, device, dtype):
        hidden = layer.residual.weight.shape[0]
        in_channels = layer.horizontal.weight.shape[1]
        self.first = layer.first
        self.n, self.w = n, w
        self.hidden = hidden
        self.vertical_weight = layer.vertical.conv.weight
        self.vertical_bias = layer.vertical.conv.bias
        # (taps*in, 2h): a window of the row buffer, flattened tap-major, times this.
        self.horizontal = layer.horizontal.masked_weight()[:, :, 0, :].permute(2, 1, 0).reshape(-1, 2 * hidden)
        self.link_weight = layer.link.weight[:, :, 0, 0]
        self.link_bias = layer.link.bias + layer.horizontal.bias
        # Residual and skip 1x1s fused into one (h, 2h) product.
        self.out = torch.cat([layer.residual.masked_weight(), layer.skip.masked_weight()]).t()
        self.out_bias = torch.cat([layer.residual.bias, layer.skip.bias])
        if torch.is_tensor(bias):
            bias = bias.expand(n, -1, *bias.shape[2:])
            self.bias_v, self.bias_h = bias.chunk(2, dim=1)  # (n, 2h, H or 1, W or 1)
        else:
            self.bias_v = self.bias_h = None
        # Inputs of the vertical conv for the last pad+1 rows, zero-padded left and right.
        self.vertical_rows = torch.zeros((n, in_channels, pad + 1, w + 2 * pad), device=device, dtype=dtype)
        # Inputs of the horizontal conv for the current row, zero-padded on the left.
        self.row = torch.zeros((n, w + pad, in_channels), device=device, dtype=dtype)
        self.row_bias = None  # (n, W, 2h): link from the row above + conditioning + conv bias

    def set_row_bias(self, v_pre_above, row):
        """v_pre_above: (n, 2h, W) vertical pre-activations of the row above, or None for row 0."""
        if v_pre_above is None:
            bias = self.link_bias[None, :, None]
        else:
            bias = torch.einsum("oi,niw->now", self.link_weight, v_pre_above) + self.link_bias[None, :, None]
        if self.bias_h is not None:
            bias = bias + self.bias_h[:, :, min(row, self.bias_h.shape[2] - 1)]
        self.row_bias = bias.expand(self.n, -1, self.w).transpose(1, 2).contiguous()


def _cached(model, canvas, cond_vec, cond_map, draw):
    """Incremental sampler. Yields the index of each finished pixel."""
    n, c, h, w = canvas.shape
    pad = model.kernel_size // 2
    weight = model.head_out.weight
    device, dtype = weight.device, weight.dtype
    layers = [
        _LayerState(layer, layer.conditioning(cond_vec, cond_map), n, w, pad, device, dtype) for layer in model.layers
    ]
    head_hidden_w = model.head_hidden.masked_weight().t()
    head_hidden_b = model.head_hidden.bias
    head_out_w = model.head_out.masked_weight().view(c, model.levels, -1).transpose(1, 2)  # (C, h, levels)
    head_out_b = model.head_out.bias.view(c, model.levels)
    scale = 2.0 / (model.levels - 1)
    for state in layers:
        state.set_row_bias(None, 0)

    for row in range(h):
        for col in range(w):
            for channel in range(c):
                skips = 0
                for k, state in enumerate(layers):
                    window = state.row[:, col : col + pad + 1].reshape(n, -1)  # (n, (pad+1)*in)
                    pre = torch.addmm(state.row_bias[:, col], window, state.horizontal)  # (n, 2h)
                    gated = gate(pre)
                    res_skip = torch.addmm(state.out_bias, gated, state.out)  # (n, 2h)
                    h_out = res_skip[:, : state.hidden]
                    if not state.first:
                        h_out = h_out + state.row[:, pad + col]
                    skips = skips + res_skip[:, state.hidden :]
                    if k + 1 < len(layers):
                        layers[k + 1].row[:, pad + col] = h_out
                hidden = torch.addmm(head_hidden_b, F.relu(skips), head_hidden_w).relu_()
                logits = torch.addmm(head_out_b[channel], hidden, head_out_w[channel])  # (n, levels)
                value = draw(channel, row, col, logits)
                layers[0].row[:, pad + col, channel] = value.to(dtype) * scale - 1.0
            yield row * w + col
        if row + 1 < h:
            _advance_vertical(layers, canvas, row, pad, scale, dtype)


def _advance_vertical(layers, canvas, row, pad, scale, dtype):
    """Run the vertical stack on the finished `row`, and set up the next row's horizontal state."""
    w = canvas.shape[3]
    new_input = canvas[:, :, row, :].to(dtype) * scale - 1.0  # (n, C, W)
    for k, state in enumerate(layers):
        rows = state.vertical_rows
        rows[:, :, :-1] = rows[:, :, 1:].clone()
        rows[:, :, -1, pad : pad + w] = new_input
        v_pre = F.conv2d(rows, state.vertical_weight, state.vertical_bias)[:, :, 0]  # (n, 2h, W)
        if state.bias_v is not None:
            v_pre = v_pre + state.bias_v[:, :, min(row, state.bias_v.shape[2] - 1)]
        state.set_row_bias(v_pre, row + 1)
        state.row.zero_()
        new_input = gate(v_pre)  # (n, h, W): the next layer's vertical input
