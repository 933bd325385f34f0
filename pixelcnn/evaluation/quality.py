"""How good a class model's drawings are at each sampling setting, by several measures at once
(any one of them alone can be gamed), and the setting the page should start at.

For each setting: the judge's class accuracy and its clear share, realism and variety against
held-out images (`training.realism`), and the model's own bits/dim on its drawings beside its
held-out bits/dim (far higher: the setting pushes drawings off the data's typical set).
The page's default: the most accurate setting whose Fréchet distance is within FRECHET_FACTOR
times the real-against-real floor and whose variety is at least MIN_VARIETY of real's.
"""

from dataclasses import asdict, dataclass

import numpy as np

from pixelcnn.evaluation.judge import CLEAR, class_scores, draw_classes, draw_over_real_sketches
from pixelcnn.training.metrics import mean_loss
from pixelcnn.evaluation.realism import Realism, realism
from pixelcnn.evaluation.sweeps import Setting, best_of

FRECHET_FACTOR = 1.5
MIN_VARIETY = 0.8


@dataclass
class Quality:
    setting: Setting
    accuracy: float
    per_class: np.ndarray
    clear: float
    realism: Realism
    samples_bpd: float
    real_sketches: bool = False  # the detail stage alone, over training images' sketches

    @property
    def acceptable(self) -> bool:
        return self.realism.within(FRECHET_FACTOR, MIN_VARIETY)

    def row(self, chosen: bool) -> str:
        r, bold = self.realism, "**" if chosen else ""
        s = self.setting
        if self.real_sketches:
            lead = f"| training images' | {s.detail_guidance:g} | "
        elif s.sketch_temperature is not None:
            lead = f"| {s.guidance:g} | {s.sketch_temperature:g} | {s.detail_guidance:g} | "
        else:
            lead = f"| {s.guidance:g} | "
        return (f"{lead}{s.temperature:g} | {bold}{100 * self.accuracy:.1f}%{bold} | {100 * self.clear:.1f}% | "
                f"{r.frechet:.1f} ({r.frechet / r.frechet_floor:.2f}x) | {r.precision:.2f} | {r.recall:.2f} | "
                f"{r.variety:.2f} ({r.variety_by_class.min():.2f}) | {self.samples_bpd:.3f} | "
                + ", ".join(f"{100 * a:.0f}" for a in self.per_class) + " |")

    def summary(self) -> dict:
        r = self.realism
        return {"setting": self.setting.key, **asdict(self.setting), "accuracy": self.accuracy, "clear": self.clear,
                "frechet": r.frechet, "frechet_floor": r.frechet_floor, "precision": r.precision, "recall": r.recall,
                "variety": r.variety, "variety_min_class": float(r.variety_by_class.min()), "samples_bpd": self.samples_bpd,
                "acceptable": self.acceptable}


def realism_count(per_class: int, test_y: np.ndarray) -> int:
    """Drawings per class that realism compares: at most half the smallest held-out class, so
    that as many held-out images remain as a reference."""
    return min(per_class, int(np.bincount(test_y).min()) // 2)


def measure(model, classifier, d, setting: Setting, per_class: int, seed: int, real_sketches: bool = False) -> Quality:
    """The drawings at `setting`, measured; with real_sketches (a two-stage model), the detail stage
    alone, drawn over training images' sketches (the setting's sketch-stage fields are not used)."""
    if real_sketches:
        images, labels = draw_over_real_sketches(model, d, per_class, seed, setting.keywords(model))
    else:
        images, labels = draw_classes(model, per_class, seed, setting.keywords(model))
    accuracy, per_class_accuracy, clear = class_scores(classifier, images, labels)
    compared = np.concatenate([np.flatnonzero(labels == c)[: realism_count(per_class, d.test_y)] for c in np.unique(labels)])
    found = realism(classifier, images[compared], labels[compared], d.test_x, d.test_y, seed)
    return Quality(setting, accuracy, per_class_accuracy, clear, found, mean_loss(model, images, labels), real_sketches)


def chosen(qualities: list[Quality]) -> Quality | None:
    """The most accurate acceptable setting (distance and variety within the bars), or None."""
    acceptable = {k: q for k, q in enumerate(qualities) if q.acceptable}
    return acceptable[best_of(acceptable, lambda q: q.accuracy)] if acceptable else None


def table(qualities: list[Quality], pick: Quality | None, class_names: list[str], rule: bool = True) -> list[str]:
    """The card's lines: what each column means, then a row per setting (the chosen one in bold),
    then (with `rule`) the setting the page's rule picks."""
    staged = qualities[0].setting.sketch_temperature is not None
    first = qualities[0].realism
    head = "| sketch guidance | sketch temperature | detail guidance | temperature |" if staged else "| guidance | temperature |"
    if qualities[0].real_sketches:
        head = "| sketches | detail guidance | temperature |"
    return [
        f"Columns: class accuracy and clear share (the judge gives the asked class p >= {CLEAR}); Fréchet distance of the judge's "
        f"features to held-out images (and its ratio to the floor, real held-out images against the same reference: "
        f"{first.frechet_floor:.1f}); precision and recall (k-NN, real floor {first.precision_floor:.2f} / {first.recall_floor:.2f}); "
        f"variety (within-class spread over real's, 1 = as varied; the lowest class in brackets); the model's bits/dim on its own drawings.",
        "",
        head + " accuracy | clear | Fréchet | precision | recall | variety | bits/dim of drawings | per class (" + ", ".join(class_names) + ") |",
        "|---" * (head.count("|") - 1 + 8) + "|",
        *[q.row(q is pick) for q in qualities],
    ] + ([
        "",
        f"- Chosen for the page (most accurate with Fréchet <= {FRECHET_FACTOR}x floor and variety >= {MIN_VARIETY}): **{pick.setting.key}**"
        if pick else f"- No setting has Fréchet <= {FRECHET_FACTOR}x floor and variety >= {MIN_VARIETY}.",
    ] if rule else [])
