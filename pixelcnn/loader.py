"""`pixelcnn.load(location)`: a saved model of any kind, from a folder or a Hub location, as the
class its config.json names (`_class_name`, written by every model's `save_pretrained`)."""

import json
from pathlib import Path

from pixelcnn.hub import fetch
from pixelcnn.models import KINDS
from pixelcnn.models.saved import CLASS_KEY


def local_folder(location: str | Path, revision: str | None = None) -> Path:
    """A save_pretrained folder as it is, or a Hub location (org/repo[/subfolder]) fetched into the
    local Hub cache -> the folder that holds config.json and model.safetensors."""
    return Path(location) if Path(location).is_dir() else fetch(str(location), revision)


def kind_of(folder: Path) -> type:
    """The model class a saved folder's config.json names, or a ValueError that says what is wrong."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ValueError(f"{folder} holds no config.json: it is not a saved pixelcnn model (save one with save_pretrained).")
    name = json.loads(config_path.read_text()).get(CLASS_KEY)
    if name not in KINDS:
        said = f"names the kind {name!r}" if name else f"names no kind ({CLASS_KEY})"
        raise ValueError(f"the config.json in {folder} {said}; this pixelcnn loads {', '.join(KINDS)}. "
                         "Save the model again with this version's save_pretrained.")
    return KINDS[name]


def load(location: str | Path, revision: str | None = None):
    """A saved model (a folder or a Hub location) -> the right class, its weights loaded from
    safetensors (nothing is unpickled), in eval mode."""
    folder = local_folder(location, revision)
    return kind_of(folder).from_pretrained(folder).eval()
