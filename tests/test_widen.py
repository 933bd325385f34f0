"""A wider detail stage started from narrower weights is exactly the narrower model, and learns."""

import pytest
import torch

from pixelcnn.models import GatedPixelCNN, TwoStagePixelCNN
from pixelcnn.sampling import sample
from pixelcnn.training.build import build_model, load_init
from pixelcnn.training.options import Options
from pixelcnn.training.widen import widened_weights


def staged(detail_channels, channels=1, seed=0):
    torch.manual_seed(seed)
    model = TwoStagePixelCNN.build(4, 8, sketch_channels=6 * channels, image_channels=channels, image_size=[8, 12], levels=16,
                                   hidden_channels=detail_channels, num_layers=3, kernel_size=3, num_classes=3, cond_dropout=0.2)
    return model


def randomised(model):
    for p in model.parameters():  # large enough that the logits are far from uniform
        torch.nn.init.normal_(p, std=0.4)
    return model.eval()


@pytest.mark.parametrize("channels", [1, 3])
def test_a_wider_detail_stage_starts_as_the_narrower_model(tmp_path, channels):
    narrow = randomised(staged(6 * channels, channels))
    narrow.save_pretrained(tmp_path / "narrow")
    wide = staged(9 * channels, channels, seed=5)
    assert wide.detail.hidden_channels == 9 * channels and wide.sketch.hidden_channels == 6 * channels
    load_init(wide, str(tmp_path / "narrow"))
    wide.eval()
    x, labels = torch.randint(0, 16, (3, channels, 8, 12)), torch.tensor([0, 2, 1])
    with torch.no_grad():
        torch.testing.assert_close(wide.bits_per_dim(x, labels), narrow.bits_per_dim(x, labels), rtol=1e-5, atol=1e-5)
    # The same drawing, guided, through both stages.
    assert torch.equal(sample(wide, 3, labels=labels, seed=2, guidance=1.5), sample(narrow, 3, labels=labels, seed=2, guidance=1.5))


def test_the_new_channels_learn_from_the_first_step(tmp_path):
    narrow = randomised(staged(6))
    wide = staged(10, seed=1)
    wide.load_state_dict(widened_weights(wide, narrow.state_dict()))
    skip = wide.detail.layers[1].skip.weight
    assert skip[:, 6:].abs().sum() == 0 and skip[:, :6].abs().sum() > 0  # new channels send nothing yet
    x = torch.randint(0, 16, (4, 1, 8, 12))
    wide.train()
    wide.bits(x, wide(x, torch.tensor([0, 1, 2, 0]))).mean().backward()
    assert skip.grad[:, 6:].abs().sum() > 0  # ... and their outgoing weights get a gradient at once
    assert wide.detail.head_hidden.weight.grad[:, 6:].abs().sum() > 0


def test_a_one_stage_model_widens_too_with_its_conditioning_vector():
    torch.manual_seed(2)
    narrow = randomised(GatedPixelCNN(image_size=[8, 8], levels=16, hidden_channels=6, num_layers=2, kernel_size=3, cond_dim=5))
    wide = GatedPixelCNN(image_size=[8, 8], levels=16, hidden_channels=12, num_layers=2, kernel_size=3, cond_dim=5)
    wide.load_state_dict(widened_weights(wide, narrow.state_dict()))
    wide.eval()
    x, cond = torch.randint(0, 16, (2, 1, 8, 8)), torch.randn(2, 5)
    with torch.no_grad():
        torch.testing.assert_close(wide(x, cond=cond), narrow(x, cond=cond), rtol=1e-5, atol=1e-5)


def test_what_cannot_be_widened_is_refused_in_one_sentence(tmp_path):
    wide = randomised(staged(9))
    with pytest.raises(ValueError, match="cannot widen 9 hidden channels to 6"):
        widened_weights(staged(6), wide.state_dict())
    other = TwoStagePixelCNN.build(4, 8, sketch_channels=6, image_size=[8, 12], levels=8, hidden_channels=9, num_layers=3, kernel_size=3,
                                   num_classes=3, cond_dropout=0.2)
    with pytest.raises(ValueError, match="do not fit this model"):
        widened_weights(other, randomised(staged(6)).state_dict())  # another number of levels is not a width
    randomised(staged(6)).save_pretrained(tmp_path / "narrow")
    with pytest.raises(SystemExit, match="do not fit this model's options"):
        load_init(other, str(tmp_path / "narrow"))
    wider_sketch = TwoStagePixelCNN.build(4, 8, sketch_channels=9, image_size=[8, 12], levels=16, hidden_channels=6, num_layers=3,
                                          kernel_size=3, num_classes=3, cond_dropout=0.2)
    with pytest.raises(SystemExit, match="do not fit this model's options"):  # only the detail stage is widened (--detail-channels)
        load_init(wider_sketch, str(tmp_path / "narrow"))


def test_the_trainer_sizes_the_detail_stage_alone():
    class Data:
        name, image_shape, class_names = "mnist", (1, 8, 12), [str(d) for d in range(10)]
    opts = Options(sketch=4, sketch_levels=8, levels=16, hidden_channels=6, detail_channels=10, num_layers=2, kernel_size=3)
    model = build_model(opts, Data())
    assert (model.sketch.hidden_channels, model.detail.hidden_channels) == (6, 10)
    with pytest.raises(SystemExit, match="--detail-channels sizes a two-stage model's detail stage"):
        build_model(Options(detail_channels=10), Data())
