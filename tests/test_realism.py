"""Realism and variety of drawings: the Fréchet distance, precision/recall and within-class
spread, on known Gaussians and on held-out digits, and the failure the measures exist for
(sixteen identical sixes that a classifier calls sixes)."""

import numpy as np
import pytest

from pixelcnn import data as datasets
from pixelcnn.evaluation.judge import class_scores, predict, train_classifier
from pixelcnn.evaluation.realism import frechet, precision_recall, realism, spread


def test_frechet_of_gaussians_is_their_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    shifted = a + np.array([3.0, 0.0, 4.0])  # same covariance: the distance is the squared shift, 25
    assert frechet(a, shifted) == pytest.approx(25.0, abs=1e-6)
    wide = rng.normal(size=(20000, 3)) * 2  # identity against 4 x identity: 3 * (1 + 4 - 2 * 2) = 3
    assert frechet(a, wide) == pytest.approx(3.0, abs=0.15)
    assert frechet(a, a) == pytest.approx(0.0, abs=1e-6)


def test_precision_recall_and_spread_see_a_collapse():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 4))
    assert spread(np.repeat(real[:1], 16, 0)) == 0.0
    precision, recall = precision_recall(np.repeat(real[:1], 50, 0), real)
    assert precision == 1.0 and recall < 0.05  # realistic, and covering almost nothing
    far_precision, _ = precision_recall(real + 100, real)
    assert far_precision == 0.0


@pytest.fixture(scope="module")
def mnist():
    d = datasets.load_dataset("mnist")
    return d, train_classifier(d)


def test_held_out_digits_pass_and_sixteen_identical_sixes_fail(mnist):
    d, classifier = mnist
    labels = np.repeat(np.arange(10), 16)
    rng = np.random.default_rng(2)
    held_out = np.concatenate([d.test_x[rng.permutation(np.flatnonzero(d.test_y == c))[:16]] for c in range(10)])
    real = realism(classifier, held_out, labels, d.test_x, d.test_y, seed=3)
    assert real.within(1.5, 0.8) and real.variety > 0.8
    # Each class drawn as one prototype: every image is its class to the judge, and the measures say no.
    read_right = predict(classifier, d.test_x) == d.test_y
    prototypes = np.concatenate([np.repeat(d.test_x[np.flatnonzero((d.test_y == c) & read_right)[:1]], 16, 0) for c in range(10)])
    accuracy, _, _ = class_scores(classifier, prototypes, labels)
    collapsed = realism(classifier, prototypes, labels, d.test_x, d.test_y, seed=3)
    assert accuracy == 1.0
    assert collapsed.variety == 0.0 and collapsed.frechet > 3 * collapsed.frechet_floor and not collapsed.within(1.5, 0.8)
