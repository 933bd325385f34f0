"""Evaluate a class-conditional model: test bits/dim and sample class accuracy.

    python -m pixelcnn.evaluate assets/mnist --dataset mnist [--per-class 100] [--write-card]

Sample class accuracy: draw `per-class` samples of every class and count how many a small CNN,
trained on the same training split, assigns to the class they were conditioned on. The
classifier's own test accuracy is printed beside it (and bounds what the number can mean).
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from . import data as datasets
from .model import GatedPixelCNN
from .sampling import sample
from .train import evaluate_bpd


class DigitClassifier(nn.Module):
    """A small CNN: (B, C, H, W) floats in [0, 1] -> (B, classes) logits."""

    def __init__(self, channels: int, classes: int, size: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * (size // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x):
        return self.head(self.features(x))


def to_unit(images) -> torch.Tensor:
    return torch.as_tensor(np.asarray(images), dtype=torch.float32) / 255.0


def train_classifier(d: datasets.ImageDataset, epochs: int = 4, seed: int = 0) -> DigitClassifier:
    """Trained on the dataset's training split (cached by dataset name and size)."""
    channels, size, _ = d.image_shape
    path = datasets.cache_dir() / "classifiers" / f"{d.name}-{len(d.train_y)}-e{epochs}-s{seed}.safetensors"
    model = DigitClassifier(channels, len(d.class_names), size)
    if path.exists():
        model.load_state_dict(load_file(path))
        return model.eval()
    torch.manual_seed(seed)
    x, y = to_unit(d.train_x), torch.as_tensor(d.train_y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(128):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), path)
    return model.eval()


@torch.no_grad()
def predict(classifier: DigitClassifier, images_uint8) -> np.ndarray:
    x = to_unit(images_uint8)
    return torch.cat([classifier(chunk).argmax(1) for chunk in x.split(500)]).numpy()


def sample_class_accuracy(model: GatedPixelCNN, classifier, per_class: int, seed: int, batch: int = 250):
    """Share of samples the classifier puts in their conditioning class, overall and per class."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    images = torch.cat([sample(model, len(chunk), labels=chunk, seed=seed + k) for k, chunk in enumerate(labels.split(batch))])
    as_uint8 = datasets.dequantize(images.numpy(), model.levels)
    hits = predict(classifier, as_uint8) == labels.numpy()
    return hits.mean(), hits.reshape(model.num_classes, per_class).mean(1)


def write_card_section(folder: Path, text: str) -> None:
    """Put `text` under '## Evaluation' in the model card, replacing an earlier one."""
    card = folder / "README.md"
    old = card.read_text() if card.exists() else ""
    old = re.sub(r"\n## Evaluation\n.*?(?=\n## |\Z)", "", old, flags=re.S)
    card.write_text(old.rstrip() + "\n\n## Evaluation\n" + text.rstrip() + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pixelcnn.evaluate", description=__doc__.strip().splitlines()[0])
    parser.add_argument("model", help="a folder written by save_pretrained, or a Hub repo id")
    parser.add_argument("--dataset", required=True, choices=sorted(datasets.WAYS))
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-card", action="store_true", help="write the results into the model card")
    args = parser.parse_args(argv)

    model = GatedPixelCNN.from_pretrained(args.model).eval()
    d = datasets.load_dataset(args.dataset)
    if model.class_names != d.class_names:
        raise SystemExit(f"the model's classes {model.class_names} are not {args.dataset}'s {d.class_names}.")
    start = time.time()
    bpd = evaluate_bpd(model, d.test_x, d.test_y, model.levels, "cpu")
    classifier = train_classifier(d)
    classifier_acc = float((predict(classifier, d.test_x) == d.test_y).mean())
    acc, per_class = sample_class_accuracy(model, classifier, args.per_class, args.seed)
    minutes = (time.time() - start) / 60
    command = "python -m pixelcnn.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        f"- Command: `{command}` ({minutes:.1f} min)",
        f"- Test bits/dim: **{bpd:.4f}** ({len(d.test_y)} test images, source: {d.source})",
        f"- Sample class accuracy: **{100 * acc:.1f}%** ({args.per_class} samples per class, seed {args.seed}); "
        f"the classifier's own test accuracy: {100 * classifier_acc:.1f}%",
        "- Per class: " + ", ".join(f"{name} {100 * a:.0f}%" for name, a in zip(model.class_names, per_class)),
    ]
    print("\n".join(lines))
    print(json.dumps({"test_bpd": bpd, "sample_class_accuracy": float(acc), "classifier_test_accuracy": classifier_acc}))
    if args.write_card:
        write_card_section(Path(args.model), "\n".join(lines))


if __name__ == "__main__":
    main()
