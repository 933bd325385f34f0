"""Drawing requests sampled together: each request is checked into an `Order` (its images'
conditioning and its `Part`: seed, temperature, guidance, given pixels), and a `Cohort` draws any
number of orders for one model in one sampler batch. An order's images do not depend on which
others share its cohort; an order can leave a running cohort between two pixels.

A cohort draws with the cached sampler of the two-stack model (`Cached`, below): the vertical
stack runs once per finished row, and the horizontal stack at a pixel needs, per layer, only that
pixel and the kernel_size//2 pixels to its left, kept in a small row buffer (each layer's
`GatedLayerStep`). Per pixel the work is a few (B, 2h) matrix products per layer instead of a full
forward pass."""

from dataclasses import dataclass

import torch

from pixelcnn.sampling import native
from pixelcnn.sampling.drawer import Drawer, Part, check_args
from pixelcnn.sampling.naive import naive


def seed_or_new(seed: int | None) -> int:
    """The seed asked for, or a new random one (a drawing always has a seed, so it can be redrawn)."""
    return seed if seed is not None else int(torch.randint(2**62, ()).item())


def checked_sketch(model, n: int, sketch) -> torch.Tensor:
    """A two-stage model's given sketch, checked: (n, C, h, w) ints in [0, sketch levels), or a ValueError."""
    sketch = torch.as_tensor(sketch)
    expected = (n, model.image_channels, *model.sketch.image_size)
    if tuple(sketch.shape) != expected or sketch.is_floating_point() or sketch.min() < 0 or sketch.max() >= model.sketch.levels:
        raise ValueError(f"sketch must be {expected} integers in [0, {model.sketch.levels}).")
    return sketch


@dataclass(eq=False)
class Order:
    """One checked request for `part.n` images of `size` from one model, with each image's
    conditioning (labels (n,), cond (n, D), cond_map (n, M, H, W), or None), and whether it draws
    from the unconditional branch."""

    model: object
    size: tuple[int, int]
    labels: torch.Tensor | None
    cond: torch.Tensor | None
    cond_map: torch.Tensor | None
    no_condition: bool
    part: Part

    @property
    def rows(self) -> int:
        """Batch rows it takes: one an image, two with guidance (both branches)."""
        return self.part.n * (2 if self.part.guidance else 1)


def order(model, n: int, *, labels=None, cond=None, cond_map=None, size=None, temperature: float = 1.0, seed: int | None = None,
          method: str = "cached", known=None, known_mask=None, on_logits=None, guidance: float = 0.0, no_condition: bool = False,
          count_bits: bool = False) -> Order:
    """Check a request's arguments (as `sample_stream` takes them) -> its Order, or a ValueError.
    count_bits: add up, as it draws, the nats each image's drawn values cost under the model (`Part.nats`)."""
    h, w = check_args(model, n, size, temperature, method, guidance)
    shape = (n, model.image_channels, h, w)
    device = next(model.parameters()).device
    if no_condition:
        if not model.guidable:
            raise ValueError("this model has no unconditional branch (it was not trained with --cond-dropout): pick a class or person.")
        if guidance:
            raise ValueError("with no condition there is nothing to guide towards: use guidance=0.")
        labels = torch.zeros(n, dtype=torch.long) if model.num_classes and labels is None else labels
        cond = torch.zeros(n, model.cond_dim) if model.cond_dim and cond is None else cond
    if known is not None or known_mask is not None:
        if known is None or known_mask is None or tuple(known.shape) != shape or known.shape != known_mask.shape:
            raise ValueError(f"known and known_mask must both have shape {shape}.")
        if known.is_floating_point() or known.min() < 0 or known.max() >= model.levels:
            raise ValueError(f"known must hold integer intensities in [0, {model.levels}).")
        known, known_mask = known.to(device).long(), known_mask.to(device).bool()
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    labels, cond, cond_map = (None if t is None else torch.as_tensor(t, device=device) for t in (labels, cond, cond_map))
    model.conditioning_vector(n, labels, cond)  # validates before anything is drawn
    model.check_cond_map(torch.empty(shape), cond_map)
    part = Part(n, seed_or_new(seed), temperature, guidance, known, known_mask, on_logits, count_bits=count_bits)
    return Order(model, (h, w), labels, cond, cond_map, no_condition, part)


class Cohort:
    """Orders for one model drawn in one batch: `pixels()` draws them pixel by pixel (yielding
    each finished pixel's index), `keep(orders)` lets the others leave between two pixels."""

    def __init__(self, model, orders: list[Order], method: str = "cached", weights=None):
        """weights: the module that draws, if not `model` itself (a copy of it in another precision)."""
        if len({o.size for o in orders}) != 1 or any(o.model is not model for o in orders):
            raise ValueError("a cohort draws images of one size from one model.")
        self.source, self.orders, self.size = model, list(orders), orders[0].size
        self.model = model = weights if weights is not None else model
        self.device = next(model.parameters()).device
        self.drawer = Drawer([o.part for o in orders], (model.image_channels, *self.size), model.levels, self.device)
        self.cached = method == "cached" and model.CACHED

    def conditioning(self):
        """Each batch row's (labels, cond, cond_map, unconditional), in the drawer's row order."""
        rows = self.drawer.row_images

        def per_row(name):
            tensors = [getattr(o, name) for o in self.orders]
            return None if tensors[0] is None else torch.cat(tensors)[rows]

        no_condition = torch.cat([torch.full((o.part.n,), o.no_condition) for o in self.orders]).to(self.device)
        unconditional = self.drawer.row_unconditional | no_condition[rows]
        return per_row("labels"), per_row("cond"), per_row("cond_map"), unconditional if unconditional.any() else None

    def pixels(self):
        """Draw every order's images; yields the index of each finished pixel (raster order)."""
        labels, cond, cond_map, unconditional = self.conditioning()
        if not self.cached:
            yield from naive(self.model, self.drawer, labels, cond, cond_map, unconditional)
            return
        rows = len(self.drawer.row_images)
        cond_vec = self.model.conditioning_vector(rows, labels, cond, unconditional)
        cond_map = None if cond_map is None else cond_map.to(self.model.head_out.weight.dtype)
        cond_map = self.model.spatial_conditioning(cond_vec, cond_map, self.size)
        self.sampler = Cached(self.model, rows, self.size, cond_vec, cond_map)
        yield from self.sampler.pixels(self.drawer)

    def keep(self, orders: list[Order]) -> None:
        """Go on drawing only `orders` (the others leave the batch; their images stop where they are).
        The naive sampler keeps its batch whole."""
        if not self.cached or not orders:
            return
        rows = self.drawer.keep([o.part for o in orders])
        self.orders = [o for o in self.orders if any(o is kept for kept in orders)]
        if hasattr(self, "sampler"):  # not yet, before the first pixel: pixels() starts from the orders kept
            self.sampler.keep(rows.to(self.device))


class Head:
    """The skip sum and the output head (two masked 1x1s) as per-colour-group matrices."""

    def __init__(self, model, steps, n: int):
        c, hidden, levels = model.image_channels, model.hidden_channels, model.levels
        self.bounds = bounds = steps[0].bounds  # [lo, hi) hidden channels of each colour group
        # Skip 1x1s of all layers as one product over the stacked gated outputs, per group.
        self.skip = [torch.cat([step.skip[k] for step in steps]) for k in range(c)]
        hidden_w = model.head_hidden.masked_weight().t()
        self.hidden = [hidden_w[:hi, lo:hi].contiguous() for lo, hi in bounds]
        self.hidden_b = [model.head_hidden.bias[lo:hi] for lo, hi in bounds]
        out_w = model.head_out.masked_weight().t()  # (h, C*levels)
        self.out = [out_w[:hi, k * levels : (k + 1) * levels].contiguous() for k, (lo, hi) in enumerate(bounds)]
        self.out_b = model.head_out.bias.view(c, levels)
        # This pixel's gated outputs, every layer, after a constant 1 that carries the biases.
        weight = model.head_out.weight
        self.gated = torch.zeros((n, len(steps), 1 + hidden), device=weight.device, dtype=weight.dtype)
        self.gated[:, :, 0] = 1.0
        self.take_views()

    def take_views(self) -> None:
        gated, bounds = self.gated, self.bounds
        skips, features = gated.new_zeros((len(gated), gated.shape[2] - 1)), gated.new_zeros((len(gated), gated.shape[2] - 1))
        # One colour group (grey) reads the whole buffer, a view taken once; otherwise a copy a step.
        self.views = [(gated.view(len(gated), -1) if hi == gated.shape[2] - 1 else gated[:, :, : 1 + hi],
                       skips[:, lo:hi], skips[:, :hi], features[:, lo:hi], features[:, :hi]) for lo, hi in bounds]

    def keep(self, rows: torch.Tensor) -> None:
        self.gated = self.gated[rows]
        self.take_views()

    def logits(self, channel: int) -> torch.Tensor:
        """Colour `channel` of this pixel, from the layers' gated outputs -> (n, levels) logits."""
        stacked, skip_out, skip_in, features_out, features_in = self.views[channel]
        torch.mm(stacked if stacked.dim() == 2 else stacked.reshape(len(stacked), -1), self.skip[channel], out=skip_out)
        torch.addmm(self.hidden_b[channel], skip_in.relu(), self.hidden[channel], out=features_out)
        features_out.relu_()
        return torch.addmm(self.out_b[channel], features_in, self.out[channel])


class Cached:
    """Incremental sampler over a batch of `rows` images of `size` (H, W), each row with its own
    conditioning (cond_vec (rows, F) or None, cond_map (rows, M, H, W) or None). Rows can leave
    between two pixels (`keep`): a visitor who goes away stops costing anything."""

    def __init__(self, model, rows: int, size: tuple[int, int], cond_vec, cond_map):
        weight = model.head_out.weight
        self.shape = (model.image_channels, *size)
        cond_map = None if cond_map is None else cond_map.permute(0, 2, 3, 1).contiguous()  # (rows, H, W, M), for every layer
        self.cond_vec, self.cond_map = cond_vec, cond_map
        self.steps = [layer.stepper(cond_vec, cond_map, rows, size[1], weight.dtype) for layer in model.layers]
        self.head = Head(model, self.steps, rows)
        # level -> model input, with the arithmetic of PixelCNNBase.scale, so that both samplers agree exactly
        self.intensity = torch.arange(model.levels, device=weight.device, dtype=weight.dtype) * (2.0 / (model.levels - 1)) - 1.0
        for step in self.steps:
            step.start()
        self.plan = None  # the Python step's views, taken where it draws
        self.native = None  # the native pixel step over these buffers (False: the Python step), made at the first pixel

    def take_views(self) -> None:
        """Every slice the pixel loop touches is a view of a persistent buffer: taken once, up front."""
        steps, (c, _, w) = self.steps, self.shape
        above = steps[1:] + [None]
        self.plan = [[[step.views(col, channel, self.head.gated, k, above[k]) for k, step in enumerate(steps)] for channel in range(c)]
                     for col in range(w)]
        pad = steps[0].row.shape[1] - w
        self.image_row = [[steps[0].row[:, pad + col, channel] for channel in range(c)] for col in range(w)]

    def keep(self, rows: torch.Tensor) -> None:
        """Go on with only these batch rows (indices, in order)."""
        self.cond_vec, self.cond_map = (None if t is None else t[rows] for t in (self.cond_vec, self.cond_map))
        for step in self.steps:
            step.keep(rows, self.cond_vec, self.cond_map)
        self.head.keep(rows)
        self.plan = self.native = None  # new buffers: made again

    def pixels(self, draw):
        """Draw the batch pixel by pixel with `draw` (a Drawer); yields the index of each finished pixel."""
        c, h, w = self.shape
        pad = self.steps[0].row.shape[1] - w
        layer_step = self.steps[0].step
        for row in range(h):
            draw.row_noise(row)
            for col in range(w):
                self.make_native(draw)
                if self.native:
                    self.native.pixel(row, col, draw.noise)  # read again each pixel: images may have left
                    yield row * w + col
                    continue
                if self.plan is None:
                    self.take_views()
                for channel in range(c):
                    for views in self.plan[col][channel]:
                        layer_step(*views)
                    value = draw(channel, row, col, self.head.logits(channel))
                    torch.index_select(self.intensity, 0, value, out=self.image_row[col][channel])
                yield row * w + col
            if row + 1 < h and self.make_native(draw):
                self.native.next_row(row, native.row_biases(self.steps, row))
            elif row + 1 < h:
                advance_vertical(self.steps, row, pad)

    def make_native(self, draw) -> bool:
        """Whether the native step draws, its plan made over the current buffers if there is none
        (at the first pixel, and after images left)."""
        if self.native is None:
            self.native = native.plan(self, draw) or False
        return bool(self.native)


def advance_vertical(steps, row: int, pad: int) -> None:
    """Run the vertical stack on the finished `row`, and set up the next row's horizontal state."""
    steps[0].input_row(row).copy_(steps[0].row[:, pad:])  # (n, W, C): the finished image row, already scaled
    for step, above in zip(steps, steps[1:] + [None]):
        step.next_row(row, above)
