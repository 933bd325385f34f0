"""The engine's side of `engine.process`: the child process that runs a `Crowd` and answers the
page over a pipe. Tickets' changes go back as messages; the canvas, the bits counted and the
batch's pixel count go back as tensors, which `torch.multiprocessing` shares rather than copies."""

import logging
import pickle
import threading

import torch

from pixelcnn.memory import tame_malloc
from pixelcnn.engine.crowd import Crowd
from pixelcnn.engine.messages import Begun, Close, Count, Draw, Finished, Leave, Prepare, Queued, Reply, SendModel
from pixelcnn.engine.ticket import Ticket


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

    def send(message) -> None:
        with sending:
            pipe.send(message)

    def watcher(key: int):
        def watch(ticket: Ticket, what: str) -> None:
            if what == "queued":
                send(Queued(key, ticket.stage, ticket.total, ticket.wait, ticket.submitted))
            elif what == "begun":
                send(Begun(key, ticket.stage, ticket.canvas, ticket.nats, ticket.progress, ticket.started))
            else:
                held.pop((key, ticket.stage), None)
                pixels = None if ticket.progress is None else int(ticket.progress[0])
                send(Finished(key, ticket.stage, pixels, portable(ticket.error)))
        return watch

    while True:
        try:
            message = pipe.recv()
        except (EOFError, OSError):
            break
        match message:
            case Close():
                break
            case SendModel(model, weights):
                models[model] = weights
            case Leave(key, stage):
                if (key, stage) in held:
                    held[(key, stage)].cancel()
            case _:
                send(Reply(message.key, answer(crowd, models, held, message, watcher)))
    crowd.close()


def answer(crowd: Crowd, models: dict, held: dict, message, watcher):
    """Carry out a question or a request -> what to reply: None, a count, or the refusal."""
    try:
        match message:
            case Count():
                with crowd.lock:
                    return len(crowd.running), crowd.visitors()
            case Prepare(_, model):
                crowd.prepare(models[model])
            case Draw(key, model, n, kwargs, stages=False):
                held[(key, "image")] = crowd.submit(models[model], n, watch=watcher(key), **kwargs)
            case Draw(key, model, n, kwargs, stages=True):
                held.update({(key, stage): t for stage, t in crowd.stages(models[model], n, watch=watcher(key), **kwargs)})
        for done in [k for k, t in held.items() if t.finished.is_set()]:
            held.pop(done)
    except Exception as err:  # noqa: BLE001 - a refusal goes back to the one who asked
        return portable(err)
    return None
