"""The cached sampler of the two-stack model: the vertical stack runs once per finished row, and
the horizontal stack at a pixel needs, per layer, only that pixel and the kernel_size//2 pixels
to its left, kept in a small row buffer (each layer's `GatedLayerStep`). Per pixel the work is a
few (B, 2h) matrix products per layer instead of a full forward pass."""

import torch


class Head:
    """The skip sum and the output head (two masked 1x1s) as per-colour-group matrices."""

    def __init__(self, model, steps, n: int):
        c, hidden, levels = model.image_channels, model.hidden_channels, model.levels
        weight = model.head_out.weight
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
        self.gated = torch.zeros((n, len(steps), 1 + hidden), device=weight.device, dtype=weight.dtype)
        self.gated[:, :, 0] = 1.0
        skips = torch.zeros((n, hidden), device=weight.device, dtype=weight.dtype)
        features = torch.zeros((n, hidden), device=weight.device, dtype=weight.dtype)
        self.views = [(self.gated[:, :, : 1 + hi], skips[:, lo:hi], skips[:, :hi], features[:, lo:hi], features[:, :hi])
                      for lo, hi in bounds]

    def logits(self, channel: int) -> torch.Tensor:
        """Colour `channel` of this pixel, from the layers' gated outputs -> (n, levels) logits."""
        stacked, skip_out, skip_in, features_out, features_in = self.views[channel]
        torch.mm(stacked.reshape(len(stacked), -1), self.skip[channel], out=skip_out)  # a copy unless one colour group
        torch.addmm(self.hidden_b[channel], skip_in.relu(), self.hidden[channel], out=features_out)
        features_out.relu_()
        return torch.addmm(self.out_b[channel], features_in, self.out[channel])


def cached(model, shape, cond_vec, cond_map, draw):
    """Incremental sampler over a batch of `shape` (n, C, H, W). Yields the index of each finished pixel."""
    n, c, h, w = shape
    weight = model.head_out.weight
    steps = [layer.stepper(cond_vec, cond_map, n, w, weight.dtype) for layer in model.layers]
    head = Head(model, steps, n)
    # level -> model input, with the arithmetic of PixelCNNBase.scale, so that both samplers agree exactly
    intensity = torch.arange(model.levels, device=weight.device, dtype=weight.dtype) * (2.0 / (model.levels - 1)) - 1.0
    for step in steps:
        step.set_row_bias(None, 0)
    # Every slice the loop touches is a view of a persistent buffer: take them once, up front.
    above = steps[1:] + [None]
    plan = [[[step.views(col, channel, head.gated, k, above[k]) for k, step in enumerate(steps)] for channel in range(c)]
            for col in range(w)]
    pad = steps[0].row.shape[1] - w
    image_row = [[steps[0].row[:, pad + col, channel] for channel in range(c)] for col in range(w)]
    layer_step = steps[0].step
    for row in range(h):
        for col in range(w):
            for channel in range(c):
                for views in plan[col][channel]:
                    layer_step(*views)
                value = draw(channel, row, col, head.logits(channel))
                torch.index_select(intensity, 0, value, out=image_row[col][channel])
            yield row * w + col
        if row + 1 < h:
            advance_vertical(steps, row, pad)


def advance_vertical(steps, row: int, pad: int) -> None:
    """Run the vertical stack on the finished `row`, and set up the next row's horizontal state."""
    new_input = steps[0].row[:, pad:]  # (n, W, C): the finished image row, already scaled
    for step in steps:
        new_input = step.next_row(new_input, row)
