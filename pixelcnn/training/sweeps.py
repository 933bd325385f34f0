"""The guidance values an evaluation measures, and the best of them."""

import argparse

import numpy as np


def sweep(args, model) -> list[float]:
    """The guidance values to measure: all of --guidance for a model with an unconditional branch, else 0."""
    return args.guidance if model.guidable else [0.0]


def best_of(results: dict[float, float]) -> float:
    """The guidance with the highest score (the smallest among equals)."""
    return max(sorted(results), key=lambda w: results[w])


def guidance_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--guidance takes numbers separated by commas, got {text!r}") from None
    if not values or any(not np.isfinite(w) or w < 0 for w in values):
        raise argparse.ArgumentTypeError(f"--guidance takes numbers of at least 0, got {text!r}")
    return values
