"""The crowd's engine in its own process (`engine.process`): what comes back over the pipe and
through shared memory is what an engine in this process records and counts; a refusal comes back
as the same sentence; when the engine's process dies, its requests fail with one sentence and the
next request starts a new one. (The scenarios both kinds of engine share run in test_crowd.py.)"""

import gc
import os
import signal

import pytest
import torch

from pixelcnn import load
from pixelcnn.engine.crowd import Crowd
from pixelcnn.engine.process import Engine, EngineStopped
from pixelcnn.engine.record import LogitsRecord
from pixelcnn.sampling import sample

from .helpers import ASSETS



@pytest.fixture(scope="module")
def mnist():
    return load(ASSETS / "mnist").eval()


@pytest.fixture(scope="module")
def engine(mnist):
    engine = Engine(threads=1, join=0.3, precision="float32")
    engine.prepare(mnist)
    yield engine
    engine.close()


def test_what_the_engine_records_and_counts_is_what_an_engine_here_records(engine, mnist):
    """The hook's logits and the bits counted come through shared memory, the same numbers as in this process."""
    ask = dict(labels=torch.tensor([7, 1]), seed=11, guidance=2.0, temperature=1.5, count_bits=True)
    there, here = LogitsRecord((1, 28, 28), mnist.levels, images=2), LogitsRecord((1, 28, 28), mnist.levels, images=2)
    far = engine.submit(mnist, 2, on_logits=there, **ask)
    crowd = Crowd(precision="float32")
    near = crowd.submit(mnist, 2, on_logits=here, **ask)
    assert torch.equal(far.result(timeout=60), near.result(timeout=60))
    assert there.count == here.count == 28 * 28
    assert torch.equal(there.first, here.first) and torch.equal(there.others, here.others)
    assert far.nats.abs().min() > 0 and torch.equal(far.nats, near.nats)
    crowd.close()


def test_refusals_come_back_as_the_same_sentence(engine, mnist):
    with pytest.raises(ValueError, match="labels must lie in"):
        engine.submit(mnist, 2, labels=12)
    with pytest.raises(ValueError, match="temperature must be a finite number"):
        engine.submit(mnist, 2, labels=1, temperature=-1.0)


def test_when_the_engines_process_dies_its_requests_fail_and_the_next_starts_it_again(mnist):
    engine = Engine(threads=1, precision="float32")
    try:
        for seed in (1, 2):  # twice: the next request after a death finds it at once, not when the process is reaped
            drawing = engine.submit(mnist, 64, labels=3, seed=0, guidance=2.0)
            assert drawing.begun.wait(30)
            os.kill(engine.link.process.pid, signal.SIGKILL)
            with pytest.raises(EngineStopped, match="press the button again"):
                drawing.result(timeout=30)
            again = engine.submit(mnist, 1, labels=3, seed=seed)
            assert torch.equal(again.result(timeout=60), sample(mnist, 1, labels=3, seed=seed))
    finally:
        engine.close()


def test_the_page_draws_in_its_own_process_only_where_shared_memory_has_room(monkeypatch):
    """A container may give /dev/shm only 64 MB; there the page keeps the engine in its own process."""
    from pixelcnn.engine import process as module

    assert module.shared_memory_room("/no/such/folder") == 0 and module.shared_memory_room() > 0
    monkeypatch.delenv("PIXELCNN_ENGINE", raising=False)
    monkeypatch.setattr(module, "shared_memory_room", lambda: 64 * 2**20)
    assert type(module.page_engine()) is Crowd
    monkeypatch.setattr(module, "shared_memory_room", lambda: 8 * 2**30)
    assert type(module.page_engine()) is Engine
    monkeypatch.setenv("PIXELCNN_ENGINE", "thread")
    assert type(module.page_engine()) is Crowd


def shared_files() -> int:
    """File descriptors of this process open on shared memory (each shared tensor's storage holds one)."""
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return sum("/dev/shm/" in link for link in links)


def test_a_model_sent_over_and_finished_drawings_hold_few_shared_files(mnist):
    """Each shared storage holds a file descriptor for as long as it lives: a model goes over as one
    block, and a finished drawing, as the page keeps it, holds none."""
    from copy import deepcopy

    from pixelcnn.studio.frames import Ask, stream

    model = deepcopy(mnist)  # not sent to any engine yet
    engine = Engine(threads=1, precision="float32")
    try:
        gc.collect()
        before = shared_files()
        list(stream(Ask(model, 2, labels=torch.tensor([1, 2]), seed=0), crowd=engine))
        gc.collect()
        after_one = shared_files()
        assert after_one - before <= 2, "the model's tensors went over one by one"
        kept = [list(stream(Ask(model, 2, labels=torch.full((2,), k), seed=k, guidance=2.0), crowd=engine))[-1].drawing for k in range(5)]
        gc.collect()
        assert shared_files() <= after_one and all(d.beliefs.count == 28 * 28 for d in kept)
    finally:
        engine.close()
