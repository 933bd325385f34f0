"""The studio: the web page around the library (Gradio). Request checks and messages, frames and
pace, belief charts, inspect views, and a module per tab; `app.py` at the repository root builds
it and launches it. Nothing in the library imports from here."""

from pixelcnn.studio.page import build, launch
from pixelcnn.studio.shelf import MODELS, load_models

__all__ = ["MODELS", "build", "launch", "load_models"]
