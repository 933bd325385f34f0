"""What a model believes about one image: surprise map, Bayes classifier, dependency map."""

import math

import numpy as np
import pytest
import torch

from pixelcnn.explain import (calibration_error, class_probabilities, dependency_map, fit_temperature, read_class, reading, softmax,
                              surprise_map)
from pixelcnn.models import GatedPixelCNN

from .causality import H, W, make_model
from .helpers import ROOT



@pytest.fixture(scope="module")
def mnist():
    return GatedPixelCNN.from_pretrained(ROOT / "assets" / "mnist").eval()


@pytest.fixture(scope="module")
def digits():
    from pixelcnn import data

    d = data.load_dataset("mnist")
    return torch.from_numpy(data.quantize(d.test_x[:6], 256)), d.test_y[:6]


def test_surprise_sums_to_bits_per_dim(mnist, digits):
    x, y = digits
    for k in range(3):
        bits = surprise_map(mnist, x[k : k + 1], label=int(y[k]))
        assert bits.shape == (1, 28, 28) and bits.min() >= 0
        expected = mnist.bits_per_dim(x[k : k + 1], labels=torch.tensor([int(y[k])])).item() * 28 * 28
        assert bits.sum().item() == pytest.approx(expected, rel=1e-5)
    # A digit's strokes are where the bits go: the black background costs little.
    bits = surprise_map(mnist, x[:1], label=int(y[0]))[0]
    assert bits[x[0, 0] > 128].mean() > 4 * bits[x[0, 0] == 0].mean()


def test_surprise_by_hand_on_a_small_model():
    model = make_model(3)
    x = torch.randint(0, 8, (1, 3, H, W))
    log_probs = torch.log_softmax(model(x), dim=1)[0]  # (levels, C, H, W)
    bits = surprise_map(model, x)
    c, i, j = 2, 3, 5
    assert bits[c, i, j].item() == pytest.approx(-log_probs[x[0, c, i, j], c, i, j].item() / math.log(2), rel=1e-9)


def test_the_model_as_a_classifier(mnist, digits):
    x, y = digits
    probs = np.stack([class_probabilities(mnist, x[k : k + 1]) for k in range(len(y))])
    assert probs.shape == (6, 10) and np.allclose(probs.sum(1), 1.0)
    assert (probs.argmax(1) == y).mean() >= 4 / 6  # held-out digits; chance is 1 in 10


def test_dependency_map_is_the_causal_past_for_the_gated_model():
    model = make_model(1, layers=4, kernel=3)
    x = torch.randint(0, 8, (1, 1, H, W))
    row, col = 5, 3
    seen = dependency_map(model, x, row, col)[0] > 0
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    past = (rows < row) | ((rows == row) & (cols < col))
    reach = (rows >= row - 5) & ((rows < row) & ((cols - col).abs() <= 4) | (rows == row) & (cols >= col - 4))
    assert torch.equal(seen, past & reach)


def test_dependency_map_refuses_a_pixel_outside(mnist):
    with pytest.raises(ValueError, match="outside the 28 x 28 image"):
        dependency_map(mnist, torch.zeros(1, 1, 28, 28, dtype=torch.long), 28, 3, label=0)


def test_the_temperature_fit_finds_the_calibrating_temperature():
    # Log-likelihoods whose softmax at T = 20 is exactly the probability the true class is drawn with.
    rng = np.random.default_rng(0)
    n, k, true_t = 4000, 5, 20.0
    table = rng.normal(0, 60, (n, k))
    probs = softmax(table, true_t)
    labels = np.array([rng.choice(k, p=p) for p in probs])
    fitted = fit_temperature(table, labels)
    assert fitted == pytest.approx(true_t, rel=0.1)
    assert calibration_error(softmax(table, fitted), labels) < 0.03 < calibration_error(softmax(table, 1.0), labels)


def test_calibration_error_by_hand():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])  # at 0.9: right half the time; at 0.6: always
    assert calibration_error(probs, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)


def test_a_calibrated_model_is_less_sure_and_the_reading_says_so(mnist, digits):
    x, _ = digits
    plain = class_probabilities(mnist, x[:1], temperature=1.0)
    warm = class_probabilities(mnist, x[:1], temperature=50.0)
    assert warm.max() < plain.max() and warm.argmax() == plain.argmax()
    names = [str(k) for k in range(4)]
    assert reading(np.array([0.05, 0.9, 0.03, 0.02]), names) == (1, "**1** (p = 0.90)")
    assert reading(np.array([0.45, 0.3, 0.15, 0.1]), names) == (None, "not sure: maybe 0 (p = 0.45) or 1 (p = 0.30)")


def test_a_picture_more_surprising_than_the_limit_is_none_of_the_classes(mnist, digits):
    x, labels = digits
    plain = read_class(mnist, x[:1])  # no limit fitted: never "not a digit"
    assert not plain.outside and plain.guess == int(labels[0]) and plain.surprise > 0
    assert plain.surprise == pytest.approx(mnist.bits_per_dim(x[:1].expand(10, -1, -1, -1), labels=torch.arange(10)).min().item(), abs=1e-4)
    strict = GatedPixelCNN(**{**mnist.describe(), "surprise_limit": plain.surprise / 2})
    strict.load_state_dict(mnist.state_dict())
    found = read_class(strict.eval(), x[:1])
    assert found.outside and found.guess is None and found.words.startswith("not a digit: the model finds it more surprising")
    assert np.allclose(found.probs, plain.probs)  # the class reading is still there, for the bars
    with pytest.raises(ValueError, match="surprise_limit"):
        GatedPixelCNN(surprise_limit=-1.0)
