"""A request's ticket in the crowd (`engine.crowd`): how far the engine has drawn it, its canvas,
and how its holder waits for it, reads it, or leaves. The same ticket serves a holder in another
process (`engine.process`): everything it reads while the drawing goes on is a tensor the engine
writes into, in shared memory there."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from pixelcnn.sampling.cohort import Order


class Full(ValueError):
    """The machine is too busy to start a request soon enough: the message says how long it would wait."""


@dataclass(eq=False)
class Ticket:
    """One request's drawing in the crowd, as the engine advances it."""

    order: Order | None  # None until its sketch is drawn (a two-stage model's detail stage), and in another process
    total: int  # sub-pixels of an image
    stage: str = "image"  # which stage of its request it draws: "image", or a two-stage model's "sketch" or "detail"
    wait: float = 0.0  # while waiting: the expected seconds until it starts
    started: float | None = None
    error: Exception | None = None
    cancelled: bool = False
    then: object = None  # called by the engine with this ticket when its drawing is done (the next stage)
    canvas: torch.Tensor | None = None  # (n, C, H, W) the images as far as they are drawn (the engine writes into it), once begun
    nats: torch.Tensor | None = None  # (n,) float64: -log p of each image's drawn values so far (with count_bits)
    progress: torch.Tensor | None = None  # (1,) pixels drawn in its batch (the engine's count, shared by the batch)
    watch: Callable[["Ticket", str], None] | None = None  # told "queued", "begun" and "finished" (the engine process's messenger)
    finished: threading.Event = field(default_factory=threading.Event)
    begun: threading.Event = field(default_factory=threading.Event)  # set when it starts (or ends without starting)
    submitted: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        """Sub-pixels of each image drawn so far."""
        return 0 if self.progress is None else int(self.progress[0]) * self.canvas.shape[1]

    def queued(self, wait: float) -> None:
        """Waiting for the engine from now, for about `wait` seconds."""
        self.submitted, self.wait = time.monotonic(), wait
        self.tell("queued")

    def begin(self, canvas: torch.Tensor, nats: torch.Tensor, progress: torch.Tensor, started: float | None = None) -> None:
        """Its batch has started: the canvas and counts the engine writes into."""
        self.canvas, self.nats, self.progress = canvas, nats, progress
        self.started, self.wait = time.monotonic() if started is None else started, 0.0
        self.begun.set()
        self.tell("begun")

    def snapshot(self) -> tuple[torch.Tensor | None, int]:
        """(a copy of the canvas, sub-pixels drawn in it): the count is read first, so the copy holds at least that many."""
        done = self.done
        canvas = self.canvas
        return (None if canvas is None else canvas.clone()), done

    def end(self) -> None:
        """Done, failed or cancelled: its count stops where it is, and whoever waits for it to start or finish goes on."""
        if self.finished.is_set():
            return
        if self.progress is not None:
            self.progress = self.progress.clone()  # no longer the batch's: a request that left stops counting
        self.begun.set()
        self.finished.set()
        self.tell("finished")

    def tell(self, what: str) -> None:
        if self.watch is not None:
            self.watch(self, what)

    def cancel(self) -> None:
        """Leave: the engine drops this request's rows from its batch before its next pixel."""
        self.cancelled = True

    def result(self, timeout: float | None = None) -> torch.Tensor:
        """Wait for the finished images -> (n, C, H, W) ints (or the error the engine met)."""
        if not self.finished.wait(timeout):
            raise TimeoutError("the drawing did not finish in time.")
        if self.error is not None:
            raise self.error
        return self.canvas.clone()
