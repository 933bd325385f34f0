"""Evaluate a model: test bits/dim, and whether its samples are what they were conditioned on.

    python -m pixelcnn.evaluate assets/mnist --dataset mnist [--per-class 100] [--guidance 0,1,2] [--write-card]
    python -m pixelcnn.evaluate assets/portraits --dataset orl-faces --twin RUN/model [--write-card]

Class models, sample class accuracy: draw `per-class` samples of every class and count how many
a small CNN, trained on the same training split, assigns to the class they were conditioned on.
The classifier's own test accuracy is printed beside it (and bounds what the number can mean).

Class models as classifiers, Bayes accuracy: on `--bayes-images` held-out test images, how often
the class with the highest p(x | c) (equal priors) is the image's own class.

Portrait models, identity rate: draw `per-class` samples from each held-out photo's embedding,
embed them with the same face encoder, and count how often the nearest training photo (embedded
the same way) is of the person conditioned on; chance is one in the number of people. The same
rate for the real held-out photos at the model's size is the ceiling. `--twin` names the
unconditional model of the same size and budget, evaluated beside it.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file, save_model
from torch import nn

from . import data as datasets
from .cards import sample_grid, write_card_section
from .explain import class_probabilities
from .hub import fetch
from .metrics import mean_loss
from .model import GatedPixelCNN, PixelCNNBase
from .original import load_saved
from .sampling import sample
from .trainset import load_data


SAMPLES_PER_CLASS = 2  # in the samples.png rewritten with a folder's final weights


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


def sample_class_accuracy(model: PixelCNNBase, classifier, per_class: int, seed: int, batch: int = 250, guidance: float = 0.0,
                          temperature: float = 1.0):
    """Share of samples the classifier puts in their conditioning class, overall and per class."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    images = torch.cat([sample(model, len(chunk), labels=chunk, seed=seed + k, guidance=guidance, temperature=temperature)
                        for k, chunk in enumerate(labels.split(batch))])
    as_uint8 = datasets.dequantize(images.numpy(), model.levels)
    hits = predict(classifier, as_uint8) == labels.numpy()
    return hits.mean(), hits.reshape(model.num_classes, per_class).mean(1)


def bayes_accuracy(model: PixelCNNBase, d: datasets.ImageDataset, images: int, seed: int) -> float:
    """Share of `images` held-out test images (a seeded draw) whose most likely class by Bayes,
    argmax_c p(x | c), is their own."""
    picked = np.random.default_rng(seed).permutation(len(d.test_y))[:images]
    x = torch.from_numpy(datasets.quantize(d.test_x[picked], model.levels))
    guesses = [int(class_probabilities(model, x[k : k + 1]).argmax()) for k in range(len(picked))]
    return float((np.array(guesses) == d.test_y[picked]).mean())


def portrait_data(name: str, size: int) -> datasets.ImageDataset:
    """The dataset at the model's size with each photo's own face embedding, as training saw it."""
    return load_data(name, conditioning="face", image_size=size)


def identity_rates(model: PixelCNNBase, encoder, d: datasets.ImageDataset, per_person: int, seed: int, temperature: float = 1.0,
                   batch: int = 80, guidance: float = 0.0) -> dict:
    """Identity rate of a portrait model's samples (or, for an unconditional model, of samples
    matched against the same list of people: the chance level), and of the real held-out photos."""
    reference = encoder.embed_small(d.train_x)  # (N_train, 512)

    def nearest_person(images_uint8) -> np.ndarray:
        return d.train_y[torch.cdist(encoder.embed_small(images_uint8), reference).argmin(1).numpy()]

    wanted = np.repeat(d.test_y, per_person)
    cond = torch.from_numpy(d.test_cond).repeat_interleave(per_person, 0)
    chunks = []
    for k, part in enumerate(cond.split(batch)):
        chunks.append(sample(model, len(part), cond=part if model.cond_dim else None, seed=seed + k, temperature=temperature,
                             guidance=guidance if model.cond_dim else 0.0))
    samples = datasets.dequantize(torch.cat(chunks).numpy(), model.levels)
    return {
        "samples": samples,
        "sample_rate": float((nearest_person(samples) == wanted).mean()),
        "real_rate": float((nearest_person(d.test_x) == d.test_y).mean()),
        "chance": 1 / len(np.unique(d.train_y)),
    }


def sweep(args, model: PixelCNNBase) -> list[float]:
    """The guidance values to measure: all of --guidance for a model with an unconditional branch, else 0."""
    return args.guidance if model.guidable else [0.0]


def best_of(results: dict[float, float]) -> float:
    """The guidance with the highest score (the smallest among equals)."""
    return max(sorted(results), key=lambda w: results[w])


def evaluate_portraits(args, model: PixelCNNBase) -> list[str]:
    from .faces import EMBEDDING, FaceEncoder
    from .images import save_grid
    from .portrait import check_embedding

    check_embedding(model, EMBEDDING)
    d = portrait_data(args.dataset, model.image_size[-1])
    encoder = FaceEncoder()
    bpd = mean_loss(model, d.test_x, d.test_y, d.test_cond)
    rates = {w: identity_rates(model, encoder, d, args.per_class, args.seed, args.temperature, guidance=w) for w in sweep(args, model)}
    best = best_of({w: r["sample_rate"] for w, r in rates.items()})
    people = len(np.unique(d.test_y))
    lines = [
        f"- Held-out bits/dim, conditioned on each held-out photo's own embedding: **{bpd:.4f}** ({len(d.test_y)} photos)",
        f"- Identity rate of the samples ({args.per_class} samples from each of the {people} held-out embeddings, seed {args.seed}, "
        f"temperature {args.temperature}; chance {100 * rates[best]['chance']:.1f}%). The real held-out photos at "
        f"{model.image_size[-1]}x{model.image_size[-1]}, embedded the same way: {100 * rates[best]['real_rate']:.1f}% (the ceiling).",
        "",
        "| guidance | identity rate |",
        "|---|---|",
        *[f"| {w:g} | {'**' if w == best else ''}{100 * r['sample_rate']:.1f}%{'**' if w == best else ''} |" for w, r in rates.items()],
        "",
    ]
    print(json.dumps({"test_bpd": bpd, "identity_rate": {str(w): r["sample_rate"] for w, r in rates.items()}, "best_guidance": best}))
    if args.twin:
        twin = GatedPixelCNN.from_pretrained(args.twin).eval()
        twin_bpd = mean_loss(twin, d.test_x)
        twin_rates = identity_rates(twin, encoder, d, args.per_class, args.seed, args.temperature)
        lines.append(
            f"- The unconditional twin (same size, data and budget; `{args.twin}`): held-out bits/dim **{twin_bpd:.4f}**; "
            f"its samples land on the listed people {100 * twin_rates['sample_rate']:.1f}% of the time (the chance level, measured)."
        )
    if not args.write_card:
        return lines
    # A figure for the card: each row a held-out photo, then samples drawn from its embedding at the best guidance.
    rows, samples = min(8, people), rates[best]["samples"]
    shown = [np.concatenate([d.test_x[p : p + 1], samples[p * args.per_class : p * args.per_class + min(args.per_class, 7)]]) for p in range(rows)]
    save_grid(torch.from_numpy(datasets.quantize(np.concatenate(shown), model.levels)), model.levels, Path(args.model) / "identity.png",
              columns=len(shown[0]), scale=3)
    lines.append(f"\n![held-out photo, then samples from its embedding at guidance {best:g}](identity.png)")
    return lines


def evaluate_classes(args, model: PixelCNNBase) -> list[str]:
    d = datasets.load_dataset(args.dataset)
    if model.class_names != d.class_names:
        raise SystemExit(f"the model's classes {model.class_names} are not {args.dataset}'s {d.class_names}.")
    bpd = mean_loss(model, d.test_x, d.test_y)
    lines = [f"- Test bits/dim: **{bpd:.4f}** ({len(d.test_y)} test images, source: {d.source})"]
    found = {"test_bpd": bpd}
    if args.bayes_images:
        found["bayes_accuracy"] = bayes_accuracy(model, d, args.bayes_images, args.seed)
        lines.append(f"- The model as a classifier (Bayes, argmax over classes of p(x | class), equal priors): **{100 * found['bayes_accuracy']:.1f}%** "
                     f"of {args.bayes_images} held-out test images (seed {args.seed})")
    if not args.per_class:
        print(json.dumps(found))
        return lines + [""]
    classifier = train_classifier(d)
    classifier_acc = float((predict(classifier, d.test_x) == d.test_y).mean())
    results = {w: sample_class_accuracy(model, classifier, args.per_class, args.seed, guidance=w, temperature=args.temperature)
               for w in sweep(args, model)}
    best = best_of({w: acc for w, (acc, _) in results.items()})
    lines += [
        f"- Sample class accuracy ({args.per_class} samples per class, seed {args.seed}, temperature {args.temperature}), by classifier-free "
        f"guidance w; the judging classifier's own test accuracy: {100 * classifier_acc:.1f}%",
        "",
        "| guidance | sample class accuracy | per class (" + ", ".join(model.class_names) + ") |",
        "|---|---|---|",
        *[f"| {w:g} | {'**' if w == best else ''}{100 * acc:.1f}%{'**' if w == best else ''} | "
          + ", ".join(f"{100 * a:.0f}" for a in per_class) + " |" for w, (acc, per_class) in results.items()],
        "",
    ]
    print(json.dumps({**found, "sample_class_accuracy": {str(w): float(acc) for w, (acc, _) in results.items()},
                      "best_guidance": best, "classifier_test_accuracy": classifier_acc}))
    return lines


def load_final_weights(model, folder: Path) -> None:
    """Load a run's last weights before averaging (its checkpoint.pt, beside the saved folder)
    into model; weights_only, so nothing but tensors and plain values is unpickled."""
    checkpoint = folder.parent / "checkpoint.pt"
    if not checkpoint.exists():
        raise SystemExit(f"--weights final needs the run's checkpoint at {checkpoint}.")
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])


def command_line(argv) -> str:
    return "python -m pixelcnn.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)


def guidance_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--guidance takes numbers separated by commas, got {text!r}") from None
    if not values or any(not np.isfinite(w) or w < 0 for w in values):
        raise argparse.ArgumentTypeError(f"--guidance takes numbers of at least 0, got {text!r}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pixelcnn.evaluate", description=__doc__.strip().splitlines()[0])
    parser.add_argument("model", help="a folder written by save_pretrained, or a Hub repo id")
    parser.add_argument("--dataset", required=True, choices=sorted(datasets.WAYS))
    parser.add_argument("--per-class", type=int, default=100, help="samples per class, or per held-out person; 0: no samples (default: 100)")
    parser.add_argument("--bayes-images", type=int, default=0, help="class models: held-out test images to classify by Bayes with the "
                        "model's own likelihoods (default: 0, none)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)")
    parser.add_argument("--guidance", type=guidance_list, default=[0.0, 0.5, 1.0, 2.0, 3.0],
                        help="classifier-free guidance values to measure, comma-separated (default: 0,0.5,1,2,3); "
                        "a model trained without --cond-dropout is measured at 0 only")
    parser.add_argument("--twin", default="", help="portrait models: the unconditional twin to compare with")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", choices=["saved", "final"], default="saved",
                        help="saved: the folder's weights (a run's EMA); final: the run's last weights before averaging, from the "
                        "checkpoint.pt beside the folder; with --write-card they replace the folder's weights (default: saved)")
    parser.add_argument("--write-card", action="store_true", help="write the results into the model card")
    args = parser.parse_args(argv)

    model = load_saved(Path(args.model) if Path(args.model).is_dir() else fetch(args.model))
    if args.weights == "final":
        load_final_weights(model, Path(args.model))
    start = time.time()
    lines = evaluate_portraits(args, model) if model.cond_dim else evaluate_classes(args, model)
    lines.insert(0, f"- Command: `{command_line(argv)}` ({(time.time() - start) / 60:.1f} min)")
    if args.weights == "final":
        lines.insert(1, "- Weights: the run's final weights, before averaging (`--weights final`)"
                     + ("; written into this folder's model.safetensors with this card" if args.write_card else ""))
    print("\n".join(lines))
    if args.write_card:
        if args.weights == "final":  # the card describes the weights beside it, and so do its samples
            save_model(model, str(Path(args.model) / "model.safetensors"))
            if not model.cond_dim:
                sample_grid(model, SAMPLES_PER_CLASS, args.seed, Path(args.model) / "samples.png")
        write_card_section(Path(args.model), "\n".join(lines))


if __name__ == "__main__":
    main()
