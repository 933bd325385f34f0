"""How well a model fits held-out images: the mean of its per-image measure over a data set.

Every model class says what it is measured in (`LOSS`: key and words) and how it measures an
image (`loss_per_image`): bits/dim for the PixelCNNs, squared error for the MSE auto-encoder.
"""

import numpy as np
import torch

from pixelcnn.data import quantize


@torch.no_grad()
def mean_loss(model, x: np.ndarray, y: np.ndarray | None = None, cond: np.ndarray | None = None, device="cpu", batch: int = 250,
              stage: str = "both") -> float:
    """Mean bits/dim (squared error for the MSE auto-encoder) of a model over uint8 images
    (N, C, H, W) with labels (N,) and, for a vector-conditioned model, vectors cond (N, D); with
    stage "sketch", a two-stage model's bits per sketch sub-pixel under its sketch stage alone."""
    model.eval()
    measure = model.sketch_loss_per_image if stage == "sketch" else model.loss_per_image
    total = 0.0
    for start in range(0, len(x), batch):
        part = slice(start, start + batch)
        xb = torch.from_numpy(quantize(x[part], model.levels)).to(device)
        labels = torch.from_numpy(y[part]).to(device) if y is not None else None
        cond_b = torch.from_numpy(cond[part]).to(device) if cond is not None else None
        total += measure(xb, labels, cond_b).sum().item()
    return total / len(x)
