"""The page: a title, the notes on what was loaded, one tab per way to watch the model, and the
About text; built from the loaded models (`shelf.load_models`)."""

import os
import signal
import sys
import threading

import gradio as gr

from pixelcnn.pictures.reading import MAX_BYTES
from pixelcnn.studio.serving import DRAWINGS_AT_ONCE, FRAMES_KEPT, QUEUE_SIZE, SESSIONS_KEPT, UPLOADS_KEPT, keep_sweeping, whole_cache_files
from pixelcnn.studio.frames import CROWD
from pixelcnn.studio.shelf import Shelf
from pixelcnn.studio.tabs import autoencoder, by_class, complete, inspector, portrait, sketch
from pixelcnn.studio.widgets import SCROLL_JS, STATUS_CSS

# The engine thread hands the interpreter lock over at every torch call; a frame's thread holding it
# for Python's default 5 ms each time would slow the engine several times over.
SWITCH_SECONDS = float(os.environ.get("PIXELCNN_SWITCH", "0.0005"))
TABS = (by_class, sketch, complete, portrait, autoencoder, inspector)  # in the page's order

ABOUT = """
**What you are watching.** A PixelCNN writes an image the way you read one: pixel by pixel, row
by row, each pixel drawn from a probability distribution over its 256 possible intensities that
a neural network computes from every pixel above and to the left. The *Gated* PixelCNN
(van den Oord et al., 2016, [arXiv 1606.05328](https://arxiv.org/abs/1606.05328)) uses two
stacks of masked convolutions so no pixel above is ever hidden, and a label (a digit, a garment)
steers every layer. Orange marks the pixel being drawn; blue ones are not drawn yet. *Guidance*
(classifier-free guidance) mixes what the model predicts with and without the label and leans
away from the unlabelled guess, so the samples follow the class more closely. *Pace* spreads a
drawing over a few seconds so you can follow it (the model itself computes at full speed), and
the chart beside it shows how sure the model was: the odds it gave each intensity of the last
pixel of the first image it hesitated over, and a strip of how unsure it was, pixel by pixel.
Click any pixel of a finished drawing to see the odds it was drawn from.

**Sketch first, then detail.** The digits and garments are drawn in two stages: a small
PixelCNN first draws a 7x7 sketch (each cell the average of a 4x4 block), which decides the
shape and so the class; a second PixelCNN draws the 28x28 image conditioned on the class and on
that sketch as a spatial map (the paper's location-dependent conditioning). On the **Sketch**
tab you paint the sketch yourself and watch the model draw the detail over it.

**Inspect** asks the model about an image of yours: how many bits each pixel costs it, what
class it believes the image is (Bayes over its classes), and, for a pixel you click, which
pixels its prediction looks at, beside the original PixelCNN (one stack of masked
convolutions, van den Oord et al. 2016a, [arXiv 1601.06759](https://arxiv.org/abs/1601.06759))
whose blind spot above and to the right shows in red.

**Portrait** conditions the PixelCNN on a 512-number face embedding (facenet-pytorch's MTCNN finds
and aligns the face, InceptionResnetV1 embeds it). It learnt from the 40 people of the ORL faces:
for them it draws new poses; for anyone else, the faces it knows nearest to that embedding.
**Auto-encoder** squeezes a digit into 10 numbers; a PixelCNN decodes them by sampling, beside a
plain MSE decoder that gives the blurry average (the paper's section 3.4). The code reaches every
layer of the decoder twice: as a bias, and as a map over the image that a small deconvolution
makes of it (the paper's location-dependent conditioning, section 2.3). With the bias alone the
decoder learnt to draw digits without it and kept the encoded digit in under half of its
decodings.

**Bits/dim** (bits per dimension) is how many bits the model needs, on average, to encode one
pixel value of an image: lower means the image is less surprising to it; 8 would be no better
than guessing among 256 intensities.

Model cards (what each model learnt from, how it was trained, what it measures): {cards}. Code
and training commands: the repository's README.
"""


def build(models: dict, notes: list[str]) -> gr.Blocks:
    """The page over the loaded models (label -> model) and the notes on loading them."""
    shelf = Shelf(models, notes)
    whole_cache_files()
    with gr.Blocks(title="PixelCNN studio", delete_cache=UPLOADS_KEPT, css=STATUS_CSS, js=SCROLL_JS) as page:
        gr.Markdown("# PixelCNN studio\nWatch an autoregressive model draw, one pixel at a time.")
        if notes:
            gr.Markdown("\n".join(f"- {note}" for note in notes))
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone every tab stays one tap away
            streamed = [picture for tab in TABS for picture in tab.tab(shelf)]
        with gr.Accordion("About", open=False):
            gr.Markdown(ABOUT.format(cards=shelf.card_links() or "none loaded"))
    keep_sweeping(page, streamed, *FRAMES_KEPT)
    for model in shelf.drawing():
        CROWD.prepare(model)  # the engine's cost of each model, measured before the first visitor
    return page


def launch(page: gr.Blocks, **kwargs) -> None:
    """Serve the page with the crowd's limits: many visitors' drawings streamed at once (their
    threads sleep between frames; one engine draws), a long queue behind them. kwargs: Gradio's `launch`'s.
    Served until Ctrl-C or SIGTERM (how a Space, `docker stop` or systemd end it): either closes the
    server, then the engine's process, so that no process and no shared memory outlive the page."""
    sys.setswitchinterval(SWITCH_SECONDS)
    page.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)
    blocking = not kwargs.get("prevent_thread_lock") and threading.current_thread() is threading.main_thread()
    if blocking:
        signal.signal(signal.SIGTERM, lambda signum, frame: stop(page))
    try:
        page.launch(max_file_size=MAX_BYTES, max_threads=DRAWINGS_AT_ONCE + 16, state_session_capacity=SESSIONS_KEPT, **kwargs)
    finally:
        if blocking:
            CROWD.close()


def stop(page: gr.Blocks) -> None:
    """On SIGTERM: the engine's process first (the drawings under way end, their visitors told so),
    then the server as on Ctrl-C, without waiting on the visitors' open connections."""
    CROWD.close()
    if page.server is not None:
        page.server.force_exit = True  # uvicorn's: shut down without waiting for open connections
    raise KeyboardInterrupt
