"""Start a wider Gated PixelCNN from a narrower one's weights, as exactly that model (Net2Net's
idea, Chen et al. 2016): more feature channels for a stage, without throwing its training away.

Every hidden-sized dimension of a gated model is made of blocks of `hidden` channels (the
residual stream and skips: 1; a gate's pre-activations [tanh | sigmoid]: 2; the conditioning's
[vertical tanh | vertical sigmoid | horizontal tanh | horizontal sigmoid]: 4), and each block of
colour groups. The saved channels keep their place in their block and group; the new channels'
incoming weights keep their fresh initialisation and their outgoing weights start at zero, so
no new channel reaches the logits until training moves those weights, and the gradient does at
once (a new channel's output is not zero).
"""

import torch
from torch import nn

from pixelcnn.models.convs import channel_groups


def widened_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict for `model` from saved weights whose gated stages have as many or fewer
    hidden channels (the same options otherwise): the saved values at the new positions, the
    new channels' outgoing weights zero. Raises ValueError for any other difference in shape."""
    own = model.state_dict()
    if set(own) != set(weights):
        missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
        raise ValueError(f"the weights do not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]}).")
    stages = {prefix: stage for prefix, stage in stages_of(model)}
    out = {}
    for key, mine in own.items():
        saved = weights[key]
        if saved.shape == mine.shape:
            out[key] = saved
            continue
        prefix = max((p for p in stages if key.startswith(p)), key=len, default=None)
        if prefix is None or saved.dim() != mine.dim():
            raise ValueError(f"the weights do not fit this model ({key}: {tuple(saved.shape)} against {tuple(mine.shape)}).")
        stage = stages[prefix]
        old_hidden = weights[prefix + "head_hidden.weight"].shape[0]
        out[key] = widened(key, mine, saved, old_hidden, stage.hidden_channels, stage.image_channels)
    return out


def stages_of(model: nn.Module):
    """(key prefix, gated model) for the model and each gated stage inside it."""
    for name, module in model.named_modules():
        if hasattr(module, "hidden_channels") and hasattr(module, "head_hidden"):
            yield (name + "." if name else ""), module


def widened(key: str, mine: torch.Tensor, saved: torch.Tensor, old: int, new: int, colours: int) -> torch.Tensor:
    """One parameter: `mine` (freshly initialised, new shape) with the saved values copied to their
    new positions, and new input channels (dimension 1) zeroed."""
    if old % colours or new % colours or new < old:
        raise ValueError(f"{key}: cannot widen {old} hidden channels to {new} ({colours} colour groups).")
    out = mine.detach().clone()
    index = []
    for dim, (have, want) in enumerate(zip(saved.shape, mine.shape)):
        if have == want:
            index.append(torch.arange(want))
            continue
        blocks = have // old
        if have % old or want != blocks * new:
            raise ValueError(f"the weights do not fit this model ({key}: {tuple(saved.shape)} against {tuple(mine.shape)}).")
        index.append(new_positions(blocks, old, new, colours))
        if dim == 1:  # an input dimension: the new channels send nothing yet
            keep = torch.zeros(want, dtype=torch.bool)
            keep[index[-1]] = True
            out.index_fill_(1, (~keep).nonzero().flatten(), 0.0)
    out[torch.meshgrid(*index, indexing="ij")] = saved.to(out.dtype)
    return out


def new_positions(blocks: int, old: int, new: int, colours: int) -> torch.Tensor:
    """Where each of blocks * old channels goes among blocks * new: the same block, the same colour
    group, the same place in its group."""
    i = torch.arange(blocks * old)
    block, within = i // old, i % old
    group = channel_groups(old, colours)[within]  # the layers' own grouping of their channels
    place = within - group * (old // colours)
    return block * new + group * (new // colours) + place
