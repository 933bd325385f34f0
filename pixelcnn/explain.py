"""What a PixelCNN believes about one image, read exactly from the model.

- `surprise_map`: the bits each sub-pixel costs given everything before it in raster order;
  its mean is the image's bits/dim.
- `class_probabilities`: the model as a classifier, p(class | x) by Bayes over its classes,
  calibrated by one temperature fitted on held-out images (`fit_temperature`); `read_class`
  adds what the page says of it, "not a digit" when the picture surprises the model more than
  held-out digits do.
- `dependency_map`: which sub-pixels the prediction of one sub-pixel depends on (autograd
  through the model: a sub-pixel is shaded exactly when it can change that prediction).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pixelcnn.models.base import PixelCNNBase
from pixelcnn.models.twostage import TwoStagePixelCNN


def conditioning(model: PixelCNNBase, label: int | None = None, cond: torch.Tensor | None = None) -> dict:
    """The keyword arguments one image needs: its class (if the model has classes) and vector."""
    return {"labels": torch.tensor([label]) if model.num_classes else None, "cond": cond if model.cond_dim else None}


@torch.no_grad()
def surprise_map(model: PixelCNNBase, x: torch.Tensor, label: int | None = None, cond=None) -> torch.Tensor:
    """x: (1, C, H, W) ints in [0, levels) -> (C, H, W) bits, -log2 p(x_i | x_<i, class).

    Its sum is `model.bits_per_dim(x, ...)` times C*H*W."""
    logits = model(x, **conditioning(model, label, cond)).double()  # (1, levels, C, H, W)
    return F.cross_entropy(logits, x.long(), reduction="none")[0] / math.log(2)


@torch.no_grad()
def class_log_likelihoods(model: PixelCNNBase | TwoStagePixelCNN, x: torch.Tensor) -> np.ndarray:
    """log p(x | c) in nats for every class c; a two-stage model reads the class from its sketch
    stage alone, log p(sketch(x) | c): the coarse shape decides the class, and the detail's
    bits, mostly about stroke texture, only add noise (measured in the README).
    x: (1, C, H, W) ints -> (num_classes,) floats."""
    if model.STAGED:
        x, model = model.sketch_of(x), model.sketch
    labels = torch.arange(model.num_classes)
    bits = model.bits_per_dim(x.expand(model.num_classes, -1, -1, -1), labels=labels)  # (K,)
    return (-bits.double() * x[0].numel() * math.log(2)).cpu().numpy()


def class_probabilities(model: PixelCNNBase, x: torch.Tensor, temperature: float | None = None) -> np.ndarray:
    """The model as a classifier: p(class | x) by Bayes over its classes, log p(x | c) + log p(c)
    with equal priors, the log-likelihoods divided by `temperature` (default: the model's own
    fitted `classifier_temperature`, see `fit_temperature`; 1 is plain Bayes). x: (1, C, H, W)
    ints -> (num_classes,) probabilities."""
    temperature = temperature or getattr(model, "classifier_temperature", 1.0)
    return softmax(class_log_likelihoods(model, x)[None], temperature)[0]


def softmax(log_likelihoods: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(N, K) log-likelihoods in nats -> (N, K) probabilities of softmax(ll / temperature)."""
    scaled = log_likelihoods / temperature
    scaled = np.exp(scaled - scaled.max(1, keepdims=True))
    return scaled / scaled.sum(1, keepdims=True)


def fit_temperature(log_likelihoods: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T that makes softmax(log p(x | c) / T) the best-calibrated classifier of
    held-out images: the T of the lowest mean negative log-probability of their true classes (a
    log-spaced search from 0.1 to 10^4, refined once). (N, K) nats and (N,) labels -> T."""
    def loss(t):
        return -np.log(np.maximum(softmax(log_likelihoods, t)[np.arange(len(labels)), labels], 1e-300)).mean()

    grid = np.logspace(-1, 4, 101)
    best = grid[int(np.argmin([loss(t) for t in grid]))]
    fine = best * np.logspace(-0.05, 0.05, 21)
    return float(fine[int(np.argmin([loss(t) for t in fine]))])


SURE = 0.6  # below this calibrated p the page says "not sure" (the README gives the measured reason)


def reading(probs: np.ndarray, names: list[str], sure: float = SURE) -> tuple[int | None, str]:
    """(K,) calibrated p(class | x) -> (the class the model reads, or None when its top p is below
    `sure`; the reading in words, e.g. "**7** (p = 0.93)" or "not sure: maybe 7 (p = 0.45) or 1 (p = 0.30)")."""
    order = np.argsort(probs)[::-1]
    top = int(order[0])
    if probs[top] >= sure:
        return top, f"**{names[top]}** (p = {probs[top]:.2f})"
    return None, f"not sure: maybe {names[top]} (p = {probs[top]:.2f}) or {names[int(order[1])]} (p = {probs[int(order[1])]:.2f})"


NOUNS = {"mnist": "digit", "fashion-mnist": "garment"}  # what one of a dataset's pictures is called


def noun(model) -> str:
    """What one of the pictures a model learnt from is called: "digit", "garment", or a description."""
    return NOUNS.get(model.dataset, "picture of one of its classes")


@dataclass
class Reading:
    """What the model makes of a picture as a classifier."""

    probs: np.ndarray  # (K,) calibrated p(class | x)
    guess: int | None  # the class it reads; None when it is not sure, or the picture is none of its classes
    words: str  # the reading in words
    surprise: float  # bits per sub-pixel of x (a two-stage model: of its sketch) under its most likely class
    outside: bool  # more surprising than the model's `surprise_limit`: not one of its classes at all


def read_class(model, x: torch.Tensor) -> Reading:
    """x: (1, C, H, W) ints in the model's form -> its Reading. A picture is "not a digit" (or not a
    garment) when it surprises the model more than held-out pictures of its classes do: its bits per
    sub-pixel under its best class above the model's fitted `surprise_limit` (0: none fitted, never)."""
    log_likelihoods = class_log_likelihoods(model, x)
    probs = softmax(log_likelihoods[None], getattr(model, "classifier_temperature", 1.0))[0]
    dims = (model.sketch_of(x) if model.STAGED else x)[0].numel()
    bits = float(-log_likelihoods.max() / (dims * math.log(2)))
    limit = getattr(model, "surprise_limit", 0.0)
    if limit and bits > limit:
        name = noun(model)
        words = (f"not a {name}: the model finds it more surprising than the {name}s it knows ({bits:.2f} bits per pixel"
                 f"{' of its coarse shape' if model.STAGED else ''}, where {name}s stay under {limit:.2f}; lower = more typical)")
        return Reading(probs, None, words, bits, True)
    guess, words = reading(probs, model.class_names)
    return Reading(probs, guess, words, bits, False)


def calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the gap between confidence (the top p) and accuracy, averaged
    over `bins` equal-width confidence bins weighted by how many answers fall in each."""
    confidence, right = probs.max(1), probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - right[inside].mean())
    return float(total)


def dependency_map(model: PixelCNNBase, x: torch.Tensor, row: int, col: int, channel: int = 0, label: int | None = None,
                   cond=None, directions: int = 4) -> torch.Tensor:
    """How strongly each input sub-pixel moves the prediction of sub-pixel (channel, row, col).

    x: (1, C, H, W) ints -> (C, H, W) floats >= 0: the norm of the gradient of the predicted
    log-probabilities, projected on `directions` directions (the log-probability of the value
    that is there, then fixed random ones), with respect to each input. A weight a mask removes
    is exactly zero, so a sub-pixel the prediction cannot see gets exactly 0; one it can see
    gets a positive value (a random direction misses it with probability 0)."""
    c, h, w = x.shape[1:]
    if not (0 <= row < h and 0 <= col < w and 0 <= channel < c):
        raise ValueError(f"pixel ({row}, {col}) channel {channel} is outside the {h} x {w} image.")
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(directions, model.levels, generator=generator, dtype=torch.float64)
    weights[0] = 0.0
    weights[0, int(x[0, channel, row, col])] = 1.0
    scaled = model.scale(x).detach().expand(directions, -1, -1, -1).clone().requires_grad_()
    kwargs = conditioning(model, label, cond)
    kwargs = {k: None if v is None else v.expand(directions, *v.shape[1:]) for k, v in kwargs.items()}
    with torch.enable_grad():
        log_probs = torch.log_softmax(model(scaled, **kwargs)[:, :, channel, row, col].double(), dim=1)  # (D, levels)
        (log_probs * weights.to(log_probs.device)).sum().backward()
    return scaled.grad.double().norm(dim=0)  # (C, H, W)
