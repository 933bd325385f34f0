"""How the page serves a crowd: a bad request becomes one message and the server keeps going,
streamed frames become outputs, Stop says where it stopped, and the files and memory a drawing
leaves behind are swept."""

import logging
import os
import re
import tempfile
import threading
import time

import gradio as gr

log = logging.getLogger("pixelcnn.studio")
MESSAGE_SECONDS = 12  # an error message stays this long, so old ones do not pile up across tabs
UPLOADS_KEPT = (600, 3600)  # Gradio deletes uploads (and anything else it cached) an hour old, every 10 minutes
FRAMES_KEPT = (20, 60)  # every 20 seconds we delete the frames not sent for a minute: a browser fetches each at once


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


def stopped(status: str | None) -> str:
    """The status line after Stop: where the drawing stopped."""
    progress = re.search(r"Drawing[^…]*… (\d+)% \(([\d,]+) of ([\d,]+) sub-pixels\)", status or "")
    if progress is None:
        return status or "Stopped."
    percent, done, total = progress.groups()
    return f"Stopped at {percent}% ({done} of {total} sub-pixels drawn). Press the button again to start anew."


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
            try:
                if now - os.stat(path).st_mtime <= age:
                    continue
                os.remove(path)
                deleted += 1
            except FileNotFoundError:
                pass
            component.temp_files.discard(path)
    return deleted


def tame_malloc() -> None:
    """glibc gives each thread that allocates its own memory arena and returns little of it, so a
    server whose worker threads sample images grows with every burst of visitors. Two arenas, and
    a trim after each sweep, keep its resident memory flat. Elsewhere (not glibc) this does nothing."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def trim_malloc() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def starting_file(component) -> str | None:
    """The file of the value a component starts with (the chart's placeholder), or None."""
    value = getattr(component, "value", None)
    return value.get("path") if isinstance(value, dict) else None


def keep_sweeping(outputs: list, every: float, age: float) -> threading.Thread:
    def loop():
        while True:
            time.sleep(every)
            sweep_frames(outputs, age)
            trim_malloc()

    thread = threading.Thread(target=loop, name="frame-sweeper", daemon=True)
    thread.start()
    return thread
