"""What the page's process (`process.Engine`) and the engine's (`remote.serve`) say to each other over
their pipe: one small class per message, so that both sides name the same fields. Tensors in them
travel in shared memory (torch.multiprocessing), the rest pickled by multiprocessing's own
authenticated connection between this package's two processes."""

import threading
from dataclasses import dataclass, field

import torch

# -- the page to the engine -------------------------------------------------------------------


@dataclass(frozen=True)
class SendModel:
    """A model the engine keeps under `model` (its tensors shared in one block) for the requests that name it."""
    model: int
    weights: object


@dataclass(frozen=True)
class Draw:
    """Request `key`: n images from model `model`; stages: all of a two-stage model's (each a ticket), or one image ticket."""
    key: int
    model: int
    n: int
    kwargs: dict
    stages: bool = False


@dataclass(frozen=True)
class Prepare:
    """Measure the costs of each sampler model `model` draws with, before its first visitor."""
    key: int
    model: int


@dataclass(frozen=True)
class Count:
    """How busy is the engine? Answered with (cohorts drawing, requests waiting or drawn)."""
    key: int


@dataclass(frozen=True)
class Leave:
    """The visitor of request `key`'s `stage` left: draw no more of their rows."""
    key: int
    stage: str


@dataclass(frozen=True)
class Close:
    """Stop after the current pixel."""


# -- the engine to the page -------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    key: int
    stage: str
    total: int
    wait: float
    submitted: float


@dataclass(frozen=True)
class Begun:
    """Its batch started: the shared tensors the engine writes the drawing into."""
    key: int
    stage: str
    canvas: torch.Tensor
    nats: torch.Tensor
    progress: torch.Tensor
    started: float


@dataclass(frozen=True)
class Finished:
    """Done, failed (error) or cancelled; pixels: how many were drawn of it."""
    key: int
    stage: str
    pixels: int | None
    error: Exception | None


@dataclass(frozen=True)
class Reply:
    """The answer to request `key`: None, a count, or the exception it was refused with."""
    key: int
    answer: object


@dataclass
class Pending:
    """A question sent, waiting for its `Reply`."""
    answered: threading.Event = field(default_factory=threading.Event)
    answer: object = None

    def settle(self, answer) -> None:
        self.answer = answer
        self.answered.set()
