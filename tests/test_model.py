"""The Gated PixelCNN: exact causality, conditioning, bits/dim, save/load, and that it learns."""

import math

import pytest
import torch
import torch.nn.functional as F

from pixelcnn.models import GatedPixelCNN

from .causality import H, W, conditioning, future_leaks, make_model, sees

def must_see(channels, layers, pad):
    """(target, source) pairs a correct model must connect, for targets in the image's interior."""
    pairs = []
    for i in range(1, H):
        for j in range(W):
            for c in range(channels):
                t = (c, i, j)
                pairs.append((t, (c, i - 1, j)))  # directly above
                if j + 1 < W:
                    pairs.append((t, (c, i - 1, j + 1)))  # above right: the old blind spot
                if j + pad * layers < W:
                    pairs.append((t, (c, i - 1, j + pad * layers)))  # the vertical stack's full width
                if j >= 1:
                    pairs.append((t, (c, i, j - 1)))  # left
                for earlier in range(c):
                    pairs.append((t, (earlier, i, j)))  # same pixel, earlier colour
    return pairs


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("cond", [False, True])
def test_exactly_causal(channels, cond):
    model = make_model(channels, cond)
    assert future_leaks(model) == []
    missing = [(t, s) for t, s in must_see(channels, 4, 1) if not sees(model, t, s)]
    assert missing == []


def test_receptive_field_reaches_far_rows_without_drift():
    # The first layer sees kernel_size//2 + 1 rows up, each later layer kernel_size//2 more:
    # with 4 layers of kernel 3, five rows up but not six.
    model = make_model(1, layers=4, kernel=3)
    assert sees(model, (0, 6, 4), (0, 1, 4))
    assert not sees(model, (0, 6, 4), (0, 0, 4))


def break_model(model, how):
    first = model.layers[0]
    if how == "mask A where B belongs":
        # Forbid each group from seeing its own group in every 1x1 of the horizontal stack.
        for layer in model.layers:
            for conv in filter(None, (layer.residual, layer.skip)):
                groups = torch.arange(conv.mask.shape[0]) * model.image_channels // conv.mask.shape[0]
                conv.mask.copy_((groups[:, None] > groups[None, :]).double())
    elif how == "first layer mask B":
        first.horizontal.mask.fill_(1.0)
    elif how == "no shift before the link":
        import pixelcnn.models.gated_layer as gated

        gated.down_shift, model._restore = (lambda v: v), gated.down_shift
    elif how == "head sees every colour":
        model.head_out.mask.fill_(1.0)
    return model


@pytest.mark.parametrize("how", ["first layer mask B", "no shift before the link", "head sees every colour"])
def test_causality_check_catches_leaks(how):
    model = break_model(make_model(3), how)
    try:
        assert future_leaks(model) != []
    finally:
        if hasattr(model, "_restore"):
            import pixelcnn.models.gated_layer as gated

            gated.down_shift = model._restore


def test_causality_check_catches_mask_a_on_the_1x1s():
    model = break_model(make_model(3), "mask A where B belongs")
    assert future_leaks(model) == []  # still causal, but G no longer sees the current R:
    assert not sees(model, (1, 3, 3), (0, 3, 3))


def test_masked_weights_get_no_gradient():
    model = make_model(3).train()
    x = torch.randint(0, 8, (2, 3, H, W))
    F.cross_entropy(model(x), x).backward()
    for conv in [model.layers[0].horizontal, model.layers[1].residual, model.head_out]:
        assert torch.all(conv.weight.grad[conv.mask.expand_as(conv.weight) == 0] == 0)
        assert conv.weight.grad.abs().sum() > 0


def test_every_layer_is_conditioned():
    model = make_model(1, cond=True)
    x = torch.randint(0, 8, (2, 1, H, W))
    kwargs = conditioning(model, 2)
    base = model(x, **kwargs)
    for layer in model.layers:
        with torch.no_grad():
            saved = layer.cond.weight.clone()
            layer.cond.weight.add_(1.0)
            changed = not torch.equal(model(x, **kwargs), base)
            layer.cond.weight.copy_(saved)
        assert changed


def test_conditioning_changes_the_first_pixel():
    model = make_model(1, cond=True)
    x = torch.zeros(2, 1, H, W, dtype=torch.long)
    out = model(x, labels=torch.tensor([0, 2]), cond=torch.zeros(2, 2, dtype=torch.double))
    assert not torch.allclose(out[0, :, 0, 0, 0], out[1, :, 0, 0, 0])
    out = model(x, labels=torch.tensor([1, 1]), cond=torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=torch.double))
    assert not torch.allclose(out[0, :, 0, 0, 0], out[1, :, 0, 0, 0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "pass labels"),
        ({"labels": torch.tensor([0, 3]), "cond": torch.zeros(2, 2)}, "labels must lie in"),
        ({"labels": torch.tensor([0]), "cond": torch.zeros(2, 2)}, "labels must be 2 integers"),
        ({"labels": torch.tensor([0, 1])}, "pass cond"),
        ({"labels": torch.tensor([0, 1]), "cond": torch.zeros(2, 5)}, r"cond must have shape \(2, 2\)"),
    ],
)
def test_bad_conditioning_raises(kwargs, message):
    model = make_model(1, cond=True)
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(2, 1, H, W, dtype=torch.long), **kwargs)


def test_unconditional_model_rejects_labels_and_bad_pixels():
    model = make_model(1)
    with pytest.raises(ValueError, match="not class-conditional"):
        model(torch.zeros(1, 1, H, W, dtype=torch.long), labels=torch.tensor([0]))
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        model(torch.full((1, 1, H, W), 8))


def test_float_input_matches_integers_and_carries_gradients():
    model = make_model(3)
    x = torch.randint(0, 8, (2, 3, H, W))
    scaled = model.scale(x).requires_grad_()
    assert scaled.min() >= -1 and scaled.max() <= 1
    assert model.scale(torch.tensor([0, 7])).tolist() == [-1.0, 1.0]
    assert torch.equal(model(x), model(scaled))
    model(scaled).sum().backward()
    assert scaled.grad.abs().sum() > 0


def test_bits_per_dim_by_hand():
    model = make_model(1, layers=1)
    x = torch.randint(0, 8, (2, 1, 2, 3))
    logits = model(x)  # (2, 8, 1, 2, 3)
    log_probs = torch.log_softmax(logits, dim=1)
    by_hand = torch.tensor(
        [-sum(log_probs[b, x[b, 0, i, j], 0, i, j].item() for i in range(2) for j in range(3)) / (6 * math.log(2)) for b in range(2)],
        dtype=torch.double,
    )
    assert torch.allclose(model.bits_per_dim(x), by_hand, atol=1e-12)


def test_zero_logits_give_log2_levels():
    model = GatedPixelCNN(levels=16, hidden_channels=4, num_layers=2, kernel_size=3).double()
    torch.nn.init.zeros_(model.head_out.weight)
    torch.nn.init.zeros_(model.head_out.bias)
    x = torch.randint(0, 16, (3, 1, 5, 4))
    assert torch.equal(model.bits_per_dim(x), torch.full((3,), 4.0, dtype=torch.double))


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = GatedPixelCNN(image_channels=3, hidden_channels=6, num_layers=2, kernel_size=3, num_classes=3, class_names=["cat", "dog", "emu"])
    model.save_pretrained(tmp_path)
    loaded = GatedPixelCNN.from_pretrained(tmp_path)
    assert loaded.class_names == ["cat", "dog", "emu"]
    x = torch.randint(0, 256, (2, 3, H, W))
    labels = torch.tensor([2, 0])
    assert torch.equal(model.eval()(x, labels), loaded.eval()(x, labels))
    assert (tmp_path / "model.safetensors").exists()


def test_class_names_are_stored_even_when_defaulted(tmp_path):
    GatedPixelCNN(hidden_channels=4, num_layers=1, kernel_size=3, num_classes=2).save_pretrained(tmp_path)
    assert GatedPixelCNN.from_pretrained(tmp_path).class_names == ["0", "1"]
    assert '"class_names": [\n    "0",' in (tmp_path / "config.json").read_text()


def test_a_few_seconds_of_training_learns_structure():
    """Stripes whose brightness is set by the label: given the label and the first pixel, the
    rest is nearly determined, so a model that learns must fall far below log2(levels)."""
    torch.manual_seed(0)
    levels, n = 16, 64
    labels = torch.randint(0, 4, (n,))
    rows = torch.arange(8)[None, :, None]
    x = ((labels[:, None, None] * 4 + rows) % levels).expand(n, 8, 8)[:, None].contiguous()
    model = GatedPixelCNN(levels=levels, hidden_channels=16, num_layers=3, kernel_size=3, num_classes=4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = model.bits_per_dim(x, labels).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # Uniform guessing costs log2(16) = 4 bits; a model that ignored all context could reach the
    # marginal entropy of the pixel values (about 3.9 bits here). Learning the rule beats both by far.
    marginal = torch.bincount(x.flatten(), minlength=levels).double() / x.numel()
    entropy = -(marginal[marginal > 0] * marginal[marginal > 0].log2()).sum().item()
    assert entropy > 3.5
    assert model.eval().bits_per_dim(x, labels).mean().item() < 0.25 * entropy
