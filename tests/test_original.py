"""The original PixelCNN (one stack of masked convolutions): exactly the dependencies its masks
allow, which leaves the blind spot above and to the right, and nothing from the future."""

import pytest
import torch

from pixelcnn.explain import dependency_map
from pixelcnn.models import GatedPixelCNN
from pixelcnn import load as load_saved
from pixelcnn.loader import kind_of as saved_kind
from pixelcnn.models import PixelCNN
from pixelcnn.sampling import sample

from .causality import H, W, conditioning, future_leaks, make_model, sees


def footprint(pad: int, first: bool) -> set:
    """(row, col) offsets of the inputs one masked layer reads: every row above, the pixels to the
    left, and (mask B, after the first layer) the pixel itself."""
    offsets = {(di, dj) for di in range(-pad, 0) for dj in range(-pad, pad + 1)}
    offsets |= {(0, dj) for dj in range(-pad, 0 if first else 1)}
    return offsets


def reach(layers: int, pad: int) -> set:
    """Offsets a stack of masked layers can see: the sum of their footprints (the residuals only
    add the offset (0, 0), which mask B already has)."""
    seen = footprint(pad, first=True)
    for _ in range(layers - 1):
        seen = {(a + c, b + d) for a, b in seen for c, d in footprint(pad, first=False)}
    return seen


def expected_sources(channels, target, layers, pad):
    """The sub-pixels a correct original PixelCNN connects to `target` = (channel, row, col)."""
    c, i, j = target
    offsets = reach(layers, pad)
    expected = torch.zeros(channels, H, W, dtype=torch.bool)
    for si in range(H):
        for sj in range(W):
            if (si - i, sj - j) in offsets:
                expected[:, si, sj] = True  # an earlier pixel: all of its colours
    expected[:c, i, j] = True  # this pixel: the colours before this one
    return expected


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("cond", [False, True])
def test_sees_exactly_what_its_masks_allow(channels, cond):
    model = make_model(channels, cond, kind=PixelCNN)
    assert future_leaks(model) == []
    kwargs = conditioning(model, 1)
    label, vector = (1, kwargs["cond"]) if cond else (None, None)
    gen = torch.Generator().manual_seed(4)
    for target in [(channels - 1, 4, 4), (0, 6, 2), (channels // 2, 3, 8), (0, 0, 0)]:
        seen = torch.zeros(channels, H, W, dtype=torch.bool)
        for _ in range(3):  # a few inputs: a ReLU can hide a connection for one of them
            x = torch.randint(0, 8, (1, channels, H, W), generator=gen)
            seen |= dependency_map(model, x, target[1], target[2], target[0], label=label, cond=vector) > 0
        assert torch.equal(seen, expected_sources(channels, target, layers=4, pad=1)), target


def test_the_blind_spot_and_the_gated_model_without_it():
    # Four layers of 3x3 masks: one row up, the prediction reaches one pixel to the right and no
    # further, though the rows above reach four to the right; the Gated PixelCNN sees them all.
    original, gated = make_model(1, kind=PixelCNN), make_model(1)
    target = (0, 5, 3)
    assert sees(original, target, (0, 4, 4)) and not sees(original, target, (0, 4, 5))
    assert sees(original, target, (0, 3, 5)) and sees(original, target, (0, 1, 7))
    assert sees(gated, target, (0, 4, 5)) and sees(gated, target, (0, 4, 7))
    blind = ~expected_sources(1, target, 4, 1)[0] & (torch.arange(H)[:, None] < 5) & (torch.arange(H)[:, None] >= 1)
    assert blind.sum() > 0  # causal-past pixels inside its reach of rows that it cannot see


def test_same_interface_as_the_gated_model(tmp_path):
    torch.manual_seed(0)
    config = dict(image_channels=3, image_size=[H, W], levels=16, hidden_channels=6, num_layers=2, kernel_size=3, num_classes=3,
                  class_names=["cat", "dog", "emu"], cond_dim=2, cond_dropout=0.2)
    original, gated = PixelCNN(**config), GatedPixelCNN(**config)
    x = torch.randint(0, 16, (2, 3, H, W))
    labels, cond = torch.tensor([2, 0]), torch.randn(2, 2)
    assert original(x, labels, cond).shape == gated(x, labels, cond).shape == (2, 16, 3, H, W)
    assert original.bits_per_dim(x, labels, cond).shape == (2,) and original.guidable
    original.save_pretrained(tmp_path / "original")
    gated.save_pretrained(tmp_path / "gated")
    assert saved_kind(tmp_path / "original") is PixelCNN and saved_kind(tmp_path / "gated") is GatedPixelCNN
    loaded = load_saved(tmp_path / "original")
    assert loaded.class_names == ["cat", "dog", "emu"]
    assert torch.equal(original.eval()(x, labels, cond), loaded(x, labels, cond))
    # No incremental sampler: drawn one pass per sub-pixel, and the same whichever method is asked.
    drawn = sample(loaded, 2, labels=torch.tensor([0, 1]), cond=cond, seed=3, guidance=1.0)
    assert torch.equal(drawn, sample(loaded, 2, labels=torch.tensor([0, 1]), cond=cond, seed=3, guidance=1.0, method="naive"))


def test_multiply_adds_count_the_weights_the_masks_leave():
    model = PixelCNN(hidden_channels=4, num_layers=2, kernel_size=3, levels=8)
    # first layer: 4 taps (3 above, 1 left) x 1 x 4; second: 5 taps x 4 x 4; head: 4 x 4 + 4 x 8
    assert model.multiply_adds_per_pixel() == 4 * 4 + 5 * 16 + 16 + 32
    gated = GatedPixelCNN(hidden_channels=4, num_layers=1, kernel_size=3, levels=8)
    # to 8 gate maps: vertical 2x3, horizontal 1x2 less the current pixel (mask A); the 8x8 link,
    # the skip (no residual: last layer), the head
    assert gated.multiply_adds_per_pixel() == 6 * 8 + 1 * 8 + 64 + 16 + 16 + 32
