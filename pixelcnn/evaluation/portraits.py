"""Portrait models: do their samples look like the person whose face embedding they were drawn
from? Identity rate against the nearest training photo, the real photos' rate as the ceiling,
chance as the floor, and the unconditional twin beside it."""

import json
from pathlib import Path

import numpy as np
import torch

from pixelcnn import data as datasets
from pixelcnn.faces import EMBEDDING, FaceEncoder, check_embedding
from pixelcnn.pictures.writing import save_grid
from pixelcnn.loader import load
from pixelcnn.sampling import sample
from pixelcnn.training.metrics import mean_loss
from pixelcnn.evaluation.realism import frechet
from pixelcnn.evaluation.sweeps import best_of, settings
from pixelcnn.training.trainset import load_data


def portrait_data(name: str, size: int) -> datasets.ImageDataset:
    """The dataset at the model's size with each photo's own face embedding, as training saw it."""
    return load_data(name, conditioning="face", image_size=size)


def identity_rates(model, encoder, d: datasets.ImageDataset, per_person: int, seed: int, keywords: dict | None = None,
                   batch: int = 80, keep_layout: bool = False) -> dict:
    """Identity rate of a portrait model's samples drawn with the sampler's `keywords` (or, for an
    unconditional model, of samples matched against the same list of people: the chance level),
    and of the real held-out photos. keep_layout (two-stage models): each sample's sketch is its
    held-out photo's own, not drawn."""
    reference = encoder.embed_small(d.train_x)  # (N_train, 512)

    def nearest_person(embedded: torch.Tensor) -> np.ndarray:
        return d.train_y[torch.cdist(embedded, reference).argmin(1).numpy()]

    wanted = np.repeat(d.test_y, per_person)
    cond = torch.from_numpy(d.test_cond).repeat_interleave(per_person, 0)
    sketches = None
    if keep_layout:
        sketches = model.sketch_of(torch.from_numpy(datasets.quantize(d.test_x, model.levels))).repeat_interleave(per_person, 0)
    chunks = []
    for k, part in enumerate(cond.split(batch)):
        layout = {} if sketches is None else {"sketch": sketches[k * batch : k * batch + len(part)]}
        chunks.append(sample(model, len(part), cond=part if model.cond_dim else None, seed=seed + k, **(keywords or {}), **layout))
    samples = datasets.dequantize(torch.cat(chunks).numpy(), model.levels)
    drawn, real = encoder.embed_small(samples), encoder.embed_small(d.test_x)
    # Realism of faces: the Fréchet distance of the face encoder's embeddings to the training photos',
    # at equal counts (each held-out person's first sample), beside the held-out photos' own (the floor).
    first = drawn[::per_person].double().numpy()
    return {
        "samples": samples,
        "sample_rate": float((nearest_person(drawn) == wanted).mean()),
        "real_rate": float((nearest_person(real) == d.test_y).mean()),
        "chance": 1 / len(np.unique(d.train_y)),
        "frechet": frechet(first, reference.double().numpy()),
        "frechet_floor": frechet(real.double().numpy(), reference.double().numpy()),
        # The model's bits/dim on its own drawings (beside its held-out bits/dim: far higher means off the data's typical set).
        "drawn_bpd": mean_loss(model, samples, None, cond.numpy() if model.cond_dim else None),
    }


def evaluate_portraits(args, model) -> list[str]:
    check_embedding(model, EMBEDDING)
    d = portrait_data(args.dataset, model.image_size[-1])
    encoder = FaceEncoder()
    bpd = mean_loss(model, d.test_x, d.test_y, d.test_cond)
    rates = {s: identity_rates(model, encoder, d, args.per_class, args.seed, s.keywords(model)) for s in settings(args, model)}
    best = best_of(rates, lambda r: r["sample_rate"])
    people = len(np.unique(d.test_y))
    lines = [
        f"- Held-out bits/dim, conditioned on each held-out photo's own embedding: **{bpd:.4f}** ({len(d.test_y)} photos)",
        f"- Identity rate of the samples ({args.per_class} samples from each of the {people} held-out embeddings, seed {args.seed}; "
        f"chance {100 * rates[best]['chance']:.1f}%). The real held-out photos at "
        f"{model.image_size[-1]}x{model.image_size[-1]}, embedded the same way: {100 * rates[best]['real_rate']:.1f}% (the ceiling).",
        "",
        f"- Realism of faces: the Fréchet distance between the face encoder's embeddings of {people} samples (one a person) and "
        f"of the training photos; the {people} held-out photos' own: {rates[best]['frechet_floor']:.3f} (the floor).",
        "",
        f"- Bits/dim of drawings: the model's own bits/dim on its samples, beside its held-out {bpd:.3f}.",
        "",
        "| setting | new pose: identity rate | Fréchet (faces) | bits/dim of drawings |"
        + (" keep the photo's layout: identity rate | Fréchet (faces) | bits/dim of drawings |" if model.STAGED else ""),
        "|---|---|---|---|" + ("---|---|---|" if model.STAGED else ""),
    ]
    found = {"test_bpd": bpd, "identity_rate": {s.key: r["sample_rate"] for s, r in rates.items()}, "best": best.key,
             "drawn_bpd": {s.key: r["drawn_bpd"] for s, r in rates.items()},
             "frechet": {s.key: r["frechet"] for s, r in rates.items()}, "frechet_floor": rates[best]["frechet_floor"]}
    for s, r in rates.items():
        bold = "**" if s == best else ""
        row = f"| {s.key} | {bold}{100 * r['sample_rate']:.1f}%{bold} | {r['frechet']:.3f} | {r['drawn_bpd']:.3f} |"
        if model.STAGED:  # each held-out photo's own sketch, the detail drawn from its embedding
            kept = identity_rates(model, encoder, d, args.per_class, args.seed, s.keywords(model), keep_layout=True)
            found.setdefault("keep_layout_identity_rate", {})[s.key] = kept["sample_rate"]
            found.setdefault("keep_layout_drawn_bpd", {})[s.key] = kept["drawn_bpd"]
            row += f" {100 * kept['sample_rate']:.1f}% | {kept['frechet']:.3f} | {kept['drawn_bpd']:.3f} |"
        lines.append(row)
    lines.append("")
    print(json.dumps(found))
    if args.twin:
        twin = load(args.twin)
        twin_bpd = mean_loss(twin, d.test_x)
        twin_rates = identity_rates(twin, encoder, d, args.per_class, args.seed)
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
    lines.append(f"\n![held-out photo, then samples from its embedding at {best.key}](identity.png)")
    return lines
