"""The page's parts every tab shares: controls checked by the package, the drawing view (grid,
status line, belief chart), the Go/Stop wiring, pads, example thumbnails and the legend."""

import json

import gradio as gr

from pixelcnn.studio.checks import MAX_GUIDANCE, MAX_IMAGES, MAX_TEMPERATURE, MIN_TEMPERATURE
from pixelcnn.studio.palette import CURSOR, UNDRAWN, css
from pixelcnn.studio.serving import DRAWING_KEPT, DRAWINGS_AT_ONCE, refuse, stop_pressed, stoppable
from pixelcnn.studio.watch import DEFAULT_PACE, PACES, placeholder_chart


class PackageChecked:
    """A control whose value the package checks, so that a value out of range, or a string sent
    through the API, gets a message naming the control instead of Gradio's generic one."""

    def preprocess(self, payload):
        return payload


class Slider(PackageChecked, gr.Slider):
    pass


class Radio(PackageChecked, gr.Radio):
    pass


class Label(gr.Label):
    """A class reading whose headline need not be the likeliest class: a (headline, {class: p}) pair
    shows "Not sure" above the bars where the model is not sure."""

    def postprocess(self, value):
        if isinstance(value, (tuple, list)):
            headline, confidences = value
            shown = super().postprocess(confidences)
            shown.label = headline
            return shown
        return super().postprocess(value)


LEGEND = (f'<span class="legend"><span style="background:{css(UNDRAWN)};color:#fff;padding:0 6px">dark blue</span> = not drawn yet, '
          f'<span style="background:{css(CURSOR)};color:#000;padding:0 6px">orange</span> = the pixel being drawn.</span>')
# A stream cancelled through the API marks its outputs "Error"; the status line says what happened instead.
STATUS_CSS = ", ".join(f"#{name} span.error" for name in ("status", "sketch-status", "complete-status", "portrait-status", "autoencoder-status")
                       ) + " {display: none}"
# Each drawing button and the grid it draws into (their elem_ids).
GRIDS = {"generate": "canvas", "sketch": "sketch-canvas", "complete": "complete-canvas", "portraits": "portrait-canvas",
         "autoencode": "autoencoder-canvas"}
# On a narrow screen the grid sits below the controls: the page brings it into view as the drawing
# starts. Plain DOM, on load: a Gradio event of its own on the button would stop the button
# working again after Stop.
# On a phone, a drawing button scrolls its grid into view. A grid keeps its height from the press
# until its new picture has loaded: Gradio shows the first frame in an image of no height until it
# is decoded, and the page shrinking under a scroll stopped the scroll short of the grid. Every
# drawing pad starts with its brush picked (Gradio's pad waits for the visitor to find the brush
# icon), once, when it first shows.
SCROLL_JS = """() => { const grids = %s;
  const hold = (grid) => { grid.style.minHeight = ''; grid.style.minHeight = grid.offsetHeight + 'px'; };
  document.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    const grid = button && button.id in grids ? document.getElementById(grids[button.id]) : null;
    if (!grid) return;
    hold(grid);
    if (window.innerWidth < 768) setTimeout(() => grid.scrollIntoView({behavior: 'smooth', block: 'start'}), 50);
  }, true);
  document.addEventListener('load', (event) => {
    const grid = event.target.tagName === 'IMG' ? event.target.closest('[id]') : null;
    if (grid && Object.values(grids).includes(grid.id)) hold(grid);
  }, true);
  setInterval(() => document.querySelectorAll('button[aria-label="Brush"]:not([data-picked])').forEach((brush) => {
    if (brush.offsetParent === null) return;
    brush.dataset.picked = 'yes';
    brush.click();
  }), 400); }""" % json.dumps(GRIDS)
UPLOAD_HEIGHT = 120  # tall enough for Gradio's "Drop Image Here - or - Click to Upload" at 1280x900


def sampling_controls(count_label: str, count: int, button: str, button_id: str, stop_id: str | None = None, guidance: float | None = None,
                      sketch_guidance: float | None = None, temperature: float = 1.0, sketch_temperature: float | None = None):
    """The controls every tab shares, the buttons first so that they stay in view -> (count,
    temperature, seed, pace, go, stop) components, then a Guidance slider starting at `guidance`
    unless that is None, and Sketch guidance and Sketch temperature sliders starting at
    `sketch_guidance` and `sketch_temperature` unless those are None. Temperature, guidance and
    seed sit in a closed "More settings"."""
    with gr.Row():
        go = gr.Button(button, variant="primary", elem_id=button_id)
        stop = gr.Button("Stop", elem_id=stop_id or f"{button_id}-stop")
    count = Slider(1, MAX_IMAGES, value=count, step=1, label=count_label)
    pace = Radio(list(PACES), value=DEFAULT_PACE, label="Pace", elem_id=f"{button_id}-pace",
                    info="The model computes at full speed either way; a watchable pace spreads the frames over a few seconds.")
    controls = []
    with gr.Accordion("More settings", open=False):
        temperature = Slider(MIN_TEMPERATURE, MAX_TEMPERATURE, value=temperature, step=0.05, elem_id=f"{button_id}-temperature",
                             label="Temperature (1.0 = as trained; lower = cleaner and more alike)")
        if guidance is not None:
            controls.append(Slider(0, MAX_GUIDANCE, value=guidance, step=0.25, elem_id=f"{button_id}-guidance",
                                   label="Guidance (0 = off; higher follows the class or person more closely)"))
        if sketch_guidance is not None:
            controls.append(Slider(0, MAX_GUIDANCE, value=sketch_guidance, step=0.25, elem_id=f"{button_id}-sketch-guidance",
                                   label="Sketch guidance (of the first, coarse stage, where the shape is decided)"))
        if sketch_temperature is not None:
            controls.append(Slider(MIN_TEMPERATURE, MAX_TEMPERATURE, value=sketch_temperature, step=0.05,
                                   elem_id=f"{button_id}-sketch-temperature", label="Sketch temperature (of the coarse stage)"))
        seed = gr.Textbox(label="Seed (blank = random)", value="")
    return (count, temperature, seed, pace, go, stop, *controls)


def choice(choices: list, label: str, elem_id: str | None = None) -> gr.Dropdown:
    """A dropdown that starts at its first choice. It takes any value, so that a bad one sent
    through the API reaches the package's check and its message."""
    return gr.Dropdown(choices, value=choices[0] if choices else None, label=label, allow_custom_value=True, elem_id=elem_id)


def classes_and_settings(shelf, dataset) -> tuple:
    """A dataset picked -> its classes for the Class dropdown, and the drawing settings it starts at
    (guidance, sketch guidance, temperature, sketch temperature) for their sliders."""
    choices = shelf.class_names(dataset)
    settings = shelf.drawing_settings(dataset) if choices else (0.0, 0.0, 1.0, 1.0)
    return new_choices(choices), *(gr.Slider(value=value) for value in settings)


def new_choices(choices: list) -> gr.Dropdown:
    """A dropdown's update to other choices (another dataset's classes), at the first of them."""
    return gr.Dropdown(choices=choices, value=choices[0] if choices else None)


def belief_view(elem_id: str) -> gr.Image:
    """The chart beside a drawing: how sure the model was about the pixels it drew (before the
    first drawing, a placeholder that says so)."""
    return gr.Image(placeholder_chart(), label="How sure the model was about each pixel", type="pil", format="png", interactive=False,
                    elem_id=elem_id, height=190, show_label=False, buttons=[])  # the chart carries its own title


def drawing_view(label: str, canvas_id: str, belief_id: str, status_id: str) -> tuple[gr.Image, gr.Image, gr.State, gr.Markdown]:
    """A drawing tab's outputs: the grid (its name above it, so no label covers an image), and
    beside it the status line and the chart of how sure the model was; the state keeps the
    finished drawing, so that a click on the grid charts that pixel. -> (grid, chart, state, status)."""
    with gr.Row(equal_height=False, elem_classes=["drawing"]):
        with gr.Column(scale=3, min_width=280):
            gr.Markdown(f"**{label}**", elem_classes=["grid-label"])
            canvas = gr.Image(label=label, type="pil", format="png", interactive=False, elem_id=canvas_id, show_label=False,
                              buttons=[])  # no toolbar over the top row of images
        with gr.Column(scale=2, min_width=280):
            status = gr.Markdown(elem_id=status_id, elem_classes=["status"])
            belief = belief_view(belief_id)
    drawing = gr.State(time_to_live=DRAWING_KEPT)  # an API client's session never closes: its drawing goes after a while
    canvas.select(chart_clicked, drawing, [canvas, belief], api_name=False, queue=False)
    return canvas, belief, drawing, status


def chart_clicked(drawing, evt: gr.SelectData):
    """A click on a finished grid -> (the grid with that pixel outlined, the chart of that pixel); a message otherwise."""
    if drawing is None:
        raise refuse(f"Click a pixel of a finished drawing (one drawn in the last {DRAWING_KEPT // 60} minutes): wait for it to "
                     "finish, or draw again.")
    try:
        return drawing.chart_at(*evt.index)
    except ValueError as err:
        raise refuse(str(err)) from None


def wire(go: gr.Button, stop: gr.Button, fn, inputs: list, outputs: list, api_name: str) -> None:
    """Go streams fn's frames (up to DRAWINGS_AT_ONCE visitors' at a time: a drawing's thread only
    sleeps and renders, the shared engine draws) into outputs (..., grid, chart, drawing, status);
    Stop ends the drawing at its next frame and says where it stopped in the status line."""
    # always_last: a press while the drawing is still ending (Stop takes effect at its next frame) is run
    # once it has ended, instead of being dropped as Gradio's default ("once") drops it.
    go.click(stoppable(fn, api_name), inputs, outputs, api_name=api_name, concurrency_limit=DRAWINGS_AT_ONCE,
             concurrency_id="drawing", show_progress="hidden", trigger_mode="always_last")  # frames show progress
    stop.click(stop_pressed(api_name), None, None, api_name=False, queue=False)


def pen(size: int = 14) -> gr.Brush:
    """The drawing pads' brush: black (the page inverts dark-on-light drawings), about as thick,
    relative to a digit drawn across the pad, as MNIST's strokes; white to erase or draw light."""
    return gr.Brush(default_size=size, colors=["#000000", "#ffffff"], default_color="#000000", color_mode="fixed")


def picture_examples(rows: list, upload: gr.File, label: str, others: tuple = ()) -> gr.Examples:
    """Examples shown as thumbnails: a click fills a hidden picture with the example's path, which
    then fills the upload (and `others`, e.g. the dataset), as if the visitor had uploaded it."""
    picture = gr.Image(type="filepath", visible=False)
    return gr.Examples(rows, inputs=[picture, *others], outputs=[upload, *others], fn=lambda path, *rest: (path, *rest) if rest else path,
                       run_on_click=True, cache_examples=False, label=label, examples_per_page=12)


def clicked(evt: gr.SelectData) -> tuple[float, float]:
    """Where a picture was clicked: (x, y) in its own pixels."""
    return evt.index[0], evt.index[1]


def purpose(text: str, legend: bool = True) -> gr.Markdown:
    """A tab's first line: what it does, and (on a drawing tab) what the colours of a drawing mean."""
    return gr.Markdown(f"{text} {LEGEND}" if legend else text, elem_classes=["purpose"])
