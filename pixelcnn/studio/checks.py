"""A request's values checked at the edge: each control's number in range, a class, an upload,
or a ValueError with one sentence that names the control, what was sent and what to do."""

import math

from PIL import Image

from pixelcnn.pictures.reading import open_picture

MAX_IMAGES = 16
MAX_TEMPERATURE = 3.0
MIN_TEMPERATURE = 0.05
MAX_GUIDANCE = 10.0
MIN_UPLOAD_SIDE = 8  # smaller pictures hold too little to complete, encode or classify
NEW_POSE = "New pose: drawn from the face alone"
KEEP_LAYOUT = "Keep my photo's layout: its own 8x8 sketch, detail from the face"
LAYOUTS = (NEW_POSE, KEEP_LAYOUT)


def number(value, control: str, low: float, high: float, whole: bool = False, hint: str = "", allowed: str = "") -> float:
    """A request's value for the control labelled `control` -> a number in [low, high], or a
    ValueError that names the control, the allowed values, what was sent and what to do."""
    try:
        parsed = float(value)
    except (TypeError, ValueError, OverflowError):
        parsed = float("nan")
    if math.isfinite(parsed) and low <= parsed <= high and (not whole or parsed == int(parsed)):
        return int(parsed) if whole else parsed
    allowed = allowed or (f"a whole number from {low:g} to {high:g}" if whole else f"a number from {low:g} to {high:g}")
    sent = repr(value) if isinstance(value, str) else f"{value}"
    raise ValueError(f"{control} must be {allowed}, not {sent}{'; ' + hint if hint else ''}.")


def parse_count(count, control: str = "Images") -> int:
    return number(count, control, 1, MAX_IMAGES, whole=True, hint="move its slider")


def parse_temperature(temperature, control: str = "Temperature") -> float:
    return number(temperature, control, MIN_TEMPERATURE, MAX_TEMPERATURE, hint="1.0 samples the model as trained")


def default_guidance(folder: str, model, defaults: dict) -> float:
    """The guidance the page starts at for the model saved in `folder` (0 when it cannot guide)."""
    return defaults.get(folder, 0.0) if model.guidable else 0.0


def parse_guidance(guidance, model, control: str = "Guidance") -> float:
    value = number(guidance, control, 0, MAX_GUIDANCE, hint="0 is off; higher values follow the class or person more closely")
    if value and not model.guidable:
        raise ValueError(f"This model was trained without conditioning dropout, so it cannot be guided; set {control} to 0.")
    return value


def parse_seed(seed) -> int | None:
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return None
    return number(seed, "Seed", 0, 2**63 - 1, whole=True, allowed="a whole number of 0 or more", hint="leave it blank for a random one")


def class_index(model, name, dataset: str) -> int:
    """A class name as the page or an API caller sends it (the digit 7 as "7" or 7) -> its label."""
    if isinstance(name, (int, float)) and not isinstance(name, bool) and math.isfinite(name) and name == int(name):
        name = str(int(name))
    if name in model.class_names:
        return model.class_names.index(name)
    raise ValueError(f"{dataset} has no class {name!r}; choose a Class from: {', '.join(model.class_names)}.")


def parse_sketch_guidance(guidance, model) -> float | None:
    """The Sketch guidance control -> the sketch stage's guidance (None for a one-stage model)."""
    if not model.STAGED:
        return None
    return parse_guidance(guidance, model.sketch, "Sketch guidance")


def parse_mix(mix) -> float:
    return number(mix, "Mix", 0, 1, hint="0 is the first person, 1 the second")


def parse_layout(layout, model) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"Layout must be one of: {'; '.join(LAYOUTS)}; not {layout!r}.")
    if layout == KEEP_LAYOUT and not model.STAGED:
        raise ValueError("The portrait model on this server has no sketch stage, so it cannot keep a photo's layout; pick the new pose.")
    return layout


def open_upload(path) -> Image.Image:
    """A visitor's uploaded file -> a still picture in one form (`pictures.open_picture`), or a
    ValueError that says what to do."""
    return open_picture(path, "image", MIN_UPLOAD_SIDE)


def stage_settings(model, guidance, temperature, sketch_guidance=None, sketch_temperature=None) -> dict:
    """The Guidance, Temperature, Sketch guidance and Sketch temperature controls, checked -> `frames.Ask`'s
    keywords. Left out (None), a sketch stage's guidance and temperature are the detail stage's."""
    guidance, temperature = parse_guidance(guidance, model), parse_temperature(temperature)
    sketch_guidance = parse_sketch_guidance(guidance if sketch_guidance is None else sketch_guidance, model)
    sketch_temperature = parse_temperature(sketch_temperature, "Sketch temperature") if sketch_temperature is not None else temperature
    return dict(guidance=guidance, temperature=temperature, sketch_guidance=sketch_guidance,
                sketch_temperature=sketch_temperature if model.STAGED else None)
