"""What the page's tests share: a client whose drawings come as fast as possible, the request each
tab sends, and what a frame shows."""

from pathlib import Path

import numpy as np
from PIL import Image
from gradio_client import Client, handle_file

from pixelcnn.studio import grids, palette
from pixelcnn.studio.tabs import sketch as sketch_tab

from .helpers import ROOT


FAST = "As fast as possible"


DRAWING = {"/generate": 6, "/sketch": 9, "/complete": 9, "/portraits": 9, "/autoencode": 5}  # endpoint -> position of its pace


class FastClient(Client):
    """A client whose drawing requests come as fast as possible unless a test asks for a pace:
    most tests are about what is drawn, not how it is paced."""

    def submit(self, *args, api_name=None, **kwargs):
        if api_name in DRAWING and len(args) <= DRAWING[api_name]:
            kwargs.setdefault("pace", FAST)
        return super().submit(*args, api_name=api_name, **kwargs)


def generate(client, *args):
    job = client.submit(*args, api_name="/generate")
    frames = list(job)
    return job, frames


WATCHABLE = "Watchable (about 6 s)"  # a stream of many frames on any machine, however fast


def colours(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3)


def assert_sketch_then_detail(frames, picture: int):
    """A two-stage drawing: the sketch first (undrawn cells blue), then the detail over it (the
    next pixel orange), and a last frame with neither."""
    statuses = [frame[-1] for frame in frames]
    assert "Drawing the sketch…" in statuses[0]
    assert any("Drawing the detail over the sketch…" in status for status in statuses)
    assert (colours(frames[0][picture]) == palette.UNDRAWN).all(1).any()
    middle = colours(frames[len(frames) // 2][picture])
    assert (middle == palette.CURSOR).all(1).sum() > 0
    last = colours(frames[-1][picture])
    assert not (last == palette.UNDRAWN).all(1).any() and not (last == palette.CURSOR).all(1).any()


def make_bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir(exist_ok=True)
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    text = folder / "notes.jpg"
    text.write_text("this is not a picture\n" * 20)
    whole = folder / "whole.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(whole)
    truncated = folder / "truncated.png"
    truncated.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    huge = folder / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)
    animated = folder / "animated.gif"
    frames = [Image.new("L", (28, 28), v) for v in (0, 128, 255)]
    frames[0].save(animated, save_all=True, append_images=frames[1:])
    return {
        "empty": (empty, "The uploaded file is empty"),
        "text": (text, "not an image we can read"),
        "truncated": (truncated, "damaged or cut short"),
        "huge": (huge, "too large to open safely|megapixels"),
        "animated": (animated, "Animated images are not supported"),
    }


def complete(client, path, keep=14, count=2, seed="5"):
    upload = handle_file(str(path)) if path else None
    job = client.submit("MNIST", upload, None, "3", keep, count, 1.0, seed, api_name="/complete")
    return job, list(job)


def portraits(client, photo, second=None, mix=0.5, walk=False, count=4, seed="2", pace=FAST):
    upload = handle_file(str(photo)) if photo else None
    other = handle_file(str(second)) if second else None
    job = client.submit(upload, None, other, mix, walk, count, 1.0, seed, pace=pace, api_name="/portraits")
    frames = list(job)
    job.result()  # raises the page's message when the request was refused
    return job, frames


def inspect_request(client, path, dataset="MNIST", class_choice="Its best guess"):
    return client.predict(dataset, handle_file(str(path)), None, class_choice, api_name="/inspect")


def sketch_request(client, path, class_name=sketch_tab.NO_CLASS, count=4, seed="3", centre=True, dataset="MNIST", guidance=0.0):
    upload = handle_file(str(path)) if path else None
    job = client.submit(dataset, upload, None, class_name, centre, count, 1.0, seed, guidance, api_name="/sketch")
    frames = list(job)
    job.result()  # raises the page's message when the request was refused
    return job, frames


def tiles_of(grid_path, n, side=28) -> np.ndarray:
    """The (n, side, side) grey images of a drawing tab's final grid."""
    grid = np.asarray(Image.open(grid_path).convert("L"))
    columns = grids.grid_shape(n)
    scale = max(2, 560 // (columns * (side + 1)))
    return np.stack([grid[(1 + (k // columns) * (side + 1)) * scale :: scale][:side, (1 + (k % columns) * (side + 1)) * scale :: scale][:, :side]
                     for k in range(n)])


DRAWN = ROOT / "tests" / "data" / "drawn-digits"  # held-out digits redrawn as a pad makes them (make_drawn_digits.py)


OTHERS = ROOT / "tests" / "data" / "non-digits"  # letters, shapes, scribbles and faces drawn as a pad makes them (make_non_digits.py)
