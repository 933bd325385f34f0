"""The drawer's statistics: many draws from known logits follow the softmax they come from (with
temperature and with guidance), checked by a chi-square test at a fixed seed. The cached and the
naive sampler share the drawer, so a bug here would pass both of their equality tests."""

import numpy as np
import pytest
import torch

from pixelcnn.sampling import Drawer, Part

DRAWS = 20_000
LEVELS = 6
# Chi-square critical value for 5 degrees of freedom at p = 0.001: a correct drawer fails 1 run in 1,000 seeds.
CRITICAL = 20.515


def draw_counts(logits: torch.Tensor, temperature: float = 1.0, guidance: float = 0.0, seed: int = 0) -> np.ndarray:
    """Draw DRAWS values of one sub-pixel from `logits` (levels,), or with guidance from (2, levels):
    conditional then unconditional -> counts per level."""
    n = DRAWS
    drawer = Drawer([Part(n, seed, temperature, guidance)], (1, 1, 1), LEVELS)
    rows = logits.repeat_interleave(n, dim=0) if guidance else logits.expand(n, -1)
    drawer(0, 0, 0, rows)
    return np.bincount(drawer.canvas.flatten().numpy(), minlength=LEVELS)


def chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


LOGITS = torch.tensor([0.3, -1.2, 2.0, 0.0, 1.1, -0.4])


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_draws_follow_the_tempered_softmax(temperature):
    counts = draw_counts(LOGITS[None], temperature)
    probs = torch.softmax(LOGITS / temperature, 0).numpy()
    assert chi_square(counts, probs) < CRITICAL


def test_draws_follow_the_guided_softmax():
    conditional, unconditional = LOGITS, torch.tensor([1.0, 0.5, 0.0, 0.2, -0.3, 0.1])
    w = 1.5
    counts = draw_counts(torch.stack([conditional, unconditional]), guidance=w)
    probs = torch.softmax(unconditional + (1 + w) * (conditional - unconditional), 0).numpy()
    assert chi_square(counts, probs) < CRITICAL
    # ...and not the unguided one: the test can tell them apart.
    assert chi_square(counts, torch.softmax(conditional, 0).numpy()) > 10 * CRITICAL


def test_a_wrong_temperature_is_caught():
    """The test has the power to see a drawer that ignored its temperature."""
    counts = draw_counts(LOGITS[None], temperature=1.0)
    assert chi_square(counts, torch.softmax(LOGITS / 0.5, 0).numpy()) > 10 * CRITICAL


def test_the_same_seed_draws_the_same_values_and_another_seed_others():
    first, again, other = (draw_counts(LOGITS[None], seed=s) for s in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
