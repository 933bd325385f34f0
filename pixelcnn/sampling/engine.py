"""The crowd's engine in a process of its own, so that it has an interpreter lock of its own.

In the page's process a pixel step of a crowd's batch took twice as long as alone: every torch
operation gives up the interpreter lock and waits to take it back from the threads that make and
send the visitors' frames. `Engine` asks as `Crowd` does (`submit`, `stages`, `prepare`,
`visitors`, `busy`, `close`) and hands back tickets at once, but the `Crowd` that draws runs in a
child process (`serve`), started on first use and again if it stops. Everything a ticket's holder
reads while a drawing goes on (its canvas, the bits counted, the batch's pixel count, what a hook
records) is a tensor in shared memory that the engine writes into; the rest (queued, begun,
finished, a refusal) comes back over a pipe. Models and hooks go over once, their tensors shared,
so a hook must be picklable and record into tensors (`sampling.record.LogitsRecord`).

Only this package's two processes talk over the pipe (multiprocessing's own authenticated
connection); nothing from outside is unpickled.
"""

import itertools
import os
import logging
import pickle
import threading
import time

import torch
import torch.multiprocessing as mp

from pixelcnn.memory import tame_malloc
from pixelcnn.sampling.crowd import Crowd
from pixelcnn.sampling.ticket import Ticket

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
        self.lock = threading.Lock()  # sending, and starting the process
        self.process = self.pipe = None
        self.keys = itertools.count()
        self.models: dict[int, tuple[int, object]] = {}  # id(model) -> (its key in the engine, the model)
        self.tickets: dict[tuple[int, str], Remote] = {}  # (request, stage) -> ticket
        self.replies: dict[int, list] = {}  # request -> [answered, answer]
        self.closing = False

    # -- asking ---------------------------------------------------------------------------------

    def submit(self, model, n: int, **kwargs) -> Ticket:
        """As `Crowd.submit` (no `then`: that stays in the engine)."""
        (ticket,) = self.ask("submit", model, ["image"], n, kwargs)
        return ticket

    def stages(self, model, n: int, **kwargs) -> list[tuple[str, Ticket]]:
        """As `Crowd.stages`."""
        names = ["detail"] if kwargs.get("sketch") is not None else ["sketch", "detail"]
        return list(zip(names, self.ask("stages", model, names, n, kwargs)))

    def prepare(self, model) -> None:
        """Measure the costs of each sampler a model draws with (in the engine), before its first visitor."""
        self.ask("prepare", model, [], 0, {})

    def visitors(self) -> int:
        """Requests waiting or being drawn."""
        return self.ask("count", None, [], 0, {})[1]

    def busy(self) -> int:
        """Cohorts being drawn now."""
        return self.ask("count", None, [], 0, {})[0]

    def ask(self, what: str, model, names: list[str], n: int, kwargs: dict):
        """Send a request and wait for the engine's answer -> its tickets, one a stage (or the
        engine's ValueError raised here); a question's answer as it is."""
        key = next(self.keys)
        tickets = [Remote(key, name, self.leave) for name in names]
        reply = self.replies[key] = [threading.Event(), None]
        self.tickets.update({(key, t.stage): t for t in tickets})
        with self.lock:
            self.start()
            self.send(what, key, None if model is None else self.model_key(model), n, kwargs)
        reply[0].wait()
        if isinstance(reply[1], Exception):
            for ticket in tickets:
                self.tickets.pop((key, ticket.stage), None)
            raise reply[1]
        return tickets if names else reply[1]

    def leave(self, ticket: Remote) -> None:
        with self.lock:
            if self.pipe is not None:
                self.send("cancel", ticket.key, ticket.stage, 0, {})

    def send(self, *message) -> None:
        """With the lock held."""
        try:
            self.pipe.send(message)
        except (OSError, ValueError):  # the engine has stopped: the listener fails what it held
            pass

    def model_key(self, model) -> int:
        """The model's key in the engine, sending it over the first time (its tensors shared)."""
        if id(model) not in self.models:
            self.models[id(model)] = (next(self.keys), model)
            self.send("model", self.models[id(model)][0], model, 0, {})
        return self.models[id(model)][0]

    # -- the engine's process -------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine's process if it is not running (with the lock held)."""
        if self.process is not None and self.process.is_alive():
            return
        context = mp.get_context("spawn")  # a fork of a server with threads could hold a lock forever
        self.pipe, theirs = context.Pipe()
        threads = self.threads or torch.get_num_threads()
        talk = logging.getLogger().getEffectiveLevel() if logging.getLogger().handlers else None  # the engine logs as this process does
        self.process = context.Process(target=serve, args=(theirs, threads, self.options, talk), name="pixelcnn-engine", daemon=True)
        self.process.start()
        theirs.close()
        self.closing = False
        self.models.clear()
        threading.Thread(target=self.listen, args=(self.pipe,), name="pixelcnn-engine-listener", daemon=True).start()

    def listen(self, pipe) -> None:
        """Fill in tickets and answers from the engine's messages, until its process stops."""
        try:
            while True:
                what, key, stage, *rest = pipe.recv()
                if what == "reply":
                    reply = self.replies.pop(key)
                    reply[1] = rest[0]
                    reply[0].set()
                elif (key, stage) in self.tickets:
                    self.update(self.tickets[(key, stage)], what, *rest)
        except (EOFError, OSError):
            pass
        stopped = EngineStopped("The drawing engine stopped and is starting again: press the button again.")
        if (self.tickets or self.replies) and not self.closing:
            log.warning("the engine's process stopped; %d drawings failed", len(self.tickets))
        for reply in list(self.replies.values()):
            reply[1] = stopped
            reply[0].set()
        for ticket in list(self.tickets.values()):
            ticket.error = stopped
            ticket.end()
        self.tickets.clear()

    def update(self, ticket: Remote, what: str, *values) -> None:
        if what == "queued":
            ticket.total, ticket.wait, ticket.submitted = values
        elif what == "begun":
            ticket.begin(*values)
        else:
            pixels, ticket.error = values
            if pixels is not None:
                ticket.progress = torch.tensor([pixels])
            ticket.end()
            self.tickets.pop((ticket.key, ticket.stage), None)

    def close(self) -> None:
        """Stop the engine's process (after its current pixel)."""
        with self.lock:
            if self.process is None:
                return
            self.closing = True
            self.send("close", -1, None, 0, {})
            self.pipe.close()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
        self.process = None


def portable(err: Exception | None) -> Exception | None:
    """An exception that can go back over the pipe: itself, or its words."""
    try:
        pickle.dumps(err)
        return err
    except Exception:  # noqa: BLE001 - whatever it holds that will not pickle
        return RuntimeError(f"{type(err).__name__}: {err}")


def serve(pipe, threads: int, options: dict, talk: int | None = None) -> None:
    """The engine's process: a `Crowd` drawing, this thread taking the page's messages. talk: the log
    level to log at (None: as an unconfigured process does)."""
    if talk is not None:
        logging.basicConfig(level=talk, format="%(asctime)s %(name)s (engine) %(message)s")
    tame_malloc()
    torch.set_num_threads(threads)
    crowd, models, held = Crowd(**options), {}, {}
    sending = threading.Lock()

    def send(*message):
        with sending:
            pipe.send(message)

    def watcher(key: int):
        def watch(ticket: Ticket, what: str) -> None:
            if what == "queued":
                send("queued", key, ticket.stage, ticket.total, ticket.wait, ticket.submitted)
            elif what == "begun":
                send("begun", key, ticket.stage, ticket.canvas, ticket.nats, ticket.progress, ticket.started)
            else:
                held.pop((key, ticket.stage), None)
                pixels = None if ticket.progress is None else int(ticket.progress[0])
                send("finished", key, ticket.stage, pixels, portable(ticket.error))
        return watch

    while True:
        try:
            what, key, model, n, kwargs = pipe.recv()
        except (EOFError, OSError):
            break
        if what == "close":
            break
        if what == "model":
            models[key] = model
            continue
        if what == "cancel":
            if (key, model) in held:  # model: the stage, here
                held[(key, model)].cancel()
            continue
        answer = None
        try:
            if what == "count":
                with crowd.lock:
                    answer = (len(crowd.running), crowd.visitors())
            elif what == "prepare":
                crowd.prepare(models[model])
            elif what == "submit":
                held[(key, "image")] = crowd.submit(models[model], n, watch=watcher(key), **kwargs)
            else:
                held.update({(key, stage): t for stage, t in crowd.stages(models[model], n, watch=watcher(key), **kwargs)})
            for done in [k for k, t in held.items() if t.finished.is_set()]:
                held.pop(done)
        except Exception as err:  # noqa: BLE001 - a refusal goes back to the one who asked
            answer = portable(err)
        send("reply", key, None, answer)
    crowd.close()
