"""The two-stage (sketch, then detail) PixelCNN: causality, the map, bits/dim, save/load, sampling."""

import math

import pytest
import torch

from pixelcnn.models import GatedPixelCNN
from pixelcnn import load as load_saved
from pixelcnn.sampling import sample, sample_stages, sample_stream
from pixelcnn.models import TwoStagePixelCNN


def two_stage(classes=3, cond_dim=0, channels=1, size=(8, 12), dropout=0.2, dtype=torch.float32):
    torch.manual_seed(0)
    model = TwoStagePixelCNN.build(4, 8, image_channels=channels, image_size=list(size), levels=16, hidden_channels=6 * channels,
                                   num_layers=3, kernel_size=3, num_classes=classes, cond_dim=cond_dim, cond_dropout=dropout)
    for p in model.parameters():  # large enough that the logits are far from uniform
        torch.nn.init.normal_(p, std=0.4)
    return model.to(dtype).eval()


def test_the_detail_model_is_causal_in_the_image_and_sees_the_whole_map():
    model = two_stage(dtype=torch.float64)
    x = torch.randint(0, 16, (1, 1, 8, 12))
    labels = torch.tensor([1])
    cond_map = model.cond_map_of(model.sketch_of(x))
    base = model.detail(x, labels, None, cond_map)
    row, col = 3, 5
    future = x.clone()
    future[0, 0, row, col:] = (future[0, 0, row, col:] + 7) % 16  # this pixel and the rest of its row
    future[0, 0, row + 1 :] = (future[0, 0, row + 1 :] + 5) % 16  # and every row below
    moved = model.detail(future, labels, None, cond_map)
    # Exactly equal before (row, col) in raster order, however the future changed.
    flat_base, flat_moved = base[0, :, 0].flatten(1), moved[0, :, 0].flatten(1)
    assert torch.equal(flat_base[:, : row * 12 + col + 1], flat_moved[:, : row * 12 + col + 1])
    # The map is conditioning, known in full: a change in the bottom-right cell reaches the top-left pixel.
    other_sketch = model.sketch_of(x).clone()
    other_sketch[0, 0, -1, -1] = (other_sketch[0, 0, -1, -1] + 4) % 8
    changed = model.detail(x, labels, None, model.cond_map_of(other_sketch))
    assert not torch.equal(changed[0, :, 0, 0, 0], base[0, :, 0, 0, 0])


def test_bits_per_dim_is_the_sum_of_both_stages_over_the_image():
    model = two_stage()
    x = torch.randint(0, 16, (3, 1, 8, 12))
    labels = torch.tensor([0, 2, 1])
    sketch = model.sketch_of(x)
    assert sketch.shape == (3, 1, 2, 3) and sketch.max() < 8
    # The sketch is each 4x4 cell's mean intensity on the sketch's 8 levels.
    cell_mean = x[0, 0, :4, :4].double().mean()
    assert sketch[0, 0, 0, 0] == math.floor(cell_mean * 8 / 16)
    with torch.no_grad():
        sketch_bits = model.sketch.bits_per_dim(sketch, labels) * sketch[0].numel()
        detail_bits = model.detail.bits_per_dim(x, labels, None, model.cond_map_of(sketch)) * x[0].numel()
        total = model.bits_per_dim(x, labels)
    torch.testing.assert_close(total, (sketch_bits + detail_bits) / x[0].numel())
    assert torch.all(total > detail_bits / x[0].numel())  # the sketch costs bits on top of the detail


def test_the_sketch_changes_the_drawing_and_a_given_sketch_is_kept():
    model = two_stage()
    a = torch.zeros(2, 1, 2, 3, dtype=torch.long)
    b = torch.full((2, 1, 2, 3), 7, dtype=torch.long)
    draw_a = sample(model, 2, labels=1, seed=4, sketch=a)
    draw_b = sample(model, 2, labels=1, seed=4, sketch=b)
    assert not torch.equal(draw_a, draw_b)
    stages = [stage for stage, *_ in sample_stages(model, 2, labels=1, seed=4, sketch=a, every=12)]
    assert set(stages) == {"detail"}  # a given sketch is not drawn again
    with pytest.raises(ValueError, match="sketch must be"):
        sample(model, 2, labels=1, sketch=torch.zeros(2, 1, 3, 3, dtype=torch.long))


@pytest.mark.parametrize("guidance", [0.0, 1.5])
def test_cached_equals_naive_through_both_stages(guidance):
    model = two_stage()
    cached = sample(model, 3, labels=torch.tensor([0, 1, 2]), seed=2, guidance=guidance, sketch_guidance=2.0)
    naive = sample(model, 3, labels=torch.tensor([0, 1, 2]), seed=2, guidance=guidance, sketch_guidance=2.0, method="naive")
    assert torch.equal(cached, naive)


def test_each_stage_draws_at_its_own_temperature():
    model = two_stage()
    labels = torch.tensor([0, 1, 2])
    both = sample(model, 3, labels=labels, seed=5, sketch_temperature=0.5, temperature=1.5)
    sketches = [c for stage, c, *_ in sample_stages(model, 3, labels=labels, seed=5, sketch_temperature=0.5, temperature=1.5,
                                                     every=1 << 30) if stage == "sketch"]
    # The sketch is the sketch stage's own draw at its temperature; the detail, drawn over it at the other.
    assert torch.equal(sketches[-1], sample(model.sketch, 3, labels=labels, seed=5, temperature=0.5))
    assert torch.equal(both, sample(model, 3, labels=labels, seed=5, sketch=sketches[-1], temperature=1.5))
    assert not torch.equal(sketches[-1], sample(model.sketch, 3, labels=labels, seed=5, temperature=1.5))
    # Left out, the sketch temperature is the detail's.
    assert torch.equal(sample(model, 3, labels=labels, seed=5, temperature=1.5),
                       sample(model, 3, labels=labels, seed=5, sketch_temperature=1.5, temperature=1.5))


def test_stages_stream_the_sketch_first_then_the_detail():
    model = two_stage(classes=0, cond_dim=4)
    cond = torch.randn(2, 4)
    frames = list(sample_stages(model, 2, cond=cond, seed=1, every=24, sketch_every=2))
    stages = [stage for stage, *_ in frames]
    assert stages == ["sketch"] * stages.count("sketch") + ["detail"] * stages.count("detail") and stages.count("sketch") >= 3
    assert frames[-1][1].shape == (2, 1, 8, 12) and frames[0][1].shape == (2, 1, 2, 3)
    # The detail stage drew over the sketch the stream showed: it equals sample() with that sketch given.
    last_sketch = [canvas for stage, canvas, *_ in frames if stage == "sketch"][-1]
    assert torch.equal(frames[-1][1], sample(model, 2, cond=cond, seed=1, sketch=last_sketch))
    assert torch.equal(frames[-1][1], sample(model, 2, cond=cond, seed=1))
    with pytest.raises(TypeError, match="sample_stages"):
        next(sample_stream(model, 2, cond=cond))


def test_a_completion_keeps_its_rows_and_the_sketch_cells_they_cover():
    """Known rows: the sketch cells they cover in full are kept, the rest of the sketch is drawn from
    them first, then the detail keeps the rows exactly."""
    model = two_stage()
    labels = torch.tensor([0, 1, 2])
    known = torch.randint(0, 16, (3, 1, 8, 12), generator=torch.Generator().manual_seed(3))
    mask = torch.zeros_like(known, dtype=torch.bool)
    mask[:, :, :6] = True  # rows 0-5: sketch row 0 (image rows 0-3) in full, sketch row 1 (rows 4-7) in part
    kept = model.known_sketch(known, mask)
    sketch_known, sketch_mask = kept["known"], kept["known_mask"]
    assert sketch_mask[:, :, 0].all() and not sketch_mask[:, :, 1:].any() and model.known_sketch(None, None) == {}
    frames = list(sample_stages(model, 3, labels=labels, seed=6, known=known, known_mask=mask, every=1 << 30, sketch_every=1 << 30))
    sketch, drawn = frames[0][1], frames[-1][1]
    assert torch.equal(sketch[:, :, 0], model.sketch_of(known)[:, :, 0])
    assert torch.equal(drawn[:, :, :6], known[:, :, :6])
    # Each stage is the one-stage sampler with its known pixels: the sketch's from the rows, the detail's over that sketch.
    assert torch.equal(sketch, sample(model.sketch, 3, labels=labels, seed=6, known=sketch_known, known_mask=sketch_mask))
    assert torch.equal(drawn, sample(model, 3, labels=labels, seed=6, sketch=sketch, known=known, known_mask=mask))
    assert torch.equal(drawn, sample(model, 3, labels=labels, seed=6, known=known, known_mask=mask, method="naive"))


def test_no_condition_draws_from_the_unconditional_branch():
    model = two_stage()
    none = sample(model, 2, no_condition=True, seed=3)
    assert none.shape == (2, 1, 8, 12)
    # The same as asking the detail stage for "none" rows with the same sketch.
    sketch = sample(model.sketch, 2, no_condition=True, seed=3)
    detail = sample(model.detail, 2, no_condition=True, seed=4, cond_map=model.cond_map_of(sketch).detach())
    assert torch.equal(none, detail)
    with pytest.raises(ValueError, match="nothing to guide"):
        sample(model, 2, no_condition=True, guidance=1.0)
    with pytest.raises(ValueError, match="no unconditional branch"):
        sample(two_stage(dropout=0.0), 2, no_condition=True)


def test_saved_and_loaded_as_one(tmp_path):
    model = two_stage(channels=3, classes=2)
    model.save_pretrained(tmp_path / "m")
    loaded = load_saved(tmp_path / "m")
    assert isinstance(loaded, TwoStagePixelCNN) and loaded.factor == 4 and loaded.sketch.levels == 8
    x = torch.randint(0, 16, (2, 3, 8, 12))
    labels = torch.tensor([1, 0])
    torch.testing.assert_close(loaded.bits_per_dim(x, labels), model.bits_per_dim(x, labels), rtol=0, atol=0)
    assert loaded.class_names == ["0", "1"] and loaded.image_size == [8, 12] and loaded.guidable


def test_a_single_stage_model_starts_the_detail_stage_exactly():
    torch.manual_seed(1)
    single = GatedPixelCNN(image_size=[8, 8], levels=16, hidden_channels=6, num_layers=2, kernel_size=3, num_classes=3).eval()
    model = TwoStagePixelCNN.build(4, 8, image_size=[8, 8], levels=16, hidden_channels=6, num_layers=2, kernel_size=3, num_classes=3).eval()
    model.start_detail_from(single.state_dict())
    x = torch.randint(0, 16, (2, 1, 8, 8))
    labels = torch.tensor([2, 0])
    torch.testing.assert_close(model.detail(x, labels, None, model.cond_map_of(model.sketch_of(x))), single(x, labels))
    with pytest.raises(ValueError, match="do not fit"):
        model.start_detail_from({k: v for k, v in single.state_dict().items() if "head_out" not in k})


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="multiple of the sketch factor"):
        TwoStagePixelCNN.build(4, 8, image_size=[10, 8])
    with pytest.raises(ValueError, match="factor must be at least 2"):
        TwoStagePixelCNN(factor=1)
    model = two_stage()
    with pytest.raises(ValueError, match="makes its own map"):
        model(torch.zeros(1, 1, 8, 12, dtype=torch.long), torch.tensor([0]), None, torch.zeros(1, 16, 8, 12))


def test_the_loss_trains_both_stages():
    model = two_stage().train()
    x = torch.randint(0, 16, (4, 1, 8, 12))
    loss = model.bits(x, model(x, torch.tensor([0, 1, 2, 0]))).mean()
    loss.backward()
    for part in (model.sketch, model.detail, model.map):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_a_map_of_the_conditioning_joins_the_detail_stage_as_the_model_it_continues(tmp_path):
    """--cond-map with --sketch: the detail stage reads m(h) beside the sketch's map. From weights
    without one, every layer keeps its sketch inputs and the model draws exactly as before; a
    step of training moves the map; drawn through both stages, cached equals naive."""
    from pixelcnn.training.build import load_init
    before = two_stage(classes=0, cond_dim=4)
    before.save_pretrained(tmp_path / "before")
    torch.manual_seed(3)
    after = TwoStagePixelCNN.build(4, 8, image_size=[8, 12], levels=16, hidden_channels=6, num_layers=3, kernel_size=3, cond_dim=4,
                                   cond_dropout=0.2, vector_map_channels=3)
    assert after.detail.vector_map_channels == 3 and after.sketch.vector_map is None
    assert after.detail.layers[0].cond_map.in_channels == 16 + 3
    load_init(after, str(tmp_path / "before"))
    after.eval()
    x, cond = torch.randint(0, 16, (2, 1, 8, 12)), torch.randn(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(after.bits_per_dim(x, cond=cond), before.bits_per_dim(x, cond=cond))
    after.train()
    after.bits(x, after(x, None, cond)).mean().backward()
    assert after.detail.vector_map[-1].weight.grad.abs().sum() > 0  # the map can learn: its inputs to the layers are not all zero
    for p in after.parameters():
        torch.nn.init.normal_(p, std=0.4)
    after.eval()
    conds = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    cached = sample(after, 3, cond=conds, seed=4, guidance=1.5)
    assert torch.equal(cached, sample(after, 3, cond=conds, seed=4, guidance=1.5, method="naive"))
    after.save_pretrained(tmp_path / "after")
    assert load_saved(tmp_path / "after").detail.vector_map_channels == 3
