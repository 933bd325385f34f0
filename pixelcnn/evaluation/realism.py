"""Do the samples look like the data, and do they differ from each other? Measures of a set of
drawings against held-out images in a judge's feature space, each beside its real-against-real
value at the same counts (its floor), so that no single number can be gamed:

- Fréchet distance (Heusel et al. 2017): between Gaussians fitted to the judge's penultimate
  features of the drawings and of held-out images; biased by the count, hence the floor;
- precision and recall (Kynkäänniemi et al. 2019): the share of drawings inside some held-out
  image's k-nearest-neighbour ball (realism), and of held-out images inside some drawing's
  (coverage);
- variety: within each class, the mean pairwise feature distance among the drawings over the
  same among held-out images of the class (sixteen identical sixes score near 0).
"""

from dataclasses import dataclass

import numpy as np
import torch

from pixelcnn.evaluation.judge import DigitClassifier, to_unit

NEIGHBOURS = 3  # k of the precision/recall balls


@torch.no_grad()
def features(classifier: DigitClassifier, images_uint8) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, 128) the judge's penultimate features (after its last ReLU)."""
    classifier.eval()
    x = to_unit(images_uint8)
    penultimate = classifier.head[:-1]
    return torch.cat([penultimate(classifier.features(chunk)) for chunk in x.split(500)]).double().numpy()


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a (N, D) and b (M, D)."""
    mean = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # trace sqrt(ca cb) = sum of sqrt of the eigenvalues of sqrt(ca) cb sqrt(ca) (symmetric, PSD)
    values, vectors = np.linalg.eigh(ca)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cb @ root), 0, None)).sum()
    return float(mean @ mean + np.trace(ca) + np.trace(cb) - 2 * cross)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, D), (M, D) -> (N, M) Euclidean distances."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.sqrt(np.clip(squared, 0, None))


def precision_recall(fake: np.ndarray, real: np.ndarray, k: int = NEIGHBOURS) -> tuple[float, float]:
    """(share of fake inside some real's k-NN ball, share of real inside some fake's)."""

    def covered(points, centres):
        radii = np.sort(distances(centres, centres), 1)[:, k]  # column 0 is the centre itself
        return float((distances(points, centres) <= radii[None]).any(1).mean())

    return covered(fake, real), covered(real, fake)


def spread(points: np.ndarray) -> float:
    """Mean pairwise distance among points (N, D), N >= 2."""
    d = distances(points, points)
    return float(d.sum() / (len(points) * (len(points) - 1)))


def variety(fake: np.ndarray, fake_labels: np.ndarray, real: np.ndarray, real_labels: np.ndarray) -> np.ndarray:
    """Per class: the drawings' spread over held-out images' spread (same count per class)."""
    ratios = []
    for c in np.unique(fake_labels):
        drawn = fake[fake_labels == c]
        ratios.append(spread(drawn) / spread(real[real_labels == c][: len(drawn)]))
    return np.array(ratios)


@dataclass
class Realism:
    """How a set of drawings compares with held-out images, and the same for real images at the same counts."""

    frechet: float
    frechet_floor: float  # real held-out images (as many as the drawings) against the same reference
    precision: float
    recall: float
    precision_floor: float
    recall_floor: float
    variety: float  # the mean over classes of drawings' spread / real's spread (1 = as varied as real)
    variety_by_class: np.ndarray

    def within(self, frechet_factor: float = 1.5, min_variety: float = 0.8) -> bool:
        """The page's bar: distance at most `frechet_factor` times the floor, variety at least `min_variety`."""
        return self.frechet <= frechet_factor * self.frechet_floor and self.variety >= min_variety


def realism(classifier: DigitClassifier, drawings, labels: np.ndarray, test_x, test_y: np.ndarray, seed: int = 0) -> Realism:
    """drawings (N, C, H, W) uint8 with their classes (N,), against held-out test_x / test_y.

    The held-out images are split once (by `seed`): N of them, drawn class by class as the
    drawings are, stand in for a perfect model; the rest are the reference both are compared with.
    """
    rng = np.random.default_rng(seed)
    stand_in = np.concatenate([rng.permutation(np.flatnonzero(test_y == c))[: int((labels == c).sum())] for c in np.unique(labels)])
    reference = np.setdiff1d(np.arange(len(test_y)), stand_in)
    fake, real = features(classifier, drawings), features(classifier, test_x[stand_in])
    ref = features(classifier, test_x[reference])
    precision, recall = precision_recall(fake, ref)
    precision_floor, recall_floor = precision_recall(real, ref)
    by_class = variety(fake, labels, ref, test_y[reference])
    return Realism(frechet(fake, ref), frechet(real, ref), precision, recall, precision_floor, recall_floor,
                   float(by_class.mean()), by_class)
