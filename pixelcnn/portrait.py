"""New portraits of the person in a photo, from a PixelCNN conditioned on face embeddings.

    python -m pixelcnn.portrait PHOTO -n 8 -o out.png [--model assets/portraits] [--seed 0]
"""

import argparse
from pathlib import Path

import torch

from .faces import FaceEncoder
from .images import save_grid
from .model import GatedPixelCNN
from .sampling import sample

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "assets" / "portraits"


def slerp(cond_a: torch.Tensor, cond_b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Points on the great circle from a (t = 0) to b (t = 1): (S, D) unit vectors.

    cond_a, cond_b: (D,) vectors (normalised here); t: (S,) fractions of the way.
    """
    a, b = cond_a / cond_a.norm(), cond_b / cond_b.norm()
    angle = torch.arccos((a @ b).clamp(-1.0, 1.0))
    t = torch.as_tensor(t, dtype=a.dtype).reshape(-1, 1)
    if angle < 1e-6:
        return a.expand(len(t), -1).clone()
    path = (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)
    return path / path.norm(dim=1, keepdim=True)


def interpolate(cond_a: torch.Tensor, cond_b: torch.Tensor, steps: int) -> torch.Tensor:
    """Embeddings evenly spaced along the great circle from a to b, both ends included:
    (steps, D) unit vectors. cond_a, cond_b: (D,) vectors (normalised here); steps >= 2."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}.")
    return slerp(cond_a, cond_b, torch.linspace(0, 1, steps))


def check_embedding(model: GatedPixelCNN, name: str) -> None:
    """A model conditioned on one encoder's embeddings must not be fed another's."""
    if model.cond_dim == 0:
        raise ValueError("this model is not conditioned on a face embedding.")
    if model.cond_name != name:
        raise ValueError(f"this model was trained on {model.cond_name!r} embeddings, not {name!r}.")


def load(location):
    """A portrait model (one or two stages) from a folder or Hub location, checked against our face encoder."""
    from .faces import EMBEDDING
    from .original import load_saved

    model = load_saved(location)
    check_embedding(model, EMBEDDING)
    return model


def portraits(model: GatedPixelCNN, embedding: torch.Tensor, n: int, seed=None, temperature: float = 1.0) -> torch.Tensor:
    """(D,) embedding -> (n, C, H, W) new images of that person."""
    return sample(model, n, cond=embedding[None].expand(n, -1).contiguous(), seed=seed, temperature=temperature)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pixelcnn.portrait", description=__doc__.strip().splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("-n", type=int, default=8, help="how many portraits (default: 8)")
    parser.add_argument("-o", "--out", default="portraits.png")
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="a saved portrait model folder or Hub repo id")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        model = load(args.model)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    try:
        embedding, _ = FaceEncoder()(args.photo)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    images = portraits(model, embedding[0], args.n, seed=args.seed, temperature=args.temperature)
    save_grid(images, model.levels, Path(args.out), columns=min(args.n, 8), scale=3)
    print(f"wrote {args.n} portraits to {args.out}")


if __name__ == "__main__":
    main()
