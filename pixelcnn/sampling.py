"""Sampling from a PixelCNN: a naive reference and a cached incremental sampler (the cached
one for the GatedPixelCNN; the original PixelCNN is always drawn the naive way).

With `guidance=w` (classifier-free guidance, for models trained with conditioning dropout) both
run the conditional and the unconditional branch side by side in one batch of 2n and draw from
l_u + (1 + w)(l_c - l_u); w = 0 runs only the conditional branch, exactly as without guidance.

Both draw each intensity by the Gumbel-max trick with noise from one seeded generator, consumed
in raster order, so for the same seed they return the same images.

The cached sampler exploits the two-stack design: the vertical stack depends only on complete
rows above, so it runs once per finished row; the horizontal stack at a pixel needs, per layer,
only that pixel and the kernel_size//2 pixels to its left, kept in a small per-layer row
buffer. Per pixel the work is a few (B, 2h) matrix products per layer instead of a full pass.
"""

import math
from collections.abc import Iterator

import torch

from .convs import channel_groups
from .gated import gate
from .model import GatedPixelCNN, PixelCNNBase
from .twostage import TwoStagePixelCNN

MAX_SIDE = 512
METHODS = ("cached", "naive")


def check_args(model: PixelCNNBase, n, size, temperature, method, guidance=0.0):
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


def sample_stream(
    model: PixelCNNBase,
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
    guidance: float = 0.0,
    no_condition: bool = False,
) -> Iterator[tuple[torch.Tensor, int, int]]:
    """Yield (canvas, done, total) every `every` pixels and once at the end.

    canvas: (n, C, H, W) int64 in [0, levels), zeros where not yet drawn; done/total count
    sub-pixels. The last canvas equals `sample(...)` for the same arguments. `on_logits`, if
    given, is called with (channel, row, col, logits (n, levels)) before each draw (the guided
    logits, before the temperature). guidance: w >= 0 for classifier-free guidance (0 = none).
    no_condition: draw from the model's unconditional branch ("none" for every image; a model
    trained with conditioning dropout only; labels and cond may then be left out).
    """
    if isinstance(model, TwoStagePixelCNN):
        raise TypeError("a two-stage model is drawn in two stages: use sample_stages (or sample).")
    if no_condition:
        if not model.guidable:
            raise ValueError("this model has no unconditional branch (it was not trained with --cond-dropout): pick a class or person.")
        if guidance:
            raise ValueError("with no condition there is nothing to guide towards: use guidance=0.")
        labels = torch.zeros(n, dtype=torch.long) if model.num_classes and labels is None else labels
        cond = torch.zeros(n, model.cond_dim) if model.cond_dim and cond is None else cond
    h, w = check_args(model, n, size, temperature, method, guidance)
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}.")
    device = next(model.parameters()).device
    c = model.image_channels
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
    model.conditioning_vector(n, labels, cond)  # validates before anything is drawn
    model.check_cond_map(canvas, cond_map)
    unconditional = torch.ones(n, dtype=torch.bool, device=device) if no_condition else None
    if guidance:  # both branches in one batch: rows [0, n) conditional, [n, 2n) unconditional
        labels, cond, cond_map = (None if t is None else torch.cat([t, t]) for t in (labels, cond, cond_map))
        unconditional = torch.arange(2 * n, device=device) >= n
    batch = 2 * n if guidance else n

    seed = seed if seed is not None else int(torch.randint(2**62, ()).item())
    draw = Drawer(canvas, seed, temperature, known, known_mask, on_logits, model.levels, guidance)

    if method == "naive" or not isinstance(model, GatedPixelCNN):  # only the two-stack model has a cached path
        steps = _naive(model, canvas, labels, cond, cond_map, unconditional, draw)
    else:
        cond_vec = model.conditioning_vector(batch, labels, cond, unconditional)
        steps = _cached(model, (batch, c, h, w), cond_vec, cond_map, draw)
    total = c * h * w
    was_training = model.training
    model.eval()
    try:
        while True:
            # Grad mode is per thread, and a consumer (a web server) may resume this generator
            # from another thread each time: switch it off around every step, not once.
            with torch.no_grad():
                pixel = next(steps, None)
            if pixel is None:
                break
            if (pixel + 1) % every == 0 and pixel + 1 < h * w:
                yield canvas.clone(), (pixel + 1) * c, total
    finally:
        model.train(was_training)
    yield canvas.clone(), total, total


def sample(model: PixelCNNBase | TwoStagePixelCNN, n: int, **kwargs) -> torch.Tensor:
    """Draw n images: (n, C, H, W) int64 intensities in [0, levels).

    Keyword arguments as `sample_stream`: labels (int or (n,) ints), cond (n, cond_dim), size
    (H, W), temperature > 0, seed, method ("cached" or "naive"), known / known_mask (n, C, H, W)
    to keep given pixels and complete the rest, guidance w >= 0, no_condition; for a two-stage
    model as `sample_stages` (sketch, sketch_guidance).
    """
    frames = sample_stages(model, n, every=1 << 30, **kwargs) if isinstance(model, TwoStagePixelCNN) else (
        ("image", *frame) for frame in sample_stream(model, n, every=1 << 30, **kwargs))
    for _, canvas, done, total in frames:
        pass
    return canvas


def sample_stages(
    model: TwoStagePixelCNN,
    n: int,
    *,
    labels=None,
    cond=None,
    sketch: torch.Tensor | None = None,
    seed: int | None = None,
    guidance: float = 0.0,
    sketch_guidance: float | None = None,
    every: int = 1,
    sketch_every: int = 1,
    on_logits=None,
    on_sketch_logits=None,
    no_condition: bool = False,
    **kwargs,
) -> Iterator[tuple[str, torch.Tensor, int, int]]:
    """Draw a two-stage model's sketch, then the detail over it.

    Yields ("sketch", (n, C, h, w) sketch canvas, done, total) while the sketch is drawn (every
    `sketch_every` sketch pixels; not at all when `sketch` (n, C, h, w) ints in [0, sketch
    levels) is given), then ("detail", (n, C, H, W) canvas, done, total) as `sample_stream`.
    guidance: the detail stage's; sketch_guidance: the sketch stage's (None: the same). The
    sketch stage draws with `seed`, the detail stage with seed + 1. Other keyword arguments
    (temperature, method, size is not allowed) go to both stages' `sample_stream`.
    """
    seed = seed if seed is not None else int(torch.randint(2**62, ()).item())
    sketch_guidance = guidance if sketch_guidance is None else sketch_guidance
    condition = dict(labels=labels, cond=cond, no_condition=no_condition)
    if sketch is None:
        for sketch, done, total in sample_stream(model.sketch, n, **condition, seed=seed, guidance=sketch_guidance, every=sketch_every,
                                                 on_logits=on_sketch_logits, **kwargs):
            yield "sketch", sketch, done, total
    else:
        sketch = torch.as_tensor(sketch)
        expected = (n, model.image_channels, *model.sketch.image_size)
        if tuple(sketch.shape) != expected or sketch.is_floating_point() or sketch.min() < 0 or sketch.max() >= model.sketch.levels:
            raise ValueError(f"sketch must be {expected} integers in [0, {model.sketch.levels}).")
    with torch.no_grad():
        cond_map = model.cond_map_of(sketch.to(next(model.parameters()).device))
    for canvas, done, total in sample_stream(model.detail, n, **condition, cond_map=cond_map, seed=seed + 1, guidance=guidance, every=every,
                                             on_logits=on_logits, **kwargs):
        yield "detail", canvas, done, total


def _naive(model, canvas, labels, cond, cond_map, unconditional, draw):
    """Reference: one forward pass per sub-pixel (of both branches, with guidance) over the rows
    down to the current one (a causal model's rows below cannot change it). Yields the index of
    each finished pixel."""
    n, c, h, w = canvas.shape
    for row in range(h):
        rows_map = None if cond_map is None else cond_map[:, :, : row + 1]
        for col in range(w):
            for channel in range(c):
                rows = canvas[:, :, : row + 1]
                inputs = rows if unconditional is None else torch.cat([rows, rows])
                logits = model(inputs, labels, cond, rows_map, unconditional)  # (n or 2n, levels, C, row + 1, W)
                draw(channel, row, col, logits[:, :, channel, row, col])
            yield row * w + col


def group_bounds(channels: int, colours: int) -> list[tuple[int, int]]:
    """[lo, hi) channel range of each colour group (groups are contiguous blocks)."""
    groups = channel_groups(channels, colours).tolist()
    return [(groups.index(c), len(groups) - groups[::-1].index(c)) for c in range(colours)]


def with_bias(conv, lo, hi):
    """A masked 1x1's rows for input channels [0, hi) and outputs [lo, hi), its bias on top."""
    weight = conv.masked_weight().t()  # (in, out); rows of later groups are masked to 0
    return torch.cat([conv.bias[None, lo:hi], weight[:hi, lo:hi]]).contiguous()


class _LayerState:
    """One gated layer's weights as per-colour-group matrices, and its small caches.

    At colour step c only group c's features can have changed (group g sees the current pixel's
    colours before g), so each step computes that group alone from the cached earlier groups.
    """

    def __init__(self, layer, bias, n, w, pad, bounds, device, dtype):
        hidden = layer.skip.weight.shape[0]
        in_channels = layer.horizontal.weight.shape[1]
        self.first = layer.first
        self.n, self.w = n, w
        self.bounds = bounds  # [lo, hi) hidden channels of each colour group
        # Gate columns of each group, f then g: [f_lo:f_hi, h+lo:h+hi].
        self.gate_cols = [torch.cat([torch.arange(lo, hi), torch.arange(hidden + lo, hidden + hi)]).to(device) for lo, hi in self.bounds]
        # The vertical conv as one product over im2col windows ordered (row, tap, channel).
        self.vertical = layer.vertical.conv.weight.permute(2, 3, 1, 0).reshape(-1, 2 * hidden)
        self.vertical_bias = layer.vertical.conv.bias
        self.kernel = layer.vertical.conv.weight.shape[3]
        # (taps*in, 2h): a window of the row buffer, flattened tap-major, times this.
        horizontal = layer.horizontal.masked_weight()[:, :, 0, :].permute(2, 1, 0).reshape(-1, 2 * hidden)
        self.horizontal = [horizontal[:, cols].contiguous() for cols in self.gate_cols]
        self.link_weight = layer.link.weight[:, :, 0, 0]
        self.link_bias = layer.link.bias + layer.horizontal.bias
        # The gated buffer holds a constant 1 before each layer's channels, so a weight matrix with
        # the bias as its first row does product and bias in one call: (1 + hi, group).
        self.residual = [with_bias(layer.residual, lo, hi) for lo, hi in self.bounds] if layer.residual is not None else None
        self.skip = [with_bias(layer.skip, lo, hi) for lo, hi in self.bounds]
        if torch.is_tensor(bias):
            bias = bias.expand(n, -1, *bias.shape[2:]).permute(0, 2, 3, 1)  # (n, H or 1, W or 1, 4h)
            self.bias_v, self.bias_h = bias.chunk(2, dim=3)
        else:
            self.bias_v = self.bias_h = None
        # Inputs of the vertical conv for the last pad+1 rows, zero-padded left and right.
        self.vertical_rows = torch.zeros((n, pad + 1, w + 2 * pad, in_channels), device=device, dtype=dtype)
        # Inputs of the horizontal conv for the current row, zero-padded on the left.
        self.row = torch.zeros((n, w + pad, in_channels), device=device, dtype=dtype)
        # Per group (n, W, 2*group): link from the row above + conditioning + conv bias. Filled in
        # place each row, so views taken of it once stay valid.
        self.row_bias = [torch.zeros((n, w, len(cols)), device=device, dtype=dtype) for cols in self.gate_cols]

    def set_row_bias(self, v_pre_above, row):
        """v_pre_above: (n, W, 2h) vertical pre-activations of the row above, or None for row 0."""
        if v_pre_above is None:
            bias = self.link_bias.expand(self.n, self.w, -1)
        else:
            bias = torch.addmm(self.link_bias, v_pre_above.reshape(self.n * self.w, -1), self.link_weight.t()).view(self.n, self.w, -1)
        if self.bias_h is not None:
            bias = bias + self.bias_h[:, min(row, self.bias_h.shape[1] - 1)]
        for target, cols in zip(self.row_bias, self.gate_cols):
            target.copy_(bias[:, :, cols])

    def advance(self, new_row):
        """Feed the vertical stack one finished row of its input, new_row (n, W, in), and return
        that row's pre-activations (n, W, 2h)."""
        rows = self.vertical_rows
        pad = rows.shape[1] - 1
        rows[:, :-1] = rows[:, 1:].clone()
        rows[:, -1, pad : pad + self.w] = new_row
        windows = rows.unfold(2, self.kernel, 1).permute(0, 2, 1, 4, 3)  # (n, W, pad+1, kernel, in)
        return torch.addmm(self.vertical_bias, windows.reshape(self.n * self.w, -1), self.vertical).view(self.n, self.w, -1)


def _cached(model, shape, cond_vec, cond_map, draw):
    """Incremental sampler over a batch of `shape` (n, C, H, W). Yields the index of each finished pixel."""
    n, c, h, w = shape
    pad, hidden, levels = model.kernel_size // 2, model.hidden_channels, model.levels
    weight = model.head_out.weight
    device, dtype = weight.device, weight.dtype
    bounds = group_bounds(hidden, c)
    layers = [
        _LayerState(layer, layer.conditioning(cond_vec, cond_map), n, w, pad, bounds, device, dtype) for layer in model.layers
    ]
    last = len(layers) - 1
    # Skip 1x1s of all layers as one product over the stacked gated outputs, per group.
    skip = [torch.cat([state.skip[k] for state in layers]) for k in range(c)]
    head_hidden_w = model.head_hidden.masked_weight().t()
    head_hidden = [head_hidden_w[:hi, lo:hi].contiguous() for lo, hi in bounds]
    head_hidden_b = [model.head_hidden.bias[lo:hi] for lo, hi in bounds]
    head_out_w = model.head_out.masked_weight().t()  # (h, C*levels)
    head_out = [head_out_w[:hi, k * levels : (k + 1) * levels].contiguous() for k, (lo, hi) in enumerate(bounds)]
    head_out_b = model.head_out.bias.view(c, levels)
    # This pixel's gated outputs, every layer, after a constant 1 that carries the biases.
    gated = torch.zeros((n, len(layers), 1 + hidden), device=device, dtype=dtype)
    gated[:, :, 0] = 1.0
    skips = torch.zeros((n, hidden), device=device, dtype=dtype)
    head = torch.zeros((n, hidden), device=device, dtype=dtype)
    scale = 2.0 / (levels - 1)
    intensity = torch.arange(levels, device=device, dtype=dtype) * scale - 1.0  # level -> model input
    for state in layers:
        state.set_row_bias(None, 0)

    # Every slice the loop touches is a view of a persistent buffer: take them once, up front.
    def layer_steps(col, channel):
        lo, hi = bounds[channel]
        steps = []
        for k, state in enumerate(layers):
            steps.append((
                state.row[:, col : col + pad + 1].reshape(n, -1),  # (n, (pad+1)*in) window
                state.row_bias[channel][:, col],
                state.horizontal[channel],
                gated[:, k, 1 + lo : 1 + hi],
                gated[:, k, : 1 + hi],
                state.residual[channel] if k < last else None,
                None if state.first else state.row[:, pad + col, lo:hi],  # residual input
                layers[k + 1].row[:, pad + col, lo:hi] if k < last else None,  # next layer's input
            ))
        return steps

    plan = [[layer_steps(col, channel) for channel in range(c)] for col in range(w)]
    image_row = [[layers[0].row[:, pad + col, channel] for channel in range(c)] for col in range(w)]
    head_views = [(gated[:, :, : 1 + hi], skips[:, lo:hi], skips[:, :hi], head[:, lo:hi], head[:, :hi], hi - lo) for lo, hi in bounds]

    for row in range(h):
        for col in range(w):
            for channel in range(c):
                stacked, skip_out, skip_in, head_out_view, head_in, size = head_views[channel]
                for window, bias, horizontal, gated_out, gated_in, residual, residual_in, layer_out in plan[col][channel]:
                    pre = torch.addmm(bias, window, horizontal)  # (n, 2*size)
                    pre[:, :size].tanh_()
                    torch._C._nn.glu(pre, -1, out=gated_out)  # tanh(f) * sigmoid(g)
                    if layer_out is not None:
                        if residual_in is None:  # the first layer has no residual: its input is the image
                            torch.mm(gated_in, residual, out=layer_out)
                        else:
                            torch.addmm(residual_in, gated_in, residual, out=layer_out)
                torch.mm(stacked.reshape(n, -1), skip[channel], out=skip_out)
                torch.addmm(head_hidden_b[channel], skip_in.relu(), head_hidden[channel], out=head_out_view)
                head_out_view.relu_()
                logits = torch.addmm(head_out_b[channel], head_in, head_out[channel])  # (n, levels)
                torch.index_select(intensity, 0, draw(channel, row, col, logits), out=image_row[col][channel])
            yield row * w + col
        if row + 1 < h:
            _advance_vertical(layers, row, pad)


def _advance_vertical(layers, row, pad):
    """Run the vertical stack on the finished `row`, and set up the next row's horizontal state."""
    new_input = layers[0].row[:, pad:]  # (n, W, C): the finished image row, already scaled
    for state in layers:
        v_pre = state.advance(new_input)  # (n, W, 2h)
        if state.bias_v is not None:
            v_pre = v_pre + state.bias_v[:, min(row, state.bias_v.shape[1] - 1)]
        state.set_row_bias(v_pre, row + 1)
        new_input = gate(v_pre.transpose(1, 2)).transpose(1, 2)  # (n, W, h): the next layer's vertical input
    for state in layers:
        state.row.zero_()
