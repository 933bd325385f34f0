"""Many drawing requests at once, drawn in shared batches by one engine thread.

`Crowd.submit` checks a request and hands back a `Ticket` at once; the engine gathers the
requests for one model that arrive while it is busy (each waits at most `join` seconds) into a
`Cohort`, one sampler batch, and draws up to `cohorts` cohorts at a time, a pixel of each in
turn, so that a new cohort starts while another is still running. Each request keeps its own
seed, temperature and guidance, so its images are those it would get alone. Whoever holds a
ticket reads its canvas whenever it likes (a page paces its frames by its own clock) and
`cancel`s it to leave the batch. The batch size is bounded by the cost the engine measures for
each model; a request that could not start within `max_wait` seconds is refused with the wait.
"""

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field

import torch

from pixelcnn.memory import trim_malloc
from pixelcnn.sampling.cohort import Cohort, checked_sketch, order
from pixelcnn.sampling.stages import Plan
from pixelcnn.engine.costs import Cost, Costs
from pixelcnn.engine.ticket import Full, Ticket

log = logging.getLogger("pixelcnn.crowd")
JOIN_SECONDS = 0.15  # a request that finds the engine busy waits this long for others to join its batch
COHORTS = 8  # cohorts drawn at once, interleaved pixel by pixel (2: a burst's last requests waited for a whole drawing to start)
BATCH_SECONDS = 12.0  # a cohort is at most as large as the engine can draw in this long (at its measured cost)
MAX_WAIT = 45.0  # a request that would wait longer than this to start is refused, with the expected wait


CROWDS: "weakref.WeakSet[Crowd]" = weakref.WeakSet()


@atexit.register
def close_all() -> None:
    for crowd in list(CROWDS):
        crowd.close()


@dataclass(eq=False)
class Running:
    cohort: Cohort
    tickets: list[Ticket]
    pixels: object
    steps: int  # pixel steps in all
    cost: Cost
    step: int = 0
    started: float = field(default_factory=time.monotonic)
    progress: torch.Tensor = field(default_factory=lambda: torch.zeros(1, dtype=torch.long))  # pixels drawn, read by every ticket


class Crowd:
    """The engine and its queue (see the module's docstring); thread-safe. precision: "float32", "bfloat16"
    or "auto" (the faster at each batch size, bfloat16 on a CPU with native bfloat16 only). bfloat16 draws
    a large batch 1.3x faster, but its MNIST samples measured 0.017 bits/dim worse (bench/precision.py)."""

    def __init__(self, join: float = JOIN_SECONDS, cohorts: int = COHORTS, batch_seconds: float = BATCH_SECONDS, max_wait: float = MAX_WAIT,
                 precision: str = "float32"):
        self.join, self.cohorts, self.batch_seconds, self.max_wait = join, cohorts, batch_seconds, max_wait
        self.costs = Costs(precision)
        self.lock = threading.Condition()
        self.waiting: list[Ticket] = []
        self.running: list[Running] = []
        self.thread: threading.Thread | None = None
        self.closing = False
        CROWDS.add(self)

    # -- asking ---------------------------------------------------------------------------------

    def submit(self, model, n: int, then=None, watch=None, stage: str = "image", **kwargs) -> Ticket:
        """Check a request (the arguments of `sample_stream`, less `every` and `method`) and queue it
        -> its Ticket; a ValueError says what is wrong with it, `Full` how long it would wait.
        watch: told of the ticket's changes (see `Ticket.watch`)."""
        request = order(model, n, **kwargs)
        ticket = Ticket(request, model.image_channels * request.size[0] * request.size[1], stage, then=then, watch=watch)
        with self.lock:
            wait = self.expected_wait()
            if wait > self.max_wait:
                raise Full(f"The machine is drawing for {self.visitors()} visitors: yours would start in about {wait:.0f} s. "
                           "Try again in a minute.")
            ticket.queued(wait)
            self.waiting.append(ticket)
            self.lock.notify()
        self.start_engine()
        return ticket

    def stages(self, model, n: int, *, labels=None, cond=None, sketch=None, seed=None, guidance=0.0, sketch_guidance=None,
               temperature=1.0, sketch_temperature=None, on_logits=None, on_sketch_logits=None, no_condition=False, watch=None,
               known=None, known_mask=None, **kwargs) -> list[tuple[str, Ticket]]:
        """A two-stage model's request, as `sample_stages` draws it -> [("sketch", ticket),] ("detail", ticket):
        the detail stage joins the queue as soon as its sketch is drawn."""
        plan = Plan.of(model, seed, guidance, temperature, sketch_guidance, sketch_temperature, sketch_given=sketch is not None)
        detail_stage = plan["detail"]
        condition = dict(labels=labels, cond=cond, no_condition=no_condition, **kwargs)
        h, w = model.detail.image_size
        blank_map = torch.zeros(n, model.detail.cond_map_channels, h, w)
        kept = dict(known=known, known_mask=known_mask)
        order(model.detail, n, **condition, **kept, cond_map=blank_map, guidance=guidance, temperature=temperature)  # checked up front
        detail = Ticket(None, model.image_channels * h * w, "detail", watch=watch)

        def draw_detail(sketch: torch.Tensor) -> None:  # with the lock held (the engine calls it so)
            try:
                detail.order = order(detail_stage.model, n, **condition, **kept, cond_map=plan.detail_map(sketch), seed=detail_stage.seed,
                                     guidance=detail_stage.guidance, temperature=detail_stage.temperature, on_logits=on_logits)
            except ValueError as err:
                detail.error = err
                detail.end()
                return
            detail.queued(self.expected_wait())
            self.waiting.append(detail)

        if sketch is None:
            rough = plan["sketch"]
            first = self.submit(rough.model, n, then=lambda ticket: draw_detail(ticket.canvas), watch=watch, stage="sketch", **condition,
                                seed=rough.seed, guidance=rough.guidance, temperature=rough.temperature, on_logits=on_sketch_logits,
                                **model.known_sketch(known, known_mask))
            return [("sketch", first), ("detail", detail)]
        sketch = checked_sketch(model, n, sketch)
        with self.lock:
            draw_detail(sketch)
            self.lock.notify()
        self.start_engine()
        return [("detail", detail)]

    def visitors(self) -> int:
        return len(self.waiting) + sum(len(r.tickets) for r in self.running)

    def busy(self) -> int:
        """Cohorts being drawn now (the paced frames of a finished drawing hold none)."""
        return len(self.running)

    def prepare(self, model) -> None:
        """Measure the costs of each sampler a model draws with, before its first visitor."""
        with torch.no_grad():
            for sampler, size in Costs.samplers(model):
                self.costs.plan(sampler, size)

    # -- planning -------------------------------------------------------------------------------

    def remaining(self, run: Running) -> float:
        return (run.steps - run.step) * run.cost.step(len(run.cohort.drawer.row_images)) * len(self.running)

    def expected_wait(self) -> float:
        """Seconds until a new request would start: nothing while a cohort slot is free, else until
        the first running cohort ends, plus the drawings queued before it."""
        if len(self.running) < self.cohorts and not self.waiting:
            return 0.0
        wait = min((self.remaining(r) for r in self.running), default=0.0)
        for ticket in self.waiting:
            o = ticket.order
            if o is not None and self.costs.known(o.model):
                wait += o.size[0] * o.size[1] * self.costs.best(o.model, o.size, o.rows)[1].per_row * o.rows / self.cohorts
        return wait

    # -- the engine -----------------------------------------------------------------------------

    def start_engine(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.engine, name="pixelcnn-crowd", daemon=True)
                self.thread.start()

    def close(self) -> None:
        """Stop the engine after its current pixel (at exit: a thread inside torch must not outlive the interpreter)."""
        with self.lock:
            self.closing = True
            self.lock.notify()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def engine(self) -> None:
        with torch.no_grad():
            while not self.closing:
                if not self.running or self.due():  # the lock only when there is something to start: submitters get it
                    with self.lock:
                        self.start_cohorts()
                        if not self.running:
                            self.lock.wait(timeout=self.join if self.waiting else None)
                            continue
                if not all([self.advance(run) for run in list(self.running)]):
                    trim_malloc()  # a batch ended: its buffers go back to the system now, not at the next burst

    def due(self) -> bool:
        """Whether a waiting request should start now (read without the lock: a hint, checked again under it)."""
        waiting = self.waiting
        return bool(waiting) and len(self.running) < self.cohorts and time.monotonic() - waiting[0].submitted >= self.join

    def start_cohorts(self) -> None:
        """Start cohorts from the waiting tickets while a slot is free: at once when the engine is
        idle, else once the oldest of a model's requests has waited `join` seconds."""
        self.waiting = [t for t in self.waiting if not self.dropped(t)]
        while self.waiting and len(self.running) < self.cohorts:
            oldest = self.waiting[0]
            if self.running and time.monotonic() - oldest.submitted < self.join:
                return
            model, size = oldest.order.model, oldest.order.size
            limit, rows, members = self.costs.max_rows(model, size, self.batch_seconds), 0, []
            for ticket in self.waiting:
                o = ticket.order
                if o.model is model and o.size == size and (not members or rows + o.rows <= limit):
                    members.append(ticket)
                    rows += o.rows
            self.waiting = [t for t in self.waiting if t not in members]
            weights, cost = self.costs.best(model, size, rows)
            cohort = Cohort(model, [t.order for t in members], weights=weights)
            run, now = Running(cohort, members, cohort.pixels(), size[0] * size[1], cost), time.monotonic()
            self.running.append(run)
            for ticket in members:
                ticket.begin(ticket.order.part.canvas, ticket.order.part.nats, run.progress, now)

    def dropped(self, ticket: Ticket) -> bool:
        if ticket.cancelled:
            ticket.end()
        return ticket.cancelled

    def advance(self, run: Running) -> bool:
        """One pixel of a running cohort (its cancelled requests leave first); a finished cohort's
        tickets are done, and their next stages queued -> whether it goes on."""
        try:
            if any(t.cancelled for t in run.tickets):
                leaving = [t for t in run.tickets if t.cancelled]
                run.tickets = [t for t in run.tickets if not t.cancelled]
                if run.tickets:
                    run.cohort.keep([t.order for t in run.tickets])
                for ticket in leaving:
                    ticket.end()
            pixel = next(run.pixels, None) if run.tickets else None
        except Exception as err:  # noqa: BLE001 - one bad batch must not stop the engine serving everyone else
            log.exception("a batch failed")
            pixel, run.tickets = None, [self.fail(t, err) for t in run.tickets]
        if pixel is not None:
            run.step = pixel + 1
            run.progress[0] = run.step
            return True
        seconds = time.monotonic() - run.started
        log.info("drew %d requests (%d rows) of %s in %.2f s, %.2f ms a step (%.2f ms alone, as measured), %d cohorts running",
                 len(run.tickets), len(run.cohort.drawer.row_images), type(run.cohort.source).__name__, seconds,
                 1e3 * seconds / max(run.step, 1), 1e3 * run.cost.step(len(run.cohort.drawer.row_images)), len(self.running))
        with self.lock:
            self.running.remove(run)
            for ticket in run.tickets:
                if ticket.error is None and ticket.then is not None:
                    ticket.then(ticket)
                ticket.end()
            self.lock.notify()
        return False

    @staticmethod
    def fail(ticket: Ticket, err: Exception) -> Ticket:
        ticket.error = err
        return ticket
