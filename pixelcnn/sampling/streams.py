"""Drawing images from a PixelCNN, as a stream of partly drawn canvases or all at once.

`sample_stream` draws a one-stage model (the cached sampler for the Gated PixelCNN, the naive
one for the original PixelCNN or on request), `sample_stages` a two-stage model's sketch and
then its detail, `stages` either kind, and `sample` returns only the finished images.

With `guidance=w` (classifier-free guidance, for models trained with conditioning dropout) the
conditional and the unconditional branch run side by side in one batch of 2n, drawn from
l_u + (1 + w)(l_c - l_u); w = 0 runs only the conditional branch, exactly as without guidance.
Both samplers draw each intensity by the Gumbel-max trick with noise from one seeded generator,
consumed in raster order, so for the same seed they return the same images.
"""

from collections.abc import Iterator

import torch

from pixelcnn.sampling.cohort import Cohort, checked_sketch, order
from pixelcnn.sampling.stages import Plan


def sample_stream(model, n: int, *, labels=None, cond=None, cond_map=None, size=None, temperature: float = 1.0, seed: int | None = None,
                  method: str = "cached", known: torch.Tensor | None = None, known_mask: torch.Tensor | None = None, every: int = 1,
                  on_logits=None, guidance: float = 0.0, no_condition: bool = False) -> Iterator[tuple[torch.Tensor, int, int]]:
    """Yield (canvas, done, total) every `every` pixels and once at the end.

    canvas: (n, C, H, W) int64 in [0, levels), zeros where not yet drawn; done/total count
    sub-pixels. The last canvas equals `sample(...)` for the same arguments. `on_logits`, if
    given, is called with (channel, row, col, logits (n, levels)) before each draw (the guided
    logits, before the temperature). guidance: w >= 0 for classifier-free guidance (0 = none).
    no_condition: draw from the model's unconditional branch ("none" for every image; a model
    trained with conditioning dropout only; labels and cond may then be left out).
    """
    if model.STAGED:
        raise TypeError("a two-stage model is drawn in two stages: use sample_stages (or sample).")
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}.")
    request = order(model, n, labels=labels, cond=cond, cond_map=cond_map, size=size, temperature=temperature, seed=seed, method=method,
                    known=known, known_mask=known_mask, on_logits=on_logits, guidance=guidance, no_condition=no_condition)
    cohort = Cohort(model, [request], method)
    yield from run(model, cohort.pixels(), request.part.canvas, every)


def run(model, steps: Iterator[int], canvas: torch.Tensor, every: int) -> Iterator[tuple[torch.Tensor, int, int]]:
    """Advance a sampler's pixel steps, yielding (a copy of the canvas, done, total) every `every`
    pixels and at the end, with the model in eval mode and without gradients."""
    _, c, h, w = canvas.shape
    total = c * h * w
    was_training = model.training
    model.eval()
    try:
        finished = False
        while not finished:
            # Grad mode is per thread, and a consumer (a web server) may resume this generator
            # from another thread each time: switch it off around the steps between two frames.
            with torch.no_grad():
                finished = True
                for pixel in steps:
                    if (pixel + 1) % every == 0 and pixel + 1 < h * w:
                        finished = False
                        break
            if not finished:
                yield canvas.clone(), (pixel + 1) * c, total
    finally:
        model.train(was_training)
    yield canvas.clone(), total, total


def sample_stages(model, n: int, *, labels=None, cond=None, sketch: torch.Tensor | None = None, seed: int | None = None,
                  guidance: float = 0.0, sketch_guidance: float | None = None, temperature: float = 1.0,
                  sketch_temperature: float | None = None, every: int = 1, sketch_every: int = 1, on_logits=None,
                  on_sketch_logits=None, no_condition: bool = False, known: torch.Tensor | None = None,
                  known_mask: torch.Tensor | None = None, **kwargs) -> Iterator[tuple[str, torch.Tensor, int, int]]:
    """Draw a two-stage model's sketch, then the detail over it.

    Yields ("sketch", (n, C, h, w) sketch canvas, done, total) while the sketch is drawn (every
    `sketch_every` sketch pixels; not at all when `sketch` (n, C, h, w) ints in [0, sketch
    levels) is given), then ("detail", (n, C, H, W) canvas, done, total) as `sample_stream`.
    guidance / temperature: the detail stage's; sketch_guidance / sketch_temperature: the sketch
    stage's (None: the same); the seeds and maps as `sampling.stages.Plan` says.
    known / known_mask (n, C, H, W): sub-pixels to keep, as `sample_stream`; the sketch's cells they
    cover in full are kept too, so the sketch is completed from them first.
    Other keyword arguments (method; size is not allowed) go to both stages' `sample_stream`.
    """
    plan = Plan.of(model, seed, guidance, temperature, sketch_guidance, sketch_temperature, sketch_given=sketch is not None)
    condition = dict(labels=labels, cond=cond, no_condition=no_condition)
    if sketch is None:
        rough = plan["sketch"]
        for sketch, done, total in sample_stream(rough.model, n, **condition, seed=rough.seed, guidance=rough.guidance,
                                                 temperature=rough.temperature, every=sketch_every, on_logits=on_sketch_logits,
                                                 **model.known_sketch(known, known_mask), **kwargs):
            yield "sketch", sketch, done, total
    else:
        sketch = checked_sketch(model, n, sketch)
    detail = plan["detail"]
    for canvas, done, total in sample_stream(detail.model, n, **condition, cond_map=plan.detail_map(sketch), seed=detail.seed,
                                             guidance=detail.guidance, temperature=detail.temperature, every=every, on_logits=on_logits,
                                             known=known, known_mask=known_mask, **kwargs):
        yield "detail", canvas, done, total


def stages(model, n: int, **kwargs) -> Iterator[tuple[str, torch.Tensor, int, int]]:
    """Either kind of model as (stage, canvas, done, total): a two-stage model's "sketch" and
    "detail" frames as `sample_stages`, a one-stage model's frames as `sample_stream`, named "image"."""
    if model.STAGED:
        yield from sample_stages(model, n, **kwargs)
    else:
        for frame in sample_stream(model, n, **kwargs):
            yield ("image", *frame)


def sample(model, n: int, **kwargs) -> torch.Tensor:
    """Draw n images: (n, C, H, W) int64 intensities in [0, levels).

    Keyword arguments as `sample_stream`: labels (int or (n,) ints), cond (n, cond_dim), size
    (H, W), temperature > 0, seed, method ("cached" or "naive"), known / known_mask (n, C, H, W)
    to keep given pixels and complete the rest, guidance w >= 0, no_condition; for a two-stage
    model as `sample_stages` (sketch, sketch_guidance).
    """
    for _, canvas, _, _ in stages(model, n, every=1 << 30, **kwargs):
        pass
    return canvas
