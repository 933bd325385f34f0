"""How the page serves a crowd: a bad request becomes one message and the server keeps going,
streamed frames become outputs, Stop says where it stopped, and the files and memory a drawing
leaves behind are swept."""

import functools
import inspect
import io
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
from gradio import processing_utils
from gradio import utils as gradio_utils
from PIL import Image

from pixelcnn.memory import trim_malloc
from pixelcnn.studio.palette import without_cursor

log = logging.getLogger("pixelcnn.studio")
MESSAGE_SECONDS = 12  # an error message stays this long, so old ones do not pile up across tabs
UPLOADS_KEPT = (600, 3600)  # Gradio deletes uploads (and anything else it cached) an hour old, every 10 minutes
FRAMES_KEPT = (20, 60)  # every 20 seconds we delete the frames not sent for a minute: a browser fetches each at once
DRAWING_KEPT = 15 * 60  # seconds a finished drawing (what the model believed about each pixel) is kept for its visitor's clicks
SESSIONS_KEPT = 256  # visitors' sessions Gradio keeps, about 350 KB each (their copy of the page's config, their drawing,
# their copies of the outputs): the least recently used go first; a visitor whose session went starts a new one
DRAWINGS_AT_ONCE = 64  # visitors' drawings streamed at once (all tabs together); more wait in Gradio's queue
QUEUE_SIZE = 256  # requests Gradio's queue holds before it turns new ones away
STOPS: dict[tuple[str, str], float] = {}  # (visitor's session, drawing button) -> when Stop was pressed during its drawing


def refuse(message: str) -> gr.Error:
    """A bad request: one line in the server log, one message on the page."""
    log.info("refused a request: %s", message)
    return gr.Error(message, duration=MESSAGE_SECONDS, print_exception=False)


def friendly(start, *args, stills: int = 0):
    """Run a request for the page: start(*args) gives frames, or (a still image, frames); bad
    requests become one message (and the status line, the last of the tab's `stills` + 4
    outputs, says it too, so no stale line stays), frames become outputs.

    The still image (a face crop, the auto-encoder's pair) goes with every frame. It is written
    once, to a file of its own: Gradio copies a file into its cache once and reuses the copy,
    whereas it rewrites a picture's cache file each time it is sent, under the feet of a browser
    still fetching the previous frame's copy."""
    still_path = None
    try:
        result = start(*args)
        still, frames = result if isinstance(result, tuple) else (None, result)
        if still is not None:
            handle, still_path = tempfile.mkstemp(prefix="pixelcnn-still-", suffix=".png")
            with os.fdopen(handle, "wb") as file:
                still.save(file, format="PNG")
        for frame in frames:
            shown = (frame.image, frame.belief, frame.drawing, frame.status)
            yield shown if still is None else (still_path, *shown)
    except ValueError as err:
        yield (*[gr.skip()] * (stills + 3), f"Not drawn: {err}")
        raise refuse(str(err)) from None
    finally:
        if still_path is not None:
            os.remove(still_path)
        trim_malloc()  # give the request's freed memory back now, not at the next sweep


def answered(ask, *args):
    """Run a one-answer request for the page: a bad request becomes one message; the request's
    freed memory goes back when it ends (as for `friendly`'s streams)."""
    try:
        return ask(*args)
    except ValueError as err:
        raise refuse(str(err)) from None
    finally:
        trim_malloc()


def stopped_frame(last: tuple | None, outputs: int) -> tuple:
    """The outputs after Stop: the grid as it stood without its cursor, the rest as they were, and
    the status line saying where it stopped. `last`: the frame shown before (..., grid, chart,
    drawing, status), or None."""
    if last is None:
        return (*[gr.skip()] * (outputs - 1), stopped(None))
    grid = last[-4]
    return (*[gr.skip()] * (outputs - 4), without_cursor(grid) if isinstance(grid, Image.Image) else gr.skip(), gr.skip(), gr.skip(),
            stopped(last[-1]))


def stopped(status: str | None) -> str:
    """The status line after Stop: where the drawing stopped."""
    progress = re.search(r"Drawing[^…]*… (\d+)% \(([\d,]+) of ([\d,]+) (pixels|colour values)\)", status or "")
    if progress is None:
        return status or "Stopped."
    percent, done, total, unit = progress.groups()
    return f"Stopped at {percent}% ({done} of {total} {unit} drawn). Press the button again to start anew."


def remove_old(path: str, age: float, now: float) -> bool | None:
    """Delete the file at `path` if it was last written more than `age` seconds before `now`, and its
    folder if that leaves it empty (Gradio makes a folder a picture) -> True if deleted, None if it
    was gone already, False if kept."""
    try:
        if now - os.stat(path).st_mtime <= age:
            return False
        os.remove(path)
    except FileNotFoundError:
        return None
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # not empty: another file of the same bytes under another name
    return True


def sweep_frames(outputs: list, age: float, now: float | None = None) -> int:
    """Delete the image files Gradio saved for these output components that were last written
    more than `age` seconds ago -> how many were deleted. Every streamed frame is a file;
    without this they pile up.

    Gradio names a picture's file by a hash of its content and writes it again (or, for a file
    it was given, touches it) each time it is sent, so the modification time is when it was
    last sent. A path stays in the component's list until its file is deleted: Gradio serves
    only the files it lists."""
    deleted, now = 0, time.time() if now is None else now
    for component in outputs:
        for path in list(component.temp_files):
            if path == starting_file(component):
                continue  # the picture the page starts with (the chart's placeholder) is shown to every new visitor
            removed = remove_old(path, age, now)
            if removed is False:
                continue
            deleted += bool(removed)
            component.temp_files.discard(path)
    return deleted


def starting_file(component) -> str | None:
    """The file of the value a component starts with (the chart's placeholder), or None."""
    value = getattr(component, "value", None)
    return value.get("path") if isinstance(value, dict) else None


SWEEPING: list = []  # (page, its streamed outputs) for every page built in this process
SAVED: dict[str, None] = {}  # every picture file the page has written (whole_cache_files), in order, until swept
SAVED_LOCK = threading.Lock()


def with_copies(page, outputs: list) -> list:
    """A page's streamed outputs and every visitor's own copy of them: Gradio postprocesses a
    session's frames with a copy of the component once that session has had an update for it (a
    skipped output, as a refusal or Stop gives, is one), and keeps the copy with the session."""
    found = list(outputs)
    for session in list(page.state_holder.session_data.values()):
        blocks = session.blocks_config.blocks
        found += [blocks[o._id] for o in outputs if blocks.get(o._id) not in (None, o)]
    return found


def sweep_saved(keep: set, age: float, now: float | None = None) -> int:
    """Delete every picture the page wrote that was last sent more than `age` seconds ago, except
    `keep` (the pictures a page starts with) -> how many were deleted. This catches the frames no
    component lists any more: each update a session gets for an output (a refusal's or Stop's
    skipped output) replaces that session's copy of the component with a new one, and the old
    copy's files were listed nowhere else."""
    deleted, now = 0, time.time() if now is None else now
    with SAVED_LOCK:
        paths = list(SAVED)
    for path in paths:
        if path in keep:
            continue
        removed = remove_old(path, age, now)
        if removed is not False:
            deleted += bool(removed)
            with SAVED_LOCK:
                SAVED.pop(path, None)
    return deleted


def sweep_leftovers(folder: str, age: float, now: float | None = None) -> int:
    """Delete the empty temporary files Gradio's upload route leaves in its cache folder's top level
    (one an upload whose bytes it had already) once `age` seconds old -> how many were deleted."""
    deleted, now = 0, time.time() if now is None else now
    for path in Path(folder).glob("tmp*"):
        if path.is_file() and path.stat().st_size == 0:
            deleted += bool(remove_old(str(path), age, now))
    return deleted


def sweep_all(age: float, now: float | None = None) -> int:
    """Sweep the frames of every page built here, its visitors' copies included, and every picture
    written since that no component lists -> how many were deleted."""
    deleted = sum(sweep_frames(with_copies(page, outputs), age, now) for page, outputs in list(SWEEPING))
    keep = {starting_file(block) for page, _ in list(SWEEPING) for block in page.blocks.values()}
    return deleted + sweep_saved(keep, age, now)


def keep_sweeping(page, outputs: list, every: float, age: float, leftovers: float = 3600) -> threading.Thread:
    SWEEPING.append((page, outputs))

    def loop():
        while True:
            time.sleep(every)
            sweep_all(age)
            sweep_leftovers(gradio_utils.get_upload_folder(), leftovers)
            trim_malloc()

    thread = threading.Thread(target=loop, name="frame-sweeper", daemon=True)
    thread.start()
    return thread


def stop_pressed(button: str):
    """Stop's handler for a drawing button: note when this visitor pressed it (the drawing sees it
    at its next frame and ends there, see `stoppable`)."""

    def press(request: gr.Request) -> None:
        STOPS[(request.session_hash, button)] = time.monotonic()

    return press


def stoppable(fn, button: str):
    """A drawing handler that ends at its next frame once this visitor presses Stop, with the status
    line saying where it stopped. It ends like a finished drawing, so the next press of the button
    starts a new one (a cancelled stream sometimes left the next press ignored). The handler's
    parameters stay as they are for the API, with Gradio's request added at the end."""

    @functools.wraps(fn)
    def run(*args):
        *args, request = args  # Gradio passes its request last (the parameter added below)
        key, last = (getattr(request, "session_hash", None), button), None
        STOPS.pop(key, None)  # a Stop pressed before this drawing is not for it
        for shown in fn(*args):
            if STOPS.pop(key, None) is not None:
                yield stopped_frame(last, len(shown))
                return
            last = shown
            yield shown

    signature = inspect.signature(fn)
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
    run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), request])
    run.__annotations__ = {**getattr(fn, "__annotations__", {}), "request": gr.Request}
    return run


def whole_cache_files() -> None:
    """Make Gradio write each picture it sends as a whole file. It saves a picture under a name made
    from its bytes, truncating and rewriting that file every time the picture is sent again, so a
    browser (or client) still fetching an identical earlier frame can read an empty file. Here a
    new file is written beside it and renamed over it, and a file already there (same name, same
    bytes) is only touched: the sweeper reads its modification time as "last sent"."""

    def save(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        if format.lower() == "png":  # fast: a frame is encoded for every visitor several times a second
            with io.BytesIO() as buffer:
                img.save(buffer, "png", compress_level=1)
                data = buffer.getvalue()
        else:
            data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        path = (folder / f"{name}.{format}").resolve()
        for attempt in range(3):  # the sweeper may take the file or its folder between two steps: then again
            try:
                folder.mkdir(exist_ok=True, parents=True)
                if path.exists() and path.stat().st_size == len(data):
                    os.utime(path)
                else:
                    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
                    with os.fdopen(handle, "wb") as file:
                        file.write(data)
                    os.replace(temporary, path)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        with SAVED_LOCK:
            SAVED.pop(str(path), None)
            SAVED[str(path)] = None  # last sent now: at the end of the order
        return str(path)

    processing_utils.save_pil_to_cache = save
