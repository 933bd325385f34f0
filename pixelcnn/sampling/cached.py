"""The cached sampler of the two-stack model: the vertical stack runs once per finished row, and
the horizontal stack at a pixel needs, per layer, only that pixel and the kernel_size//2 pixels
to its left, kept in a small row buffer (each layer's `GatedLayerStep`). Per pixel the work is a
few (B, 2h) matrix products per layer instead of a full forward pass."""

import torch


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
        self.take_views()

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
        self.take_views()

    def pixels(self, draw):
        """Draw the batch pixel by pixel with `draw` (a Drawer); yields the index of each finished pixel."""
        c, h, w = self.shape
        pad = self.steps[0].row.shape[1] - w
        layer_step = self.steps[0].step
        for row in range(h):
            for col in range(w):
                for channel in range(c):
                    for views in self.plan[col][channel]:
                        layer_step(*views)
                    value = draw(channel, row, col, self.head.logits(channel))
                    torch.index_select(self.intensity, 0, value, out=self.image_row[col][channel])
                yield row * w + col
            if row + 1 < h:
                advance_vertical(self.steps, row, pad)


def advance_vertical(steps, row: int, pad: int) -> None:
    """Run the vertical stack on the finished `row`, and set up the next row's horizontal state."""
    steps[0].input_row(row).copy_(steps[0].row[:, pad:])  # (n, W, C): the finished image row, already scaled
    for step, above in zip(steps, steps[1:] + [None]):
        step.next_row(row, above)
