"""Causality by experiment, for the model tests: a model's logits against changes of the pixels
before and after a sub-pixel, and small models to run it on."""

import torch

from pixelcnn.models import GatedPixelCNN

H, W = 7, 9  # non-square on purpose: catches crops that confuse height and width


def make_model(channels, cond=False, layers=4, kernel=3, hidden=None, seed=0, kind=GatedPixelCNN):
    torch.manual_seed(seed)
    model = kind(
        image_channels=channels,
        levels=8,
        hidden_channels=hidden or 8 * channels,
        num_layers=layers,
        kernel_size=kernel,
        num_classes=3 if cond else 0,
        cond_dim=2 if cond else 0,
    ).double()
    # Large random weights and small random biases: every path carries signal, and no ReLU in
    # the head is pushed dead for all inputs by its bias.
    for name, p in model.named_parameters():
        torch.nn.init.normal_(p, std=0.1 if name.endswith("bias") else 0.5)
    return model.eval()


def conditioning(model, batch):
    if not model.num_classes:
        return {}
    gen = torch.Generator().manual_seed(1)
    return {"labels": torch.full((batch,), 1), "cond": torch.randn(batch, 2, generator=gen, dtype=torch.double)}


def order(channels):
    """Every sub-pixel (channel, row, col) in raster order."""
    return [(c, i, j) for i in range(H) for j in range(W) for c in range(channels)]


def logits_at(model, x, subpixels):
    """logits[k] for sub-pixel k of batch item k: (N, levels)."""
    out = model(x, **conditioning(model, x.shape[0]))
    c, i, j = (torch.tensor(t) for t in zip(*subpixels))
    return out[torch.arange(len(subpixels)), :, c, i, j]


def future_leaks(model):
    """Sub-pixels whose logits move when it and every later sub-pixel change."""
    channels = model.image_channels
    subs = order(channels)
    gen = torch.Generator().manual_seed(2)
    base = torch.randint(0, 8, (1, channels, H, W), generator=gen).repeat(len(subs), 1, 1, 1)
    perturbed = base.clone()
    flat = perturbed.permute(0, 2, 3, 1).reshape(len(subs), -1)  # raster order (row, col, colour)
    for k in range(len(subs)):
        flat[k, k:] = (flat[k, k:] + 1 + torch.randint(0, 6, flat[k, k:].shape, generator=gen)) % 8
    # Written into a copy of `base`, so both have the same memory layout: another layout (even
    # another stride on a size-1 dimension) may pick another conv kernel with other rounding.
    perturbed = base.clone().copy_(flat.reshape(len(subs), H, W, channels).permute(0, 3, 1, 2))
    moved = (logits_at(model, base, subs) != logits_at(model, perturbed, subs)).any(dim=1)
    return [subs[k] for k in torch.nonzero(moved).flatten().tolist()]


def sees(model, target, source, tries=4):
    """Does changing sub-pixel `source` change the logits of sub-pixel `target`?

    Tried on a few random images: a ReLU in the head can hide a connection for one input.
    """
    channels = model.image_channels
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, 8, (tries, channels, H, W), generator=gen)
    y = x.clone()
    y[(slice(None),) + source] = (x[(slice(None),) + source] + 3) % 8
    out = model(torch.cat([x, y]), **conditioning(model, 2 * tries))[:, :, target[0], target[1], target[2]]
    return not torch.equal(out[:tries], out[tries:])


