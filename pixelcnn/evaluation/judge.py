"""Are the samples what they were conditioned on? A small CNN judge trained on the same split
(sample class accuracy, the share it reads clearly), and the model itself as a Bayes classifier."""

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from pixelcnn import data as datasets
from pixelcnn.explain import class_probabilities
from pixelcnn.sampling import sample


class DigitClassifier(nn.Module):
    """A small CNN: (B, C, H, W) floats in [0, 1] -> (B, classes) logits."""

    def __init__(self, channels: int, classes: int, size: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * (size // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, classes))

    def forward(self, x):
        return self.head(self.features(x))


def to_unit(images) -> torch.Tensor:
    return torch.as_tensor(np.asarray(images), dtype=torch.float32) / 255.0


def train_classifier(d: datasets.ImageDataset, epochs: int = 4, seed: int = 0) -> DigitClassifier:
    """Trained on the dataset's training split (cached by dataset name, number and shape of images)."""
    channels, size, _ = d.image_shape
    path = datasets.cache_dir() / "classifiers" / f"{d.name}-{len(d.train_y)}-{channels}x{size}-e{epochs}-s{seed}.safetensors"
    model = DigitClassifier(channels, len(d.class_names), size)
    if path.exists():
        model.load_state_dict(load_file(path))
        return model.eval()
    torch.manual_seed(seed)
    x, y = to_unit(d.train_x), torch.as_tensor(d.train_y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(128):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), path)
    return model.eval()


CLEAR = 0.9  # a sample is "clearly" its class when the judge gives that class at least this probability


@torch.no_grad()
def judge(classifier: DigitClassifier, images_uint8) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, classes) the classifier's probabilities."""
    x = to_unit(images_uint8)
    return torch.cat([classifier(chunk).softmax(1) for chunk in x.split(500)]).numpy()


def predict(classifier: DigitClassifier, images_uint8) -> np.ndarray:
    return judge(classifier, images_uint8).argmax(1)


def draw_classes(model, per_class: int, seed: int, keywords: dict, batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """per_class samples of every class, drawn with the sampler's keywords: ((N, C, H, W) uint8
    in the data's form, (N,) their classes), class by class."""
    labels = torch.arange(model.num_classes).repeat_interleave(per_class)
    images = torch.cat([sample(model, len(chunk), labels=chunk, seed=seed + k, **keywords) for k, chunk in enumerate(labels.split(batch))])
    return datasets.dequantize(images.numpy(), model.levels), labels.numpy()


def draw_over_real_sketches(model, d, per_class: int, seed: int, keywords: dict, batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """A two-stage model's detail stage alone: per_class training images of every class (chosen
    by `seed`), each one's sketch made as the model makes it, and the detail drawn over it with
    the sampler's keywords -> as `draw_classes`."""
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(d.train_y == c), per_class, replace=False) for c in range(model.num_classes)])
    sketches = model.sketch_of(torch.from_numpy(datasets.quantize(d.train_x[chosen], model.levels)))
    labels = torch.as_tensor(d.train_y[chosen], dtype=torch.long)
    images = torch.cat([sample(model, len(part), labels=part, sketch=given, seed=seed + k, **keywords)
                        for k, (part, given) in enumerate(zip(labels.split(batch), sketches.split(batch)))])
    return datasets.dequantize(images.numpy(), model.levels), labels.numpy()


def class_scores(classifier, images_uint8, labels: np.ndarray) -> tuple[float, np.ndarray, float]:
    """(share the classifier puts in their class, that share per class, the share it gives their
    class with p >= CLEAR) of images drawn class by class."""
    probs = judge(classifier, images_uint8)
    hits = probs.argmax(1) == labels
    clear = probs[np.arange(len(labels)), labels] >= CLEAR
    return float(hits.mean()), np.array([hits[labels == c].mean() for c in np.unique(labels)]), float(clear.mean())


def bayes_accuracy(model, d: datasets.ImageDataset, images: int, seed: int) -> float:
    """Share of `images` held-out test images (a seeded draw) whose most likely class by Bayes,
    argmax_c p(x | c), is their own."""
    picked = np.random.default_rng(seed).permutation(len(d.test_y))[:images]
    x = torch.from_numpy(datasets.quantize(d.test_x[picked], model.levels))
    guesses = [int(class_probabilities(model, x[k : k + 1]).argmax()) for k in range(len(picked))]
    return float((np.array(guesses) == d.test_y[picked]).mean())
