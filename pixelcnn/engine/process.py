"""The crowd's engine in a process of its own, so that it has an interpreter lock of its own.

In the page's process a pixel step of a crowd's batch took twice as long as alone: every torch
operation gives up the interpreter lock and waits to take it back from the threads that make and
send the visitors' frames. `Engine` asks as `Crowd` does (`submit`, `stages`, `prepare`,
`visitors`, `busy`, `close`) and hands back tickets at once, but the `Crowd` that draws runs in a
child process (`engine.remote.serve`), started on first use and again if it stops (started
by spawning: the main module is imported there, so it must draw nothing at import, as any
multiprocessing program's). Everything a ticket's holder
reads while a drawing goes on (its canvas, the bits counted, the batch's pixel count, what a hook
records) is a tensor in shared memory that the engine writes into; the rest (queued, begun,
finished, a refusal) comes back over a pipe. Models go over once, their tensors shared in one
block; a request's tensors go over as copies; its hooks are shared, so a hook must be picklable
and record into tensors (`engine.record.LogitsRecord`).

Only this package's two processes talk over the pipe (multiprocessing's own authenticated
connection); nothing from outside is unpickled.
"""

import itertools
import logging
import os
import threading

import torch
import torch.multiprocessing as mp

from pixelcnn.engine.crowd import Crowd
from pixelcnn.engine.messages import Begun, Close, Count, Draw, Finished, Leave, Pending, Prepare, Queued, Reply, SendModel
from pixelcnn.engine.remote import serve
from pixelcnn.engine.ticket import Ticket
from pixelcnn.sampling.stages import Plan

log = logging.getLogger("pixelcnn.crowd")


SHARED_MEMORY_NEEDED = 512 * 2**20  # bytes of /dev/shm the engine's process may need: the models (about 35 MB), 64
# visitors' canvases and first-image beliefs (up to 3 MB each for a 32x32 RGB portrait), with room to spare


def shared_memory_room(folder: str = "/dev/shm") -> int:
    """Bytes free in the shared memory the engine's tensors live in (0 where there is none)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return 0
    return stats.f_bavail * stats.f_frsize


def page_engine(**options) -> "Engine | Crowd":
    """The engine a page should use: in a process of its own where shared memory has room for it
    (a container may give /dev/shm only 64 MB: a tensor written past it would kill the process),
    else in the page's process (the same asking, slower under a crowd). PIXELCNN_ENGINE=thread
    asks for the latter anyway."""
    room = shared_memory_room()
    if os.environ.get("PIXELCNN_ENGINE") == "thread" or room < SHARED_MEMORY_NEEDED:
        log.info("the drawing engine runs in the page's process (shared memory free: %d MB)", room >> 20)
        return Crowd(**options)
    return Engine(**options)


def copied(kwargs: dict) -> dict:
    """A request's keywords to send: its tensors copied (they go over in shared memory, moved there
    in place; the caller's own stay as they are: a drawing keeps its labels to work its beliefs out
    again); hooks are shared on purpose."""
    return {name: value.clone() if isinstance(value, torch.Tensor) else value for name, value in kwargs.items()}


class EngineStopped(ValueError):
    """The engine's process stopped while a request was queued or drawn (it starts again with the next one)."""


class Remote(Ticket):
    """A ticket held in the page's process: the engine's messages fill it in; leaving tells the engine."""

    def __init__(self, key: int, stage: str, leave):
        super().__init__(None, 0, stage)
        self.key, self.leave = key, leave

    def cancel(self) -> None:
        if not self.cancelled and not self.finished.is_set():
            self.leave(self)
        super().cancel()


class Engine:
    """A `Crowd` in a child process (see the module's docstring); thread-safe. threads: the engine's
    torch threads (default: this process's); options: `Crowd`'s."""

    def __init__(self, threads: int | None = None, **options):
        self.threads, self.options = threads, options
        self.lock = threading.Lock()  # choosing the link, and sending over it
        self.link: Link | None = None
        self.keys = itertools.count()

    # -- asking ---------------------------------------------------------------------------------

    def submit(self, model, n: int, **kwargs) -> Ticket:
        """As `Crowd.submit` (no `then`: that stays in the engine)."""
        (ticket,) = self.ask(lambda key, model_key: Draw(key, model_key, n, copied(kwargs)), model, ["image"])
        return ticket

    def stages(self, model, n: int, **kwargs) -> list[tuple[str, Ticket]]:
        """As `Crowd.stages`."""
        names = Plan.of(model, seed=0, sketch_given=kwargs.get("sketch") is not None).names
        return list(zip(names, self.ask(lambda key, model_key: Draw(key, model_key, n, copied(kwargs), stages=True), model, names)))

    def prepare(self, model) -> None:
        """Measure the costs of each sampler a model draws with (in the engine), before its first visitor."""
        self.ask(Prepare, model)

    def visitors(self) -> int:
        """Requests waiting or being drawn."""
        return self.ask(lambda key, _: Count(key))[1]

    def busy(self) -> int:
        """Cohorts being drawn now."""
        return self.ask(lambda key, _: Count(key))[0]

    def ask(self, message, model=None, names: tuple[str, ...] = ()):
        """Send message(key, the model's key) and wait for the engine's reply -> the request's
        tickets, one a stage in `names` (or the engine's ValueError raised here); with no names, the
        reply itself. A request that finds the engine's process gone starts a new one."""
        for _ in range(2):
            with self.lock:
                if self.link is None or not self.link.alive:
                    self.link = Link(self.threads or torch.get_num_threads(), self.options)
                link, key = self.link, next(self.keys)
                tickets = [Remote(key, name, link.leave) for name in names]
                pending = link.pending[key] = Pending()
                link.tickets.update({(key, t.stage): t for t in tickets})
                try:
                    link.send(message(key, None if model is None else link.model_key(model, self.keys)))
                except (OSError, ValueError):  # it died: the next round starts another
                    link.alive = False
                    continue
            pending.answered.wait()
            if isinstance(pending.answer, Exception):
                for ticket in tickets:
                    link.tickets.pop((key, ticket.stage), None)
                raise pending.answer
            return tickets if names else pending.answer
        raise EngineStopped(STOPPED)

    def close(self) -> None:
        """Stop the engine's process (after its current pixel)."""
        with self.lock:
            link, self.link = self.link, None
        if link is not None:
            link.close()


STOPPED = "The drawing engine stopped and is starting again: press the button again."


class Link:
    """One engine process, and what is outstanding with it: the page's requests and tickets, the
    models sent over. When the process stops, its listener fails them all; the `Engine` starts a
    new link for the next request."""

    def __init__(self, threads: int, options: dict):
        context = mp.get_context("spawn")  # a fork of a server with threads could hold a lock forever
        self.pipe, theirs = context.Pipe()
        talk = logging.getLogger().getEffectiveLevel() if logging.getLogger().handlers else None  # the engine logs as this process does
        self.process = context.Process(target=serve, args=(theirs, threads, options, talk), name="pixelcnn-engine", daemon=True)
        self.process.start()
        theirs.close()
        self.alive, self.closing = True, False
        self.models: dict[int, tuple[int, object]] = {}  # id(model) -> (its key in the engine, the model)
        self.tickets: dict[tuple[int, str], Remote] = {}  # (request, stage) -> ticket
        self.pending: dict[int, Pending] = {}  # request -> its reply, when it comes
        self.sending = threading.Lock()
        threading.Thread(target=self.listen, name="pixelcnn-engine-listener", daemon=True).start()

    def send(self, message) -> None:
        with self.sending:
            self.pipe.send(message)

    def model_key(self, model, keys) -> int:
        """The model's key in the engine (a new one from `keys`, the first time, when it is sent over:
        its tensors shared, in one block)."""
        if id(model) not in self.models:
            key = next(keys)
            self.models[id(model)] = (key, model)
            in_one_block(model)
            self.send(SendModel(key, model))
        return self.models[id(model)][0]

    def leave(self, ticket: Remote) -> None:
        try:
            self.send(Leave(ticket.key, ticket.stage))
        except (OSError, ValueError):
            pass  # the engine has stopped: its tickets have ended

    def listen(self) -> None:
        """Fill in tickets and answers from the engine's messages, until its process stops."""
        try:
            while True:
                match self.pipe.recv():
                    case Reply(key, answer):
                        self.pending.pop(key).settle(answer)
                    case Queued(key, stage) | Begun(key, stage) | Finished(key, stage) as message if (key, stage) in self.tickets:
                        self.update(self.tickets[(key, stage)], message)
        except (EOFError, OSError):
            pass
        self.alive = False
        if (self.tickets or self.pending) and not self.closing:
            log.warning("the engine's process stopped; %d drawings failed", len(self.tickets))
        for pending in list(self.pending.values()):
            pending.settle(EngineStopped(STOPPED))
        for ticket in list(self.tickets.values()):
            ticket.error = EngineStopped(STOPPED)
            ticket.end()

    def update(self, ticket: Remote, message) -> None:
        match message:
            case Queued():
                ticket.total, ticket.wait, ticket.submitted = message.total, message.wait, message.submitted
            case Begun():
                ticket.begin(message.canvas, message.nats, message.progress, message.started)
            case Finished():
                if message.pixels is not None:
                    ticket.progress = torch.tensor([message.pixels])
                ticket.error = message.error
                ticket.end()
                self.tickets.pop((ticket.key, ticket.stage), None)

    def close(self) -> None:
        self.closing = True
        try:
            self.send(Close())
        except (OSError, ValueError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
        self.pipe.close()


def in_one_block(model) -> None:
    """Move every parameter and buffer of `model` into one shared-memory tensor per dtype, as views of
    it: sent to the engine, a model then costs one shared file (and one file descriptor in each
    process) instead of one a tensor (for the page's ten models, some two thousand)."""
    tensors = [*model.parameters(), *model.buffers()]
    dtypes = {t.dtype for t in tensors}
    if all(t.is_shared() for t in tensors) and len({t.untyped_storage().data_ptr() for t in tensors}) == len(dtypes):
        return  # already done (sent to an earlier engine process)
    with torch.no_grad():
        for dtype in dtypes:
            group = [t for t in tensors if t.dtype == dtype]
            block, start = torch.empty(sum(t.numel() for t in group), dtype=dtype).share_memory_(), 0
            for t in group:
                view = block[start : start + t.numel()].view(t.shape)
                view.copy_(t)
                t.data = view
                start += t.numel()
