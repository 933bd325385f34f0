"""A stopped run's model, saved from its checkpoint as a finished run would save it:

    pixelcnn export runs/portraits          # -> runs/portraits/model (EMA weights, card, samples)

A run stopped before its end (killed, or a machine taken back) leaves only checkpoint.pt; this
writes its model/ folder (save_pretrained, training.json, the card with the full test evaluation)
from the checkpoint's EMA weights (its final weights when it trained without EMA), without
training further (the card's hardware line is the exporting machine's). `pixelcnn train --resume`
with the same folder still continues the run.
"""

import dataclasses
import json
from pathlib import Path

import torch

from pixelcnn.training.loop import finish, start
from pixelcnn.training.options import Options, command_line
from pixelcnn.training.trainset import load_data
from pixelcnn.training.world import setup_world


def stopped_options(folder: Path) -> tuple[Options, int]:
    """A run folder -> (the options it trained with, the step its checkpoint holds)."""
    checkpoint = folder / "checkpoint.pt"
    if not checkpoint.is_file():
        raise SystemExit(f"pixelcnn export: no {checkpoint}; pass the folder a run wrote (the --out of pixelcnn train).")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)  # our own file: tensors and plain values only
    return Options(**json.loads(state["options"])), state["step"]


def export(folder: Path, command: str) -> Path:
    """Write folder/model from folder/checkpoint.pt -> that model folder. command: this command, for the card."""
    trained, step = stopped_options(folder)
    opts = dataclasses.replace(trained, out=str(folder), resume=True, compile=False, push_to_hub="")
    world = setup_world(opts.threads)
    d = load_data(opts.dataset, opts.folder, opts.image_size, opts.channels, opts.conditioning)
    run, _ = start(opts, world, d, max(1, len(d.train_y) // opts.batch_size))
    finish(run, d, command_line(trained), exported=f"stopped at step {step}, saved with `{command}`")
    return folder / "model"
