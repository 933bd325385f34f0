"""The sampling settings an evaluation measures (guidance and temperature, per stage for a
two-stage model), and the rule that picks the page's defaults among them."""

import argparse
import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Setting:
    """One way to sample: the guidance and temperature of a one-stage model, or of a two-stage
    model's sketch stage (`guidance`, `sketch_temperature`) and detail stage (`detail_guidance`,
    `temperature`); the sketch-stage fields are None for a one-stage model."""

    guidance: float
    temperature: float = 1.0
    sketch_temperature: float | None = None
    detail_guidance: float | None = None

    def keywords(self, model) -> dict:
        """The sampler's keywords for `model` (`sampling.sample`)."""
        if model.STAGED:
            return {"sketch_guidance": self.guidance, "guidance": self.detail_guidance or 0.0, "temperature": self.temperature,
                    "sketch_temperature": self.sketch_temperature}
        return {"guidance": self.guidance, "temperature": self.temperature}

    @property
    def key(self) -> str:
        """A short name, e.g. "w 1, t 0.9" or "sketch w 0.5 t 0.8, detail w 0 t 1" (JSON keys, figure titles)."""
        if self.sketch_temperature is None:
            return f"w {self.guidance:g}, t {self.temperature:g}"
        return f"sketch w {self.guidance:g} t {self.sketch_temperature:g}, detail w {self.detail_guidance:g} t {self.temperature:g}"


def settings(args, model) -> list[Setting]:
    """Every combination of --guidance (0 only for a model without an unconditional branch) and
    --temperature; for a two-stage model also of --sketch-temperature (default: --temperature's
    values) and --detail-guidance."""
    guidance = args.guidance if model.guidable else [0.0]
    if not model.STAGED:
        return [Setting(w, t) for w, t in itertools.product(guidance, args.temperature)]
    sketch = args.sketch_temperature or args.temperature
    detail = args.detail_guidance if model.guidable else [0.0]
    return [Setting(w, t, s, dw) for w, s, dw, t in itertools.product(guidance, sketch, detail, args.temperature)]


def best_of(results: dict, score=lambda r: r) -> object:
    """The key with the highest score (the first among equals, in the order measured)."""
    return max(results, key=lambda k: score(results[k]))


def number_list(flag: str, minimum: float, strict: bool = False):
    """An argparse type: numbers separated by commas, each finite and >= minimum (> when strict)."""

    def parse(text: str) -> list[float]:
        try:
            values = [float(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} takes numbers separated by commas, got {text!r}") from None
        low = (lambda v: v <= minimum) if strict else (lambda v: v < minimum)
        if not values or any(not np.isfinite(v) or low(v) for v in values):
            bound = f"above {minimum:g}" if strict else f"of at least {minimum:g}"
            raise argparse.ArgumentTypeError(f"{flag} takes numbers {bound}, got {text!r}")
        return values

    return parse


guidance_list = number_list("--guidance", 0.0)
temperature_list = number_list("--temperature", 0.0, strict=True)
sketch_temperature_list = number_list("--sketch-temperature", 0.0, strict=True)
