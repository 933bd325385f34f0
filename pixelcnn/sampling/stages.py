"""How one request is drawn, stage by stage, written once for every way of drawing it (the library's
`sample_stages`, the crowd's `stages`, the page's frames): a one-stage model draws its "image"; a
two-stage model draws its "sketch" with the request's seed at the sketch's own guidance and
temperature (the detail's where not given), then its "detail" with seed + 1 over the map of that
sketch. A given sketch skips the sketch stage."""

from dataclasses import dataclass

import torch

from pixelcnn.sampling.cohort import seed_or_new


@dataclass(frozen=True)
class Stage:
    name: str  # "sketch", "detail" or "image"
    model: object  # the PixelCNN that draws it
    seed: int | None
    guidance: float
    temperature: float


@dataclass(frozen=True)
class Plan:
    model: object
    stages: tuple[Stage, ...]

    @classmethod
    def of(cls, model, seed: int | None = None, guidance: float = 0.0, temperature: float = 1.0, sketch_guidance: float | None = None,
           sketch_temperature: float | None = None, sketch_given: bool = False) -> "Plan":
        if not model.STAGED:
            return cls(model, (Stage("image", model, seed, guidance, temperature),))
        seed = seed_or_new(seed)
        detail = Stage("detail", model.detail, seed + 1, guidance, temperature)
        if sketch_given:
            return cls(model, (detail,))
        sketch = Stage("sketch", model.sketch, seed, guidance if sketch_guidance is None else sketch_guidance,
                       temperature if sketch_temperature is None else sketch_temperature)
        return cls(model, (sketch, detail))

    def __getitem__(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)

    @property
    def names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def detail_map(self, sketch: torch.Tensor) -> torch.Tensor:
        """A drawn (or given) sketch (n, C, h, w) -> the spatial map the detail stage is conditioned on."""
        with torch.no_grad():
            return self.model.cond_map_of(sketch.to(next(self.model.parameters()).device))
