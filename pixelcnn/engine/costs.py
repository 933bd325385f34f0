"""What drawing costs: the engine's seconds per pixel step for each model at a few batch sizes,
measured on this machine before the first visitor, in float32 and (where the CPU computes
bfloat16 natively) in bfloat16; the engine draws each batch in whichever is faster at its size,
and bounds its batches by the same measurements."""

import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from pixelcnn.sampling.cohort import Cohort, order

log = logging.getLogger("pixelcnn.crowd")
PROBE_ROWS = (1, 64, 512)  # batch sizes the engine times each model at, to choose its batch size and precision
PRECISIONS = ("auto", "float32", "bfloat16")


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX): then a bfloat16 copy of a
    model can draw faster (the engine measures before it chooses)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f" {flag}" in flags for flag in ("avx512_bf16", "amx_bf16"))


@dataclass
class Cost:
    """A model's measured seconds per pixel step at a few batch sizes, [(rows, seconds)] by rows;
    other sizes by straight lines between them (beyond the last, along the last line)."""

    points: list[tuple[int, float]]

    def step(self, rows: int) -> float:
        (r0, s0), (r1, s1) = next(((a, b) for a, b in zip(self.points, self.points[1:]) if rows <= b[0]), self.points[-2:])
        return max(s0 + (s1 - s0) * (rows - r0) / (r1 - r0), 1e-6)

    @property
    def per_row(self) -> float:
        """Seconds a batch row adds to a step, at the largest batch measured."""
        (r0, s0), (r1, s1) = self.points[-2:]
        return max((s1 - s0) / (r1 - r0), 1e-7)


class Costs:
    """Each model's measured costs, per the weights it may be drawn with (`precision`: "auto",
    "float32" or "bfloat16")."""

    def __init__(self, precision: str = "auto"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
        self.precision = precision
        self.plans: dict[int, list[tuple[torch.nn.Module, Cost]]] = {}

    def candidates(self, model) -> list:
        """The modules the engine may draw `model` with: the model, and a bfloat16 copy where the
        CPU computes bfloat16 natively (precision "auto") or where asked ("bfloat16": the copy only)."""
        if self.precision == "float32":
            return [model]
        if self.precision == "bfloat16":
            return [copy.deepcopy(model).to(torch.bfloat16).eval()]
        cpu = next(model.parameters()).device.type == "cpu"
        return [model, copy.deepcopy(model).to(torch.bfloat16).eval()] if cpu and native_bf16() else [model]

    def plan(self, model, size) -> list[tuple[torch.nn.Module, Cost]]:
        """Each candidate's step cost, measured the first time: one image row drawn at each of
        PROBE_ROWS batch rows (after a row of warm-up)."""
        key = id(model)
        if key not in self.plans:
            self.plans[key] = []
            for weights in self.candidates(model):
                self.time_step(model, 1, size[1], weights)  # warm-up
                cost = Cost([(rows, self.time_step(model, rows, size[1], weights)) for rows in PROBE_ROWS])
                self.plans[key].append((weights, cost))
                log.info("measured %s in %s: %s ms a step at %s rows", type(model).__name__, next(weights.parameters()).dtype,
                         ", ".join(f"{1e3 * s:.2f}" for _, s in cost.points), ", ".join(str(r) for r, _ in cost.points))
        return self.plans[key]

    def best(self, model, size, rows: int) -> tuple[torch.nn.Module, Cost]:
        """The weights that draw a batch of `rows` fastest, by the measured costs, and their cost."""
        return min(self.plan(model, size), key=lambda choice: choice[1].step(rows))

    def known(self, model) -> bool:
        return id(model) in self.plans

    @staticmethod
    def time_step(model, rows: int, width: int, weights=None) -> float:
        """Seconds a pixel step of `rows` batch rows takes, timed over a second image row."""
        zeros = dict(labels=torch.zeros(rows, dtype=torch.long) if model.num_classes else None,
                     cond=torch.zeros(rows, model.cond_dim) if model.cond_dim else None,
                     cond_map=torch.zeros(rows, model.cond_map_channels, 2, width) if model.cond_map_channels else None)
        pixels = Cohort(model, [order(model, rows, size=(2, width), seed=0, **zeros)], weights=weights).pixels()
        with torch.no_grad():
            for _ in range(width):
                next(pixels)
            start = time.perf_counter()
            for _ in pixels:
                pass
        return (time.perf_counter() - start) / width

    @staticmethod
    def samplers(model) -> list[tuple[torch.nn.Module, tuple[int, int]]]:
        """(sampler, size) of each cached sampler a model draws with: a two-stage model's two, an
        auto-encoder's decoder, or the model itself."""
        parts = (model.sketch, model.detail) if getattr(model, "STAGED", False) else (getattr(model, "decoder", model),)
        return [(part, tuple(part.image_size)) for part in parts if getattr(part, "CACHED", False) and part.image_size]

    def max_rows(self, model, size, seconds: float) -> int:
        """The largest batch the engine draws whole in `seconds` at the model's measured cost (at least
        the middle size measured: a batch that small costs little more than one image)."""
        steps = size[0] * size[1] * model.image_channels
        fastest = min((c for _, c in self.plan(model, size)), key=lambda c: c.per_row)
        return max(PROBE_ROWS[1], int((seconds / steps - fastest.step(0)) / fastest.per_row))  # a small batch costs next to nothing more
