"""What a sampler believed: a hook for `on_logits` that keeps the logits of every sub-pixel of a
request's first images, as the drawer saw them (guided, before the temperature)."""

import math
from copy import copy as shallow

import torch


class LogitsRecord:
    """The first image's logits exactly, the next `images - 1` images' in half precision (16 images of
    28x28 in 6 MB), and how many sub-pixels are recorded. All of it lives in tensors, so that the hook
    can go to an engine in another process (`engine.process`) and record into the same memory."""

    def __init__(self, shape: tuple[int, int, int], levels: int, images: int = 1):
        self.channels, self.height, self.width = shape
        self.first = torch.zeros(math.prod(shape), levels)
        self.others = torch.zeros(images - 1, math.prod(shape), levels, dtype=torch.float16)
        self.recorded = torch.zeros(1, dtype=torch.long)  # sub-pixels recorded so far, in raster order

    def __call__(self, channel, row, col, logits):
        index = (row * self.width + col) * self.channels + channel
        self.first[index] = logits[0].float()
        self.others[:, index] = logits[1 : 1 + len(self.others)].to(torch.float16)
        self.recorded.clamp_(min=index + 1)

    def copied(self) -> "LogitsRecord":
        """The same record in memory of its own (not shared with an engine's process any longer)."""
        copy = shallow(self)
        copy.first, copy.others, copy.recorded = self.first.clone(), self.others.clone(), self.recorded.clone()
        return copy

    @property
    def count(self) -> int:
        return int(self.recorded[0])

    def logits(self, image: int) -> torch.Tensor:
        """(sub-pixels, levels) the recorded logits of `image`."""
        return self.first if image == 0 else self.others[image - 1]


@torch.no_grad()
def drawn_logits(model, images: torch.Tensor, labels=None, cond=None, cond_map=None, guidance: float = 0.0,
                 no_condition: bool = False) -> torch.Tensor:
    """Finished images (n, C, H, W) ints -> (n, C*H*W, levels) the logits a sampler's `on_logits` hook
    saw while drawing them (guided as they were drawn, before the temperature; raster order: row,
    column, channel), worked out again in one forward pass (two with guidance) instead of being kept
    for every image while it was drawn. The same numbers up to float rounding."""
    n = len(images)
    if no_condition:  # as `order` draws it: the unconditional branch, whatever the labels
        labels = torch.zeros(n, dtype=torch.long) if model.num_classes and labels is None else labels
        cond = torch.zeros(n, model.cond_dim) if model.cond_dim and cond is None else cond
    everyone = torch.ones(n, dtype=torch.bool)
    logits = model(images, labels, cond, cond_map, unconditional=everyone if no_condition else None)
    if guidance:
        unconditional = model(images, labels, cond, cond_map, unconditional=everyone)
        logits = unconditional + (1.0 + guidance) * (logits - unconditional)
    return logits.permute(0, 3, 4, 2, 1).reshape(n, -1, logits.shape[1])  # (n, levels, C, H, W) -> (n, H*W*C, levels)
