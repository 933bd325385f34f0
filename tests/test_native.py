"""The native pixel step (pixelcnn/sampling/native_pixel.cpp) against the Python step it stands in
for: the same logits at every sub-pixel of a drawing (within float tolerance) and the same images,
for every kind of drawing the page makes; the engine's cohorts draw with it; where it cannot be
built, the Python step draws and the log says so in one line."""

import copy
import os
import shutil
import subprocess
import sys

import pytest
import torch

from pixelcnn import load
from pixelcnn.engine.crowd import Crowd
from pixelcnn.engine.record import LogitsRecord
from pixelcnn.sampling import native, sample, stages
from pixelcnn.sampling.cohort import Cohort, order

from .helpers import ASSETS, ROOT
from .test_sampling import CASES, GUIDED, guidable_model, random_model

needs_native = pytest.mark.skipif(not native.available(), reason="the native step is off (PIXELCNN_NATIVE=0) or cannot be built here")


def test_the_native_step_is_built_where_a_compiler_is():
    if os.environ.get("PIXELCNN_NATIVE") == "0":
        pytest.skip("turned off by PIXELCNN_NATIVE=0")
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        pytest.skip("no C++ compiler here")
    assert native.available()


def drawing(model, n, **kwargs):
    """(canvas, {(stage, channel, row, col): guided logits}) of one drawing, every hook call kept."""
    seen = {}

    def hook(stage):
        def keep(channel, row, col, logits):
            assert (stage, channel, row, col) not in seen
            seen[(stage, channel, row, col)] = logits.clone()
        return keep

    canvas = None
    hooks = dict(on_logits=hook("detail"), on_sketch_logits=hook("sketch")) if model.STAGED else dict(on_logits=hook("image"))
    for _, canvas, _, _ in stages(model, n, every=1 << 30, **hooks, **kwargs):
        pass
    return canvas, seen


def both(make):
    """make() with the native step, then with the Python step."""
    with_native = make()
    with native.disabled():
        with_python = make()
    return with_native, with_python


def assert_same_drawing(model, n, **kwargs):
    (canvas, logits), (python_canvas, python_logits) = both(lambda: drawing(model, n, **kwargs))
    assert torch.equal(canvas, python_canvas)
    assert logits.keys() == python_logits.keys() and len(logits) >= canvas[0].numel()
    for key, value in logits.items():
        torch.testing.assert_close(value, python_logits[key], rtol=1e-5, atol=1e-5)
    # Without hooks, the same images again (hooks are called from the native step; none may be needed).
    plain, python_plain = both(lambda: sample(model, n, **kwargs))
    assert torch.equal(plain, canvas) and torch.equal(python_plain, canvas)


@needs_native
@pytest.mark.parametrize("case", list(CASES))
def test_every_kind_of_model_draws_the_same_logits_and_images(case):
    model_kwargs, kwargs = CASES[case]
    assert_same_drawing(random_model(**model_kwargs), 3, seed=4, temperature=0.9, **kwargs)


@needs_native
@pytest.mark.parametrize("case", list(GUIDED))
def test_guided_drawings_are_the_same(case):
    model_kwargs, kwargs = GUIDED[case]
    assert_same_drawing(guidable_model(**model_kwargs), 3, seed=5, guidance=2.0, temperature=0.7, **kwargs)


@needs_native
def test_completion_keeps_the_same_pixels():
    model_kwargs, kwargs = CASES["rgb, class, non-square"]
    model = random_model(**model_kwargs)
    known = sample(model, 3, seed=11, **kwargs)
    mask = torch.zeros_like(known, dtype=torch.bool)
    mask[:, :, :2] = True
    mask[1, 2] = True  # one colour of one image given everywhere
    assert_same_drawing(model, 3, seed=12, known=known, known_mask=mask, **kwargs)


@needs_native
@pytest.mark.parametrize("name, kwargs", [
    ("mnist", dict(labels=torch.tensor([6, 2]), guidance=1.0, temperature=0.9)),
    ("mnist-sketch", dict(labels=torch.tensor([6, 4]), sketch_guidance=1.0, sketch_temperature=0.8, temperature=0.9)),
])
def test_the_bundled_models_draw_the_same(name, kwargs):
    assert_same_drawing(load(ASSETS / name).eval(), 2, seed=3, **kwargs)


@needs_native
def test_a_crowd_joining_and_leaving_draws_the_same_and_counts_the_same_bits():
    model_kwargs, kwargs = GUIDED["grey, class"]
    model = guidable_model(**model_kwargs)
    h, w = kwargs["size"]

    def crowd():
        orders = [order(model, 3, seed=20 + k, guidance=(0.0, 1.5, 3.0)[k], temperature=(1.0, 0.8, 1.2)[k], count_bits=True, **kwargs)
                  for k in range(3)]
        cohort = Cohort(model, orders)
        with torch.no_grad():
            pixels = cohort.pixels()
            for _ in range(w):  # the first row, just before its vertical stack
                next(pixels)
            cohort.keep([orders[0], orders[2]])
            for _ in range(w + 2):  # into the third row
                next(pixels)
            cohort.keep([orders[2]])
            for _ in pixels:
                pass
        assert cohort.sampler.native if native._enabled else not cohort.sampler.native
        return [(o.part.canvas.clone(), o.part.nats.clone()) for o in orders]

    with_native, with_python = both(crowd)
    for (canvas, nats), (python_canvas, python_nats) in zip(with_native, with_python):
        assert torch.equal(canvas, python_canvas)
        torch.testing.assert_close(nats, python_nats, rtol=1e-6, atol=1e-6)
    assert with_native[2][1].min() > 1.0  # bits were counted


@needs_native
def test_the_pages_logits_record_is_kept_by_the_native_step():
    model = load(ASSETS / "mnist").eval()

    def recorded():
        record = LogitsRecord((1, 28, 28), model.levels, images=3)
        canvas = sample(model, 4, labels=3, seed=8, guidance=1.0, on_logits=record)
        return canvas, record

    (canvas, record), (python_canvas, python_record) = both(recorded)
    assert torch.equal(canvas, python_canvas)
    assert record.count == python_record.count == 28 * 28
    torch.testing.assert_close(record.first, python_record.first, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(record.others.float(), python_record.others.float(), rtol=1e-3, atol=1e-3)
    assert record.others.abs().sum() > 0


@needs_native
def test_the_native_step_draws_float32_and_leaves_other_precisions_to_the_python_step():
    model = random_model(channels=1, classes=3)
    for weights, expected in ((model, True), (copy.deepcopy(model).double(), False)):
        cohort = Cohort(weights, [order(weights, 2, labels=1, seed=0, size=(3, 3))])
        with torch.no_grad():
            next(cohort.pixels())
        assert bool(cohort.sampler.native) == expected


@needs_native
def test_the_engine_draws_with_the_native_step(monkeypatch):
    made = []
    plan = native.plan
    monkeypatch.setattr(native, "plan", lambda sampler, drawer: made.append(plan(sampler, drawer)) or made[-1])
    model = load(ASSETS / "mnist").eval()
    crowd = Crowd(precision="float32")
    try:
        tickets = [crowd.submit(model, 2, labels=k, seed=k) for k in range(3)]
        drawn = [t.result(timeout=60) for t in tickets]
    finally:
        crowd.close()
    assert made and all(made)
    assert torch.equal(drawn[1], sample(model, 2, labels=1, seed=1))


def test_without_a_compiler_the_python_step_draws_and_the_log_says_so(tmp_path):
    script = (
        "import logging, torch\n"
        "logging.basicConfig(format='LOG %(message)s')\n"
        "from tests.test_sampling import random_model\n"
        "from pixelcnn.sampling import native, sample\n"
        "print(native.available(), int(sample(random_model(channels=3, classes=2), 2, labels=1, seed=3, size=(4, 4)).sum()))\n"
    )
    env = {**os.environ, "PIXELCNN_NATIVE": "1", "PIXELCNN_CACHE": str(tmp_path), "CXX": str(tmp_path / "no-compiler")}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = int(sample(random_model(channels=3, classes=2), 2, labels=1, seed=3, size=(4, 4)).sum())
    assert done.stdout.split() == ["False", str(expected)]
    said = [line for line in done.stderr.splitlines() if line.startswith("LOG")]
    assert len(said) == 1 and "could not be built" in said[0] and "Python step" in said[0], done.stderr


@needs_native
def test_a_batch_split_among_threads_and_cache_sized_chunks_draws_the_same(monkeypatch):
    # Small chunks of the vertical stack and small shares of the batch rows, two threads: the
    # native step's split of a crowd's batch, at a size a test can afford.
    monkeypatch.setattr(native, "CHUNK_BYTES", 1)
    monkeypatch.setattr(native, "ROW_GRAIN", 8)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model_kwargs, kwargs = GUIDED["rgb, vector"]
        cond = torch.randn(24, 4, generator=torch.Generator().manual_seed(3))
        assert_same_drawing(guidable_model(**model_kwargs), 24, seed=6, guidance=1.0, cond=cond, size=(6, 7))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_a_fresh_machine_builds_it_at_first_use_with_the_ninja_pip_installed(tmp_path, monkeypatch):
    # A Space's way: no `make native` before, no ninja on the PATH but the one requirements.txt
    # installs, a C++ compiler from packages.txt. The first drawing builds it, and draws with it;
    # the lock of a build killed on its way long ago does not hold it up.
    monkeypatch.setenv("PIXELCNN_CACHE", str(tmp_path / "cache"))
    lock = native.build_dir() / "lock"
    lock.parent.mkdir(parents=True)
    lock.touch()
    os.utime(lock, (1e9, 1e9))
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("c++", "g++", "gcc", "cc", "as", "ld"):
        found = shutil.which(tool)
        if found is None:
            pytest.skip(f"no {tool} here")
        (tools / tool).symlink_to(found)
    script = (
        "import logging, torch\n"
        "logging.basicConfig(level=logging.INFO, format='LOG %(message)s')\n"
        "from tests.test_sampling import random_model\n"
        "from pixelcnn.sampling import native, sample\n"
        "model = random_model(channels=3, classes=2)\n"
        "drawn = sample(model, 2, labels=1, seed=3, size=(4, 4))\n"
        "with native.disabled():\n"
        "    same = torch.equal(drawn, sample(model, 2, labels=1, seed=3, size=(4, 4)))\n"
        "print(native.available(), same)\n"
    )
    env = {**os.environ, "PIXELCNN_NATIVE": "1", "PIXELCNN_CACHE": str(tmp_path / "cache"), "PATH": str(tools)}
    env.pop("CXX", None)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"], done.stderr
    assert any(line.startswith("LOG native pixel step ready") for line in done.stderr.splitlines()), done.stderr
