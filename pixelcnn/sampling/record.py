"""What a sampler believed: a hook for `on_logits` that keeps the logits of every sub-pixel of a
request's first images, as the drawer saw them (guided, before the temperature)."""

import math

import torch


class LogitsRecord:
    """The first image's logits exactly, the next `images - 1` images' in half precision (16 images of
    28x28 in 6 MB), and how many sub-pixels are recorded. All of it lives in tensors, so that the hook
    can go to an engine in another process (`sampling.engine`) and record into the same memory."""

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

    @property
    def count(self) -> int:
        return int(self.recorded[0])

    def logits(self, image: int) -> torch.Tensor:
        """(sub-pixels, levels) the recorded logits of `image`."""
        return self.first if image == 0 else self.others[image - 1]
