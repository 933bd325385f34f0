"""Evaluate a saved model and write what was measured into its card.

    pixelcnn evaluate assets/mnist --dataset mnist [--per-class 20] [--guidance 0,1,2] [--temperature 0.9,1] [--write-card]
    pixelcnn evaluate assets/portraits --dataset orl-faces --twin RUN/model [--write-card]

Class models, their drawings at every setting of guidance and temperature: class accuracy by a
small CNN trained on the same training split (its own test accuracy printed beside it), realism
and variety against held-out images, and the model's bits/dim on its own drawings; the setting
the page should start at (`training.quality`).
Class models as classifiers, Bayes accuracy: on `--bayes-images` held-out test images, how often
the class with the highest p(x | c) (equal priors) is the image's own class.
Portrait models: see `training.portraits`. Auto-encoders: see `training.autoencoders`.
"""

import json
import time
from pathlib import Path

import torch
from safetensors.torch import save_model

from pixelcnn import data as datasets
from pixelcnn.loader import local_folder, load
from pixelcnn.evaluation.autoencoders import evaluate_autoencoder
from pixelcnn.evaluation.calibration import calibrate, fit_surprise, read_drawn, read_others
from pixelcnn.evaluation.cards import sample_grid, write_card_section
from pixelcnn.evaluation.completion import completion_lines
from pixelcnn.evaluation.judge import bayes_accuracy, predict, train_classifier
from pixelcnn.training.metrics import mean_loss
from pixelcnn.evaluation.portraits import evaluate_portraits
from pixelcnn.evaluation.quality import chosen, measure, realism_count, table
from pixelcnn.evaluation.sweeps import settings

SAMPLES_PER_CLASS = 2  # in the samples.png rewritten with a folder's final weights
COMPLETIONS = 8  # completions of each held-out image, as the Complete tab draws them


def evaluate_classes(args, model) -> list[str]:
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
    if args.surprise:
        model.surprise_limit, surprise_lines, figures = fit_surprise(model, d, args.surprise, args.seed)
        lines += surprise_lines
        found.update(figures)
    for folder, read in ((args.drawn, read_drawn), (args.others, read_others)):
        if folder:
            read_lines, figures = read(model, Path(folder))
            lines += read_lines
            found.update(figures)
    if args.bayes_images:
        found["bayes_accuracy"] = bayes_accuracy(model, d, args.bayes_images, args.seed)
        lines.append(f"- The model as a classifier (Bayes, argmax over classes of p(x | class), equal priors): **{100 * found['bayes_accuracy']:.1f}%** "
                     f"of {args.bayes_images} held-out test images (seed {args.seed})")
    if args.complete:
        completion, figures = completion_lines(model, train_classifier(d), d, args.complete, args.keep_rows, COMPLETIONS,
                                               settings(args, model), args.seed)
        lines += completion
        found.update(figures)
    if not args.per_class:
        print(json.dumps(found))
        return lines + [""]
    classifier = train_classifier(d)
    classifier_acc = float((predict(classifier, d.test_x) == d.test_y).mean())
    qualities = [measure(model, classifier, d, setting, args.per_class, args.seed) for setting in settings(args, model)]
    pick = chosen(qualities)
    lines += [
        f"- Drawings at each setting ({args.per_class} a class, seed {args.seed}; realism and variety on the first "
        f"{realism_count(args.per_class, d.test_y)} of each class against held-out images), judged by a small CNN trained on the "
        f"same training split (its own test accuracy: {100 * classifier_acc:.1f}%). Held-out bits/dim for comparison: {bpd:.4f}.",
        "",
        *table(qualities, pick, model.class_names),
        "",
    ]
    if args.real_sketches and model.STAGED:
        detail_settings = {(q.setting.detail_guidance, q.setting.temperature): q.setting for q in qualities}.values()
        alone = [measure(model, classifier, d, setting, args.per_class, args.seed, real_sketches=True) for setting in detail_settings]
        found["real_sketches"] = [q.summary() for q in alone]
        lines += [f"- The detail stage alone, drawn over the sketches of {args.per_class} training images a class (what a perfect "
                  "sketch stage would give; the gap to the table above is the sketch stage's part):", "",
                  *table(alone, None, model.class_names, rule=False), ""]
    print(json.dumps({**found, "settings": [q.summary() for q in qualities], "chosen": pick.setting.key if pick else None,
                      "classifier_test_accuracy": classifier_acc}))
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


def evaluate(args, command: str) -> None:
    """Run `pixelcnn evaluate` as parsed in `args`; command: the command line, for the card."""
    model = load(local_folder(args.model))
    if type(model).__name__ in ("PixelCNNAutoEncoder", "MSEAutoEncoder"):
        return evaluate_autoencoder(args, model, command)
    if args.weights == "final":
        load_final_weights(model, Path(args.model))
    start = time.time()
    lines = evaluate_portraits(args, model) if model.cond_dim else evaluate_classes(args, model)
    lines.insert(0, f"- Command: `{command}` ({(time.time() - start) / 60:.1f} min)")
    if args.weights == "final":
        lines.insert(1, "- Weights: the run's final weights, before averaging (`--weights final`)"
                     + ("; written into this folder's model.safetensors with this card" if args.write_card else ""))
    print("\n".join(lines))
    if args.write_card:
        if args.weights == "final":  # the card describes the weights beside it, and so do its samples
            save_model(model, str(Path(args.model) / "model.safetensors"))
            if not model.cond_dim:
                sample_grid(model, SAMPLES_PER_CLASS, args.seed, Path(args.model) / "samples.png")
        write_card_section(Path(args.model), "\n".join(lines), args.card_section)
        if args.calibrate:
            save_config_value(Path(args.model), "classifier_temperature", model.classifier_temperature)
        if args.surprise:
            save_config_value(Path(args.model), "surprise_limit", model.surprise_limit)

