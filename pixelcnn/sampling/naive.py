"""The reference sampler: one full forward pass per sub-pixel. Slow, obviously right, and the one
the cached sampler is tested against; the original PixelCNN is always drawn this way."""


def naive(model, draw, labels, cond, cond_map, unconditional):
    """Reference: one forward pass per sub-pixel over the batch rows (`draw.row_images` of its
    canvas: with guidance, a second row of each guided image), down to the current row (a causal
    model's rows below cannot change it). Yields the index of each finished pixel."""
    _, c, h, w = draw.canvas.shape
    for row in range(h):
        rows_map = None if cond_map is None else cond_map[:, :, : row + 1]
        for col in range(w):
            for channel in range(c):
                rows = draw.canvas[:, :, : row + 1]
                inputs = rows if len(draw.row_images) == len(rows) else rows[draw.row_images]
                logits = model(inputs, labels, cond, rows_map, unconditional)  # (rows, levels, C, row + 1, W)
                draw(channel, row, col, logits[:, :, channel, row, col])
            yield row * w + col
