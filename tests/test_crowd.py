"""The crowd engine: requests drawn together in shared batches come out as they would alone; a
request that leaves takes its rows out and leaves the others' drawings intact; a full machine
says how long a request would wait; two-stage requests are batched stage by stage. The scenarios
that a page sees run twice, with the engine in this process (`Crowd`) and in its own (`Engine`,
as the page runs it): the two must behave alike."""

import copy
import threading
import time

import pytest
import torch

from pixelcnn import load
from pixelcnn.engine.crowd import Crowd, Full
from pixelcnn.engine.process import Engine
from pixelcnn.sampling import sample

from .helpers import ASSETS


# Requests as different as the page sends: classes, guidance on and off, temperatures, sizes, seeds.
REQUESTS = [(1 + (k * 5) % 9, dict(labels=k % 10, seed=100 + k, guidance=(0.0, 2.0, 1.0)[k % 3], temperature=(1.0, 0.8)[k % 2]))
            for k in range(10)]


@pytest.fixture(scope="module")
def mnist():
    return load(ASSETS / "mnist").eval()


def alone(model, n, request):
    return sample(model, n, **request)


ENGINES = {"here": Crowd, "own process": lambda **options: Engine(threads=1, **options)}


@pytest.fixture(params=list(ENGINES))
def make(request):
    """Makes an engine where the test's parameter says (its options as `Crowd`'s); closes them after."""
    made = []

    def make(**options):
        made.append(ENGINES[request.param](**{"precision": "float32", **options}))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def gathering(model, join=0.5, busy=48, also=(), make=None, **kwargs) -> Crowd:
    """An engine (a crowd here, or `make`'s) with its costs measured and a drawing of its own under
    way for a second or more, so that requests submitted now wait to share one batch (the engine
    starts a lone request at once). The wait is bounded by the busy drawing, not a clock."""
    crowd = (make or (lambda **o: Crowd(**{"precision": "float32", **o})))(join=join, **kwargs)
    for each in (model, *also):
        crowd.prepare(each)
    assert crowd.submit(model, busy, labels=0, seed=0, guidance=2.0).begun.wait(60)
    return crowd


def test_a_shared_batch_draws_each_request_as_it_would_be_drawn_alone(mnist, make):
    """Eleven requests submitted behind a 48-digit drawing, within milliseconds (a second on a crowded
    core; they wait up to 5 s for each other), share one batch, and each comes out as alone."""
    crowd = gathering(mnist, join=5.0, make=make)
    first = crowd.submit(mnist, 1, labels=3, seed=1)
    tickets = [crowd.submit(mnist, n, **request) for n, request in REQUESTS]
    assert all(t.result(timeout=120) is not None for t in [first, *tickets])
    assert len({t.started for t in [first, *tickets]}) == 1, "the eleven did not share a batch"
    for ticket, (n, request) in zip(tickets, REQUESTS):
        assert torch.equal(ticket.result(), alone(mnist, n, request)), request
        assert ticket.done == ticket.total == 28 * 28
    assert torch.equal(first.result(), alone(mnist, 1, dict(labels=3, seed=1)))


def test_completions_and_plain_requests_share_a_batch(mnist):
    known = alone(mnist, 2, dict(labels=4, seed=9))
    mask = torch.zeros_like(known, dtype=torch.bool)
    mask[:, :, :14] = True
    crowd = gathering(mnist)
    completion = crowd.submit(mnist, 2, labels=4, seed=5, known=known, known_mask=mask, guidance=2.0)
    plain = crowd.submit(mnist, 3, labels=7, seed=6)
    done = completion.result(timeout=60)
    assert completion.started == plain.started
    assert torch.equal(done[:, :, :14], known[:, :, :14])
    assert torch.equal(done, alone(mnist, 2, dict(labels=4, seed=5, known=known, known_mask=mask, guidance=2.0)))
    assert torch.equal(plain.result(timeout=60), alone(mnist, 3, dict(labels=7, seed=6)))


def test_a_request_cancelled_before_its_first_pixel_leaves_too(mnist):
    crowd = gathering(mnist, join=0.3)
    tickets = [crowd.submit(mnist, 2, labels=k, seed=k) for k in range(3)]
    tickets[0].cancel()  # while it waits to join
    assert torch.equal(tickets[1].result(timeout=60), alone(mnist, 2, dict(labels=1, seed=1)))
    assert torch.equal(tickets[2].result(timeout=60), alone(mnist, 2, dict(labels=2, seed=2)))
    assert tickets[0].finished.is_set() and tickets[0].started is None


def test_a_cancelled_request_leaves_the_batch_and_the_others_are_intact(mnist):
    crowd = gathering(mnist, join=0.2)
    tickets = [crowd.submit(mnist, 4, labels=k, seed=20 + k, guidance=2.0) for k in range(3)]
    while tickets[1].done < 5 * 28:  # wait until their batch is five rows in
        time.sleep(0.01)
    (run,) = [r for r in crowd.running if tickets[1] in r.tickets]
    assert len(run.cohort.drawer.row_images) == 3 * 8
    tickets[1].cancel()
    tickets[1].finished.wait(10)
    assert tickets[1].finished.is_set() and tickets[1] not in run.tickets
    assert len(run.cohort.drawer.row_images) == 2 * 8, "the cancelled request's rows are still drawn"
    for k in (0, 2):
        assert torch.equal(tickets[k].result(timeout=60), alone(mnist, 4, dict(labels=k, seed=20 + k, guidance=2.0)))
    assert tickets[1].done < tickets[1].total


def test_in_bfloat16_a_shared_batch_draws_as_the_bfloat16_model_alone(mnist):
    """Where the engine draws with a bfloat16 copy (a CPU with native bfloat16), a request's images are
    those of that copy alone."""
    low = copy.deepcopy(mnist).to(torch.bfloat16)
    crowd = gathering(mnist, precision="bfloat16")
    tickets = [crowd.submit(mnist, n, **request) for n, request in REQUESTS[:4]]
    for ticket, (n, request) in zip(tickets, REQUESTS):
        assert torch.equal(ticket.result(timeout=60), sample(low, n, **request)), request


def test_a_full_machine_refuses_with_the_expected_wait(mnist, make):
    crowd = make(join=0.05, cohorts=1, max_wait=1.0)
    crowd.prepare(mnist)
    running = crowd.submit(mnist, 64, labels=2, seed=0, guidance=2.0)
    assert running.begun.wait(60)
    queued = []
    with pytest.raises(Full, match=r"would start in about \d+ s"):
        for _ in range(50):
            queued.append(crowd.submit(mnist, 64, labels=2, seed=1, guidance=2.0))  # each queued one adds to the wait
    assert crowd.visitors() == 1 + len(queued) and crowd.busy() == 1
    for ticket in queued + [running]:
        ticket.cancel()


def test_a_waiting_request_knows_its_expected_wait(mnist):
    crowd = Crowd(join=0.05, cohorts=1, precision="float32")
    running = crowd.submit(mnist, 32, labels=2, seed=0)
    while running.started is None:
        time.sleep(0.01)
    queued = crowd.submit(mnist, 4, labels=3, seed=1)
    assert queued.started is None and queued.wait > 0
    assert torch.equal(queued.result(timeout=60), alone(mnist, 4, dict(labels=3, seed=1)))


def test_two_stage_requests_are_batched_stage_by_stage(mnist, make):
    model = load(ASSETS / "mnist-sketch").eval()
    crowd = gathering(mnist, also=(model,), join=5.0, make=make)
    asks = [dict(labels=torch.full((2,), k), seed=40 + k, guidance=1.0, sketch_guidance=3.0, temperature=(1.0, 0.9, 1.1)[k],
                 sketch_temperature=(None, 0.7, 1.0)[k]) for k in range(3)]
    # The last a completion: its top rows kept, the sketch completed from them first.
    known = torch.zeros(2, 1, 28, 28, dtype=torch.long)
    known[:, :, 4:14, 10:18] = 200
    asks[2].update(known=known, known_mask=torch.zeros_like(known, dtype=torch.bool).index_fill_(2, torch.arange(14), True))
    staged = [dict(crowd.stages(model, 2, **ask)) for ask in asks]
    finished = [stages["detail"].result(timeout=120) for stages in staged]
    assert len({s["sketch"].started for s in staged}) == 1 and len({s["detail"].started for s in staged}) == 1
    for result, ask in zip(finished, asks):
        assert torch.equal(result, sample(model, 2, **ask))
    assert torch.equal(finished[2][:, :, :14], known[:, :, :14])
    # A sketch given (the page's Sketch tab): the detail stage only.
    (only,) = crowd.stages(model, 2, **{**asks[0], "sketch": staged[0]["sketch"].result(), "seed": 41})
    assert only[0] == "detail" and only[1].result(timeout=120).shape == (2, 1, 28, 28)


def test_a_bad_request_is_refused_before_it_queues(mnist):
    crowd = Crowd(precision="float32")
    with pytest.raises(ValueError, match="labels must lie in"):
        crowd.submit(mnist, 2, labels=12)
    assert not crowd.waiting


def test_the_engine_survives_a_failing_batch(mnist):
    crowd = Crowd(precision="float32")
    bad = crowd.submit(mnist, 1, labels=1, seed=0, on_logits=lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bad.result(timeout=30)
    assert torch.equal(crowd.submit(mnist, 1, labels=1, seed=0).result(timeout=30), alone(mnist, 1, dict(labels=1, seed=0)))
    assert crowd.thread.is_alive() and isinstance(crowd.thread, threading.Thread)


def test_a_paced_drawing_holds_no_compute_slot(mnist, make):
    """The engine draws at full speed and is free again while the visitor's frames go on at the
    pace: most of a watchable drawing is shown with no cohort running, and another visitor's
    request, sent once the engine is idle, is drawn while the first is still watching (with the
    engine in this process, and in its own as the page runs it). The pace is set from what this
    run measured, so that a slow or busy machine changes nothing."""
    from pixelcnn.studio.frames import Ask, stream

    crowd = make()
    measured = crowd.submit(mnist, 4, labels=5, seed=3)
    assert measured.begun.wait(60)
    began = time.monotonic()
    measured.result(timeout=120)
    compute = time.monotonic() - began  # the same drawing at full speed, on this machine, now
    pace = max(1.5, 6 * compute)
    seen, other = [], None
    for frame in stream(Ask(mnist, 4, labels=torch.full((4,), 5), seed=3), pace=pace, crowd=crowd):
        seen.append((crowd.busy(), frame.done, other is not None and other.finished.is_set()))
        if other is None and seen[-1][0] == 0 and not frame.done:
            other = crowd.submit(mnist, 2, labels=1, seed=4)  # the engine is idle, the first visitor still watching
    idle_frames = [done for busy, done, _ in seen if busy == 0 and not done]
    assert seen[-1][1] and len(idle_frames) >= len(seen) // 3, (compute, seen)
    # ...and the other request was drawn before the paced drawing's last frame.
    assert other is not None and any(finished for _, done, finished in seen if not done), (compute, seen)


def test_a_visitor_who_leaves_takes_only_their_rows_away(mnist):
    from pixelcnn.studio.frames import Ask, stream

    crowd = gathering(mnist, join=1.5, busy=128)  # each stream below says "Waiting" after 0.5 s: both join before 1.5 s
    staying = stream(Ask(mnist, 3, labels=torch.full((3,), 6), seed=8, guidance=2.0), crowd=crowd)
    leaving = stream(Ask(mnist, 3, labels=torch.full((3,), 2), seed=9, guidance=2.0), crowd=crowd)
    next(staying), next(leaving)  # each submits its request and waits
    for frames in (staying, leaving):
        while not next(frames).status.startswith("Drawing"):  # past "Waiting for the machine"
            pass
    (run,) = [r for r in crowd.running if len(r.tickets) == 2]
    assert len(run.cohort.drawer.row_images) == 12
    leaving.close()  # the page closes a stream when its visitor leaves or presses Stop
    while len(run.cohort.drawer.row_images) == 12 and run in crowd.running:
        time.sleep(0.01)
    last = list(staying)[-1]
    assert last.done and torch.equal(last.drawing.canvas, alone(mnist, 3, dict(labels=6, seed=8, guidance=2.0)))
    assert len(run.cohort.drawer.row_images) == 6


def test_a_visitor_who_leaves_mid_drawing_takes_only_their_rows(mnist, make):
    """Told by the tickets alone (the engine's own process shows nothing else): the one who left
    stops counting where they left, and the two who stay get what they would get alone."""
    crowd = gathering(mnist, join=5.0, busy=64, make=make)
    tickets = [crowd.submit(mnist, 4, labels=k, seed=30 + k, guidance=2.0) for k in range(3)]
    while tickets[1].done < 5 * 28:
        time.sleep(0.01)
    tickets[1].cancel()
    assert tickets[1].finished.wait(10)
    left_at = tickets[1].done
    for k in (0, 2):
        assert torch.equal(tickets[k].result(timeout=120), alone(mnist, 4, dict(labels=k, seed=30 + k, guidance=2.0)))
    assert 5 * 28 <= left_at == tickets[1].done < tickets[1].total, "the leaver's count went on with the batch"
