"""A request's ticket in the crowd (`sampling.crowd`): how far the engine has drawn it, its canvas,
and how its holder waits for it, reads it, or leaves."""

import threading
import time
from dataclasses import dataclass, field

import torch

from pixelcnn.sampling.cohort import Order


class Full(ValueError):
    """The machine is too busy to start a request soon enough: the message says how long it would wait."""


@dataclass(eq=False)
class Ticket:
    """One request's drawing in the crowd, as the engine advances it."""

    order: Order | None  # None until its sketch is drawn (a two-stage model's detail stage)
    total: int  # sub-pixels of an image
    done: int = 0
    wait: float = 0.0  # while waiting: the expected seconds until it starts
    started: float | None = None
    error: Exception | None = None
    cancelled: bool = False
    then: object = None  # called by the engine with this ticket when its drawing is done (the next stage)
    finished: threading.Event = field(default_factory=threading.Event)
    begun: threading.Event = field(default_factory=threading.Event)  # set when it starts (or ends without starting)
    submitted: float = field(default_factory=time.monotonic)

    @property
    def canvas(self) -> torch.Tensor | None:
        """(n, C, H, W) the images as far as they are drawn (a view the engine writes into), or None before it starts."""
        return None if self.order is None or self.order.part.canvas is None else self.order.part.canvas

    def snapshot(self) -> tuple[torch.Tensor | None, int]:
        """(a copy of the canvas, sub-pixels drawn in it): the count is read first, so the copy holds at least that many."""
        done = self.done
        canvas = self.canvas
        return (None if canvas is None else canvas.clone()), done

    def end(self) -> None:
        """Done, failed or cancelled: whoever waits for it to start or finish goes on."""
        self.begun.set()
        self.finished.set()

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
