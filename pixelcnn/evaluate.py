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
from PIL import Image
import torch.nn.functional as F
from safetensors.torch import load_file, save_file, save_model
from torch import nn

from . import data as datasets
from .cards import sample_grid, write_card_section
from .explain import SURE, calibration_error, class_log_likelihoods, class_probabilities, fit_temperature, softmax
from .images import model_input
from .hub import fetch
from .metrics import mean_loss
from .model import PixelCNNBase
from .original import load_saved
from .sampling import sample
from .trainset import load_data
from .twostage import TwoStagePixelCNN


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


CLEAR = 0.9  # a sample is "clearly" its class when the judge gives that class at least this probability


@torch.no_grad()
def judge(classifier: DigitClassifier, images_uint8) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, classes) the classifier's probabilities."""
    x = to_unit(images_uint8)
    return torch.cat([classifier(chunk).softmax(1) for chunk in x.split(500)]).numpy()


def predict(classifier: DigitClassifier, images_uint8) -> np.ndarray:
    return judge(classifier, images_uint8).argmax(1)


def stage_guidance(model, guidance: float, detail_guidance: float) -> dict:
    """The sampler's guidance keywords: a two-stage model's swept guidance is its sketch stage's,
    its detail stage held at `detail_guidance`; a one-stage model's is its only one."""
    if isinstance(model, TwoStagePixelCNN):
        return {"sketch_guidance": guidance, "guidance": detail_guidance}
    return {"guidance": guidance}


def sample_class_accuracy(model: PixelCNNBase, classifier, per_class: int, seed: int, batch: int = 250, guidance: float = 0.0,
                          temperature: float = 1.0, detail_guidance: float = 0.0):
    """(share of samples the classifier puts in their conditioning class, per class, the share it
    gives their class with p >= CLEAR)."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    images = torch.cat([sample(model, len(chunk), labels=chunk, seed=seed + k, temperature=temperature,
                               **stage_guidance(model, guidance, detail_guidance))
                        for k, chunk in enumerate(labels.split(batch))])
    probs = judge(classifier, datasets.dequantize(images.numpy(), model.levels))
    hits = probs.argmax(1) == labels.numpy()
    clear = probs[np.arange(len(labels)), labels.numpy()] >= CLEAR
    return hits.mean(), hits.reshape(model.num_classes, per_class).mean(1), clear.mean()


def bayes_accuracy(model: PixelCNNBase, d: datasets.ImageDataset, images: int, seed: int) -> float:
    """Share of `images` held-out test images (a seeded draw) whose most likely class by Bayes,
    argmax_c p(x | c), is their own."""
    picked = np.random.default_rng(seed).permutation(len(d.test_y))[:images]
    x = torch.from_numpy(datasets.quantize(d.test_x[picked], model.levels))
    guesses = [int(class_probabilities(model, x[k : k + 1]).argmax()) for k in range(len(picked))]
    return float((np.array(guesses) == d.test_y[picked]).mean())


def page_form(model, pictures) -> torch.Tensor:
    """Pictures (PIL images, or (H, W) uint8 arrays) -> (N, C, H, W) model ints, each brought into
    the model's form the way the page brings an upload (`images.model_input`)."""
    arrays = [model_input(p if isinstance(p, Image.Image) else Image.fromarray(p), model.image_channels, tuple(model.image_size),
                          model.dataset) for p in pictures]
    return torch.from_numpy(datasets.quantize(np.stack(arrays), model.levels))


def log_likelihood_table(model, x: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) ints -> (N, K) log p(x | c) in nats."""
    return np.stack([class_log_likelihoods(model, x[k : k + 1]) for k in range(len(x))])


def calibrate(model, d: datasets.ImageDataset, images: int, seed: int) -> tuple[float, list[str], dict]:
    """Fit the classifier's temperature on `images` held-out test images (a seeded draw, brought
    into the page's form) and measure the expected calibration error on as many others, before
    and after -> (temperature, card lines, figures)."""
    picked = np.random.default_rng(seed).permutation(len(d.test_y))[: 2 * images]
    x = page_form(model, d.test_x[picked, 0])
    table, labels = log_likelihood_table(model, x), d.test_y[picked]
    fit, check = slice(0, images), slice(images, 2 * images)
    temperature = fit_temperature(table[fit], labels[fit])
    before, after = softmax(table[check]), softmax(table[check], temperature)
    right = after.argmax(1) == labels[check]
    sure = after.max(1) >= SURE
    figures = {"temperature": temperature, "ece_before": calibration_error(before, labels[check]),
               "ece_after": calibration_error(after, labels[check]), "accuracy": float(right.mean()),
               "sure_share": float(sure.mean()), "accuracy_when_sure": float(right[sure].mean()) if sure.any() else float("nan"),
               "accuracy_when_not_sure": float(right[~sure].mean()) if (~sure).any() else float("nan")}
    lines = [
        f"- Calibration of the model as a classifier: temperature **{temperature:.1f}** on its class log-likelihoods, fitted on "
        f"{images} held-out test images in the page's form (seed {seed}); on {images} other held-out images the expected calibration "
        f"error goes from {100 * figures['ece_before']:.1f}% (plain Bayes) to **{100 * figures['ece_after']:.1f}%**. "
        f"Accuracy {100 * figures['accuracy']:.1f}%; it answers with p >= {SURE} on {100 * figures['sure_share']:.0f}% of them and is "
        f"right on {100 * figures['accuracy_when_sure']:.1f}% of those, against {100 * figures['accuracy_when_not_sure']:.1f}% below "
        f"{SURE} (where the page says it is not sure).",
    ]
    return temperature, lines, figures


def read_drawn(model, folder: Path) -> tuple[list[str], dict]:
    """The model's reading of the drawn-digit set (pictures named ...-<label>.png) through the
    page's upload path -> (card lines, figures)."""
    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise SystemExit(f"--drawn {folder}: no PNG files there.")
    labels = np.array([model.class_names.index(p.stem.rsplit("-", 1)[1]) for p in paths])
    probs = np.stack([class_probabilities(model, page_form(model, [Image.open(p)])) for p in paths])
    right = probs.argmax(1) == labels
    sure = probs.max(1) >= SURE
    figures = {"drawn_accuracy": float(right.mean()), "drawn_wrong_top_p": [round(float(q), 3) for q in probs.max(1)[~right]],
               "drawn_not_sure": int((~sure).sum()), "drawn_wrong_and_sure": int((~right & sure).sum())}
    lines = [f"- Drawn digits (`{folder}`, {len(paths)} held-out digits redrawn as a pad makes them, read through the page's upload path): "
             f"read right **{100 * right.mean():.0f}%**; wrong {int((~right).sum())}, of which {figures['drawn_wrong_and_sure']} with "
             f"p >= {SURE}; the page says \"not sure\" on {figures['drawn_not_sure']}."]
    return lines, figures


def portrait_data(name: str, size: int) -> datasets.ImageDataset:
    """The dataset at the model's size with each photo's own face embedding, as training saw it."""
    return load_data(name, conditioning="face", image_size=size)


def identity_rates(model: PixelCNNBase, encoder, d: datasets.ImageDataset, per_person: int, seed: int, temperature: float = 1.0,
                   batch: int = 80, guidance: float = 0.0, detail_guidance: float = 0.0, keep_layout: bool = False) -> dict:
    """Identity rate of a portrait model's samples (or, for an unconditional model, of samples
    matched against the same list of people: the chance level), and of the real held-out photos.
    keep_layout (two-stage models): each sample's sketch is its held-out photo's own, not drawn."""
    reference = encoder.embed_small(d.train_x)  # (N_train, 512)

    def nearest_person(images_uint8) -> np.ndarray:
        return d.train_y[torch.cdist(encoder.embed_small(images_uint8), reference).argmin(1).numpy()]

    wanted = np.repeat(d.test_y, per_person)
    cond = torch.from_numpy(d.test_cond).repeat_interleave(per_person, 0)
    sketches = None
    if keep_layout:
        sketches = model.sketch_of(torch.from_numpy(datasets.quantize(d.test_x, model.levels))).repeat_interleave(per_person, 0)
    chunks = []
    for k, part in enumerate(cond.split(batch)):
        layout = {} if sketches is None else {"sketch": sketches[k * batch : k * batch + len(part)]}
        chunks.append(sample(model, len(part), cond=part if model.cond_dim else None, seed=seed + k, temperature=temperature,
                             **stage_guidance(model, guidance if model.cond_dim else 0.0, detail_guidance if model.cond_dim else 0.0), **layout))
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
    rates = {w: identity_rates(model, encoder, d, args.per_class, args.seed, args.temperature, guidance=w,
                               detail_guidance=args.detail_guidance) for w in sweep(args, model)}
    best = best_of({w: r["sample_rate"] for w, r in rates.items()})
    two_stage = isinstance(model, TwoStagePixelCNN)
    people = len(np.unique(d.test_y))
    lines = [
        f"- Held-out bits/dim, conditioned on each held-out photo's own embedding: **{bpd:.4f}** ({len(d.test_y)} photos)",
        f"- Identity rate of the samples ({args.per_class} samples from each of the {people} held-out embeddings, seed {args.seed}, "
        f"temperature {args.temperature}; chance {100 * rates[best]['chance']:.1f}%). The real held-out photos at "
        f"{model.image_size[-1]}x{model.image_size[-1]}, embedded the same way: {100 * rates[best]['real_rate']:.1f}% (the ceiling).",
        "",
        f"| {'sketch guidance (detail ' + format(args.detail_guidance, 'g') + ')' if two_stage else 'guidance'} | identity rate |",
        "|---|---|",
        *[f"| {w:g} | {'**' if w == best else ''}{100 * r['sample_rate']:.1f}%{'**' if w == best else ''} |" for w, r in rates.items()],
        "",
    ]
    found = {"test_bpd": bpd, "identity_rate": {str(w): r["sample_rate"] for w, r in rates.items()}, "best_guidance": best}
    if two_stage:
        kept = identity_rates(model, encoder, d, args.per_class, args.seed, args.temperature, detail_guidance=args.detail_guidance,
                              keep_layout=True)
        found["keep_layout_identity_rate"] = kept["sample_rate"]
        lines.append(f"- Keep the photo's layout (each held-out photo's own {'x'.join(map(str, model.sketch.image_size))} sketch, the "
                     f"detail drawn from its embedding, detail guidance {args.detail_guidance:g}): identity rate **{100 * kept['sample_rate']:.1f}%**")
    print(json.dumps(found))
    if args.twin:
        twin = load_saved(Path(args.twin)).eval()
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
    if args.calibrate:
        model.classifier_temperature, calibration_lines, figures = calibrate(model, d, args.calibrate, args.seed)
        lines += calibration_lines
        found.update(figures)
    if args.drawn:
        drawn_lines, figures = read_drawn(model, Path(args.drawn))
        lines += drawn_lines
        found.update(figures)
    if args.bayes_images:
        found["bayes_accuracy"] = bayes_accuracy(model, d, args.bayes_images, args.seed)
        lines.append(f"- The model as a classifier (Bayes, argmax over classes of p(x | class), equal priors): **{100 * found['bayes_accuracy']:.1f}%** "
                     f"of {args.bayes_images} held-out test images (seed {args.seed})")
    if not args.per_class:
        print(json.dumps(found))
        return lines + [""]
    classifier = train_classifier(d)
    classifier_acc = float((predict(classifier, d.test_x) == d.test_y).mean())
    results = {w: sample_class_accuracy(model, classifier, args.per_class, args.seed, guidance=w, temperature=args.temperature,
                                        detail_guidance=args.detail_guidance) for w in sweep(args, model)}
    best = best_of({w: acc for w, (acc, _, _) in results.items()})
    two_stage = isinstance(model, TwoStagePixelCNN)
    swept = f"the sketch stage's guidance (the detail stage's held at {args.detail_guidance:g})" if two_stage else "classifier-free guidance w"
    lines += [
        f"- Sample class accuracy ({args.per_class} samples per class, seed {args.seed}, temperature {args.temperature}), by {swept}; "
        f"clear: the judge gives the asked class p >= {CLEAR}; the judging classifier's own test accuracy: {100 * classifier_acc:.1f}%",
        "",
        f"| {'sketch guidance' if two_stage else 'guidance'} | sample class accuracy | clear | per class (" + ", ".join(model.class_names) + ") |",
        "|---|---|---|---|",
        *[f"| {w:g} | {'**' if w == best else ''}{100 * acc:.1f}%{'**' if w == best else ''} | {100 * clear:.1f}% | "
          + ", ".join(f"{100 * a:.0f}" for a in per_class) + " |" for w, (acc, per_class, clear) in results.items()],
        "",
    ]
    print(json.dumps({**found, "sample_class_accuracy": {str(w): float(acc) for w, (acc, _, _) in results.items()},
                      "clear_share": {str(w): float(clear) for w, (_, _, clear) in results.items()},
                      "best_guidance": best, "classifier_test_accuracy": classifier_acc}))
    return lines


def load_final_weights(model, folder: Path) -> None:
    """Load a run's last weights before averaging (its checkpoint.pt, beside the saved folder)
    into model; weights_only, so nothing but tensors and plain values is unpickled."""
    checkpoint = folder.parent / "checkpoint.pt"
    if not checkpoint.exists():
        raise SystemExit(f"--weights final needs the run's checkpoint at {checkpoint}.")
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])


def save_config_value(folder: Path, key: str, value) -> None:
    """Set one key of a saved model's config.json (a two-stage model's: of its detail model, which reads the image)."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    (config["detail"] if "detail" in config else config)[key] = value
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


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
    parser.add_argument("--detail-guidance", type=float, default=0.0,
                        help="two-stage models: the detail stage's guidance while --guidance sweeps the sketch stage's (default: 0)")
    parser.add_argument("--calibrate", type=int, default=0, help="class models: fit the classifier's temperature on this many held-out "
                        "test images, measure its calibration error on as many others, and (with --write-card) save it in config.json")
    parser.add_argument("--drawn", default="", help="class models: a folder of drawn digits (PNG files named ...-<class>.png) to read "
                        "through the page's upload path")
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
        if args.calibrate:
            save_config_value(Path(args.model), "classifier_temperature", model.classifier_temperature)


if __name__ == "__main__":
    main()
