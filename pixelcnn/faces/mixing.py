"""Identity vectors between two faces: points on the great circle of unit embeddings, and the
check that a model is fed the embeddings it was trained on."""

import torch


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


def check_embedding(model, name: str) -> None:
    """A model conditioned on one encoder's embeddings must not be fed another's."""
    if model.cond_dim == 0:
        raise ValueError("this model is not conditioned on a face embedding.")
    if model.cond_name != name:
        raise ValueError(f"this model was trained on {model.cond_name!r} embeddings, not {name!r}.")
