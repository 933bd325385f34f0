"""The reference sampler: one full forward pass per sub-pixel. Slow, obviously right, and the one
the cached sampler is tested against; the original PixelCNN is always drawn this way."""

import torch


def naive(model, canvas, labels, cond, cond_map, unconditional, draw):
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
