"""Portrait models: do their samples look like the person whose face embedding they were drawn
from? Identity rate against the nearest training photo, the real photos' rate as the ceiling,
chance as the floor, and the unconditional twin beside it."""

from pathlib import Path

import numpy as np
import torch

from pixelcnn import data as datasets
from pixelcnn.faces import EMBEDDING, FaceEncoder, check_embedding
from pixelcnn.images import save_grid
from pixelcnn.loader import load
from pixelcnn.sampling import sample
from pixelcnn.training.judge import stage_guidance
from pixelcnn.training.metrics import mean_loss
from pixelcnn.training.sweeps import best_of, sweep
from pixelcnn.training.trainset import load_data


def portrait_data(name: str, size: int) -> datasets.ImageDataset:
    """The dataset at the model's size with each photo's own face embedding, as training saw it."""
    return load_data(name, conditioning="face", image_size=size)


def identity_rates(model, encoder, d: datasets.ImageDataset, per_person: int, seed: int, temperature: float = 1.0,
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


def evaluate_portraits(args, model) -> list[str]:
    check_embedding(model, EMBEDDING)
    d = portrait_data(args.dataset, model.image_size[-1])
    encoder = FaceEncoder()
    bpd = mean_loss(model, d.test_x, d.test_y, d.test_cond)
    rates = {w: identity_rates(model, encoder, d, args.per_class, args.seed, args.temperature, guidance=w,
                               detail_guidance=args.detail_guidance) for w in sweep(args, model)}
    best = best_of({w: r["sample_rate"] for w, r in rates.items()})
    two_stage = model.STAGED
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
        twin = load(args.twin)
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
