"""Visitors for the soak bench: every tab's request as a client sends it, and what counts as answered
(a drawing, or one sentence that says what to do)."""

import concurrent.futures
import json
import threading
import time
import uuid
from pathlib import Path

import httpx
from gradio_client import Client, handle_file

from common import ROOT  # noqa: F401 - puts this checkout's library first on the path
from pixelcnn.studio.checks import KEEP_LAYOUT, NEW_POSE

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"
DIGITS = sorted(EXAMPLES.glob("mnist-test-*.png"))
FACES = sorted(EXAMPLES.glob("orl-s*-held-out.png"))
FAST, WATCHABLE = "As fast as possible", "Watchable (about 6 s)"
LIMIT = 300.0  # seconds a request may take, queue included, before it counts as unanswered
SEND_LIMIT = 60.0  # seconds the page may take to take in a request or an upload (gradio_client's own is 5 s; a browser's none):
# during a burst on one core an upload took more than 5 s (bench/upload.py measures it)


def visitor_client(url: str) -> Client:
    """A visitor's gradio_client, which waits for the page as a browser would (up to SEND_LIMIT)."""
    return Client(url, verbose=False, download_files=False, httpx_kwargs={"timeout": SEND_LIMIT})


class Cuts:
    """Requests sent again because gradio_client's event stream closed under them: the server closes a
    client's stream when the client's last event completes, and a request the client sends in that
    moment is registered with the closing stream, which cancels it on the client's side (the page
    still draws it, for no one). Without this, the job never says it has finished and the visitor
    waits forever. The client's own race, not the page's: counted, and the request sent once more."""

    count, lock = 0, threading.Lock()

    @classmethod
    def add(cls) -> None:
        with cls.lock:
            cls.count += 1


def finished(client: Client, endpoint: str, args: tuple, kwargs: dict, limit: float = LIMIT):
    """Submit and wait until the job is done (not by iterating it: a job cancelled on the client's side
    never says it has finished) -> (outputs, the last one), raising what the page or the client raised."""
    job = client.submit(*args, api_name=endpoint, **kwargs)
    deadline = time.monotonic() + limit
    while not job.done():
        if time.monotonic() > deadline:
            job.cancel()
            raise TimeoutError(f"no answer in {limit:.0f} s")
        time.sleep(0.05)
    outputs = job.outputs()
    return outputs, job.result()  # raises what the page refused with


def answered(client: Client, endpoint: str, args: tuple, kwargs: dict, expect_refusal: bool = False) -> tuple[str, str]:
    """Send one request and wait for all of it -> ("drawing" | "sentence" | "unanswered", what was said).
    Outcomes elsewhere: "stopped" (the visitor pressed Stop), "left" (closed the tab mid-drawing)."""
    try:
        try:
            outputs, last = finished(client, endpoint, args, kwargs)
        except concurrent.futures.CancelledError:
            Cuts.add()
            outputs, last = finished(client, endpoint, args, kwargs)
        outputs[-1:] = [last]
    except concurrent.futures.CancelledError:
        return "unanswered", "the client's event stream closed under the request twice"
    except Exception as err:  # noqa: BLE001 - the client raises what the page said
        said = str(err)
        sentence = said.strip().endswith((".", "!", ")")) and "Traceback" not in said and len(said) < 400
        return ("sentence" if sentence else "unanswered"), said
    if expect_refusal:
        return "unanswered", f"drawn, not refused: {args}"
    last = outputs[-1] if outputs else None
    status = last[-1] if isinstance(last, (list, tuple)) and isinstance(last[-1], str) else ""
    if endpoint in ("/inspect", "/where_it_looks"):
        return ("drawing" if last else "unanswered"), ""
    return ("drawing" if status.startswith("Done") else "unanswered"), status[:200]


def digit(rng) -> dict:
    return handle_file(str(rng.choice(DIGITS)))


def face(rng) -> dict:
    return handle_file(str(rng.choice(FACES)))


def seed(rng) -> str:
    return str(rng.randrange(10_000))


def by_class(pace):
    def act(client, rng):
        dataset = rng.choice(["MNIST", "Fashion-MNIST"])
        label = str(rng.randrange(10)) if dataset == "MNIST" else rng.choice(["Trouser", "Sandal", "Bag", "Coat"])
        return answered(client, "/generate", (dataset, label, rng.choice([4, 8, 16]), 1.0, seed(rng)), {"pace": pace})
    return act


def stop_press(client, rng):
    """Generate at the watchable pace, then Stop after a few frames (the page cancels the event)."""
    job = client.submit("MNIST", str(rng.randrange(10)), 8, 1.0, seed(rng), pace=WATCHABLE, api_name="/generate")
    deadline = time.monotonic() + LIMIT
    while len(job.outputs()) < 5 and not job.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    job.cancel()
    return "stopped", ""


ACTIONS = {
    "By class, watchable": by_class(WATCHABLE),
    "By class, full speed": by_class(FAST),
    "Stop press": stop_press,
    "Sketch": lambda client, rng: answered(client, "/sketch", ("MNIST", digit(rng), None, str(rng.randrange(10)), True, 4, 1.0, seed(rng)),
                                           {"pace": rng.choice([FAST, WATCHABLE])}),
    "Complete": lambda client, rng: answered(client, "/complete", ("MNIST", digit(rng), None, "3", 14, 4, 1.0, seed(rng)), {"pace": FAST}),
    "Inspect": lambda client, rng: answered(client, "/inspect", ("MNIST", digit(rng), None, "Its best guess"), {}),
    "Inspect, pixel click": lambda client, rng: answered(client, "/where_it_looks", ("MNIST", digit(rng), None, "Its best guess",
                                                                                    rng.randrange(28), rng.randrange(28)), {}),
    "Portrait, new pose": lambda client, rng: answered(client, "/portraits", (face(rng), None, None, 0.5, False, 4, 1.0, seed(rng)),
                                                       {"pace": FAST, "layout": NEW_POSE}),
    "Portrait, keep layout": lambda client, rng: answered(client, "/portraits", (face(rng), None, None, 0.5, False, 4, 1.0, seed(rng)),
                                                          {"pace": FAST, "layout": KEEP_LAYOUT}),
    "Portrait, mix of two": lambda client, rng: answered(client, "/portraits", (face(rng), None, face(rng), 0.5, rng.random() < 0.5, 4, 1.0,
                                                                                seed(rng)), {"pace": FAST}),
    "Auto-encoder": lambda client, rng: answered(client, "/autoencode", (digit(rng), None, 4, 1.0, seed(rng)), {"pace": FAST}),
}

BAD = [  # (endpoint, arguments, keywords): each must be refused in a sentence
    ("/generate", ("MNIST", "3", 0, 1.0, "1"), {}),
    ("/generate", ("Klingon", "3", 2, 1.0, "1"), {}),
    ("/generate", ("MNIST", "banana", 2, 1.0, "1"), {}),
    ("/generate", ("MNIST", "3", 2, "nan", "1"), {}),
    ("/complete", ("MNIST", handle_file(str(DIGITS[0])), None, "3", 99, 2, 1.0, "1"), {}),
    ("/inspect", ("MNIST", None, None, "Its best guess"), {}),
    ("/where_it_looks", ("MNIST", handle_file(str(DIGITS[0])), None, "Its best guess", 900, 3), {}),
    ("/portraits", (None, None, None, 0.5, False, 2, 1.0, "1"), {}),
]


def drop_mid_drawing(url: str, rng) -> tuple[str, str]:
    """A visitor who closes the tab: Generate through Gradio's queue protocol, the connection
    closed after a few frames -> ("left", "") once it was drawing, else unanswered."""
    config = httpx.get(url + "config", timeout=30).json()
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "generate")
    session = uuid.uuid4().hex
    data = ["MNIST", str(rng.randrange(10)), 8, 1.0, seed(rng), 2.0, WATCHABLE, 0.5, 0.8]
    httpx.post(url + "gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": session,
                                                    "event_data": None, "trigger_id": None}, timeout=30).raise_for_status()
    frames, start = 0, time.monotonic()
    with httpx.stream("GET", url + f"gradio_api/queue/data?session_hash={session}", timeout=120) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_generating":
                frames += 1
                if frames == 3:
                    return "left", ""
            elif message.get("msg") == "process_completed":
                said = str((message.get("output") or {}).get("error", ""))
                return ("sentence" if said else "unanswered"), said
    return "unanswered", f"the stream ended after {frames} frames in {time.monotonic() - start:.1f} s"
