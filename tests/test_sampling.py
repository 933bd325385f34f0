"""The cached sampler against the naive reference, streaming, completion and argument checks."""

import math

import pytest
import torch

from pixelcnn.models import GatedPixelCNN
from pixelcnn.sampling import sample, sample_stream


def random_model(channels=1, classes=0, cond_dim=0, levels=16, layers=3, kernel=3, hidden=None, cond_map=0, vector_map=0):
    torch.manual_seed(0)
    model = GatedPixelCNN(
        image_channels=channels,
        levels=levels,
        hidden_channels=hidden or 6 * channels,
        num_layers=layers,
        kernel_size=kernel,
        num_classes=classes,
        cond_dim=cond_dim,
        cond_map_channels=cond_map,
        vector_map_channels=vector_map,
        image_size=[4, 6] if vector_map else [5, 6],  # a map m(h) doubles up to the image's size: even sides
    )
    for p in model.parameters():  # large enough that the logits are far from uniform
        torch.nn.init.normal_(p, std=0.4)
    return model.eval()


CASES = {
    "grey, unconditional, square": (dict(channels=1), dict(size=(5, 5))),
    "grey, class, non-square": (dict(channels=1, classes=3), dict(labels=torch.tensor([0, 2, 1]), size=(4, 7))),
    "rgb, class, non-square": (dict(channels=3, classes=2, kernel=5), dict(labels=torch.tensor([1, 0, 1]), size=(5, 3))),
    "rgb, vector": (dict(channels=3, cond_dim=4), dict(cond=torch.randn(3, 4, generator=torch.Generator().manual_seed(5)), size=(4, 4))),
    "grey, spatial map": (dict(channels=1, cond_map=2), dict(cond_map=torch.randn(3, 2, 4, 5, generator=torch.Generator().manual_seed(6)), size=(4, 5))),
    "grey, vector and its map m(h)": (dict(channels=1, cond_dim=4, vector_map=3),
                                       dict(cond=torch.randn(3, 4, generator=torch.Generator().manual_seed(8)), size=(4, 6))),
    "rgb, class and its map m(h), smaller than trained": (dict(channels=3, classes=2, vector_map=2),
                                                          dict(labels=torch.tensor([1, 0, 0]), size=(3, 4))),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_cached_equals_naive(case, seed):
    model_kwargs, kwargs = CASES[case]
    model = random_model(**model_kwargs)
    naive = sample(model, 3, seed=seed, method="naive", **kwargs)
    cached = sample(model, 3, seed=seed, method="cached", **kwargs)
    assert torch.equal(naive, cached)
    # Not a degenerate draw: the samples vary.
    assert len(torch.unique(cached)) > 3


@pytest.mark.parametrize("case", ["grey, class, non-square", "rgb, vector", "grey, spatial map", "grey, vector and its map m(h)"])
def test_cached_logits_match_naive_at_every_step(case):
    model_kwargs, kwargs = CASES[case]
    model = random_model(**model_kwargs)
    logged = {"naive": [], "cached": []}
    for method in logged:
        sample(model, 3, seed=4, method=method, on_logits=lambda c, i, j, lg, m=method: logged[m].append((c, i, j, lg)), **kwargs)
    assert len(logged["naive"]) == len(logged["cached"]) == model.image_channels * math.prod(kwargs["size"])
    for (c1, i1, j1, a), (c2, i2, j2, b) in zip(logged["naive"], logged["cached"]):
        assert (c1, i1, j1) == (c2, i2, j2)
        assert (a - b).abs().max().item() < 1e-4


def test_seeded_runs_repeat_and_seeds_differ():
    model = random_model(classes=2)
    a = sample(model, 4, labels=1, seed=11)
    assert torch.equal(a, sample(model, 4, labels=1, seed=11))
    assert not torch.equal(a, sample(model, 4, labels=1, seed=12))


def test_temperature_sharpens():
    model = random_model(levels=32)
    hot = sample(model, 16, seed=0, temperature=3.0, size=(4, 4))
    cold = sample(model, 16, seed=0, temperature=1e-3, size=(4, 4))
    # Near-greedy sampling picks the most likely value; hot sampling spreads out.
    first = model(torch.zeros(1, 1, 4, 4, dtype=torch.long))[0, :, 0, 0, 0]
    assert cold[:, 0, 0, 0].tolist() == [first.argmax().item()] * 16
    assert len(torch.unique(hot)) > len(torch.unique(cold))


def test_completion_keeps_known_pixels():
    model = random_model(channels=3, classes=2)
    gen = torch.Generator().manual_seed(3)
    known = torch.randint(0, 16, (2, 3, 5, 6), generator=gen)
    mask = torch.zeros_like(known, dtype=torch.bool)
    mask[:, :, :2] = True  # the top two rows are given
    mask[1, :, 4, 5] = True  # and one late pixel of the second image
    for method in ("cached", "naive"):
        out = sample(model, 2, labels=torch.tensor([0, 1]), seed=0, known=known, known_mask=mask, method=method)
        assert torch.equal(out[mask], known[mask])
    assert not torch.equal(out[~mask], known[~mask])
    assert torch.equal(out, sample(model, 2, labels=torch.tensor([0, 1]), seed=0, known=known, known_mask=mask))


def test_stream_ends_with_what_sample_returns():
    model = random_model(classes=3)
    frames = list(sample_stream(model, 2, labels=torch.tensor([0, 2]), seed=9, every=4))
    final = sample(model, 2, labels=torch.tensor([0, 2]), seed=9)
    total = 5 * 6
    assert [done for _, done, _ in frames] == [4, 8, 12, 16, 20, 24, 28, 30]
    assert all(t == total for _, _, t in frames)
    assert torch.equal(frames[-1][0], final)
    # Frames grow: pixels drawn in one frame stay in the next.
    assert torch.equal(frames[2][0][:, :, :2], final[:, :, :2])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=0), "n must be a positive integer"),
        (dict(n=2, temperature=0), "temperature"),
        (dict(n=2, temperature=float("nan")), "temperature"),
        (dict(n=2, temperature=float("inf")), "temperature"),
        (dict(n=2, size=(0, 5)), "size must be between"),
        (dict(n=2, size=(10000, 5)), "size must be between"),
        (dict(n=2, method="fast"), "method must be one of"),
        (dict(n=2, labels=torch.tensor([0, 5])), "labels must lie in"),
        (dict(n=2, known=torch.zeros(2, 1, 5, 6, dtype=torch.long)), "known and known_mask"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    model = random_model(classes=3)
    kwargs.setdefault("labels", 0)
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=message):
        sample(model, n, **kwargs)


# -- classifier-free guidance -------------------------------------------------------------------


def guidable_model(**kwargs):
    model = random_model(**kwargs)
    model.cond_dropout = 0.2  # as if trained with --cond-dropout 0.2: the zero vector is its "none"
    return model


GUIDED = {
    "grey, class": (dict(channels=1, classes=3), dict(labels=torch.tensor([0, 2, 1]), size=(4, 5))),
    "rgb, vector": (dict(channels=3, cond_dim=4), dict(cond=torch.randn(3, 4, generator=torch.Generator().manual_seed(5)), size=(3, 4))),
    "grey, vector and its map m(h)": (dict(channels=1, cond_dim=4, vector_map=3),
                                       dict(cond=torch.randn(3, 4, generator=torch.Generator().manual_seed(8)), size=(4, 6))),
}


@pytest.mark.parametrize("case", list(GUIDED))
@pytest.mark.parametrize("guidance", [0.5, 3.0])
def test_guided_cached_equals_naive(case, guidance):
    model_kwargs, kwargs = GUIDED[case]
    model = guidable_model(**model_kwargs)
    naive = sample(model, 3, seed=2, method="naive", guidance=guidance, **kwargs)
    cached = sample(model, 3, seed=2, method="cached", guidance=guidance, **kwargs)
    assert torch.equal(naive, cached)
    # Guidance changes what is drawn.
    assert not torch.equal(cached, sample(model, 3, seed=2, **kwargs))


def test_guided_logits_are_the_paper_mixture():
    model_kwargs, kwargs = GUIDED["grey, class"]
    model = guidable_model(**model_kwargs).double()
    w = 2.0
    seen = []
    canvas = sample(model, 3, seed=1, guidance=w, on_logits=lambda c, i, j, lg: seen.append((c, i, j, lg.clone())), **kwargs)
    # Recompute the logits of every sub-pixel from the finished canvas with two plain forward passes.
    conditional = model(canvas, kwargs["labels"])
    unconditional = model(canvas, kwargs["labels"], unconditional=torch.ones(3, dtype=torch.bool))
    expected = unconditional + (1 + w) * (conditional - unconditional)
    assert len(seen) == 4 * 5
    for c, i, j, logits in seen:
        torch.testing.assert_close(logits, expected[:, :, c, i, j], rtol=1e-9, atol=1e-9)


def test_guidance_zero_is_exactly_the_unguided_sampler():
    model_kwargs, kwargs = GUIDED["rgb, vector"]
    model = guidable_model(**model_kwargs)
    assert torch.equal(sample(model, 3, seed=9, guidance=0.0, **kwargs), sample(model, 3, seed=9, **kwargs))
    streamed = [c for c, _, _ in sample_stream(model, 3, seed=9, every=4, guidance=0, **kwargs)]
    assert torch.equal(streamed[-1], sample(model, 3, seed=9, **kwargs))


def test_guidance_refused_without_an_unconditional_branch():
    model_kwargs, kwargs = GUIDED["grey, class"]
    with pytest.raises(ValueError, match="no unconditional branch"):
        sample(random_model(**model_kwargs), 3, guidance=1.0, **kwargs)
    with pytest.raises(ValueError, match="guidance must be"):
        sample(guidable_model(**model_kwargs), 3, guidance=-1.0, **kwargs)
    with pytest.raises(ValueError, match="guidance must be"):
        sample(guidable_model(**model_kwargs), 3, guidance=float("nan"), **kwargs)


@pytest.mark.parametrize("case", ["grey, class, non-square", "rgb, vector", "grey, spatial map"])
def test_bits_counted_while_drawing_equal_the_models_bits_of_the_drawing(case):
    from pixelcnn.sampling.cohort import Cohort, order

    model_kwargs, kwargs = CASES[case]
    model = random_model(**model_kwargs)
    counted = order(model, 3, seed=5, temperature=1.5, count_bits=True, **kwargs)  # bits under the model, not the temperature
    plain = order(model, 3, seed=6, **kwargs)
    with torch.no_grad():
        for _ in Cohort(model, [counted, plain]).pixels():
            pass
        drawn = counted.part.canvas
        condition = {k: v for k, v in kwargs.items() if k != "size"}
        expected = model.bits_per_dim(drawn, **condition).double() * math.log(2) * drawn[0].numel()
    assert torch.allclose(counted.part.nats, expected, rtol=1e-5)
    assert counted.part.nats.min() > 1.0  # not nothing counted


@pytest.mark.parametrize("case", list(CASES))
def test_a_request_that_stays_when_another_leaves_mid_row_draws_as_alone(case):
    from pixelcnn.sampling.cohort import Cohort, order

    model_kwargs, kwargs = CASES[case]
    model = random_model(**model_kwargs)
    size = kwargs["size"]
    with torch.no_grad():
        leaving, staying = order(model, 3, seed=1, **kwargs), order(model, 3, seed=2, temperature=0.8, **kwargs)
        cohort = Cohort(model, [leaving, staying])
        pixels = cohort.pixels()
        for _ in range(size[1] + 2):  # into the second row: the vertical stack has run once
            next(pixels)
        cohort.keep([staying])
        for _ in pixels:
            pass
        alone = sample(model, 3, seed=2, temperature=0.8, **kwargs)
    assert torch.equal(staying.part.canvas, alone)
    assert not torch.equal(leaving.part.canvas, sample(model, 3, seed=1, **kwargs))  # it stopped where it was
