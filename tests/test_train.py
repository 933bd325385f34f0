"""The training CLI end to end: outputs, a killed run resumed, and torchrun with two processes."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from pixelcnn.models import GatedPixelCNN

from .helpers import TINY, run_train

def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_tiny_run_writes_everything(tiny_run):
    out = tiny_run
    metrics = read_jsonl(out / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert metrics[-1]["test_bpd"] < metrics[0]["test_bpd"] < 4.0  # log2(16) = 4 bits is a uniform guess
    for name in ("samples.png", "curves.png", "checkpoint.pt", "steps.jsonl"):
        assert (out / name).stat().st_size > 0
    assert Image.open(out / "samples.png").size[1] > Image.open(out / "samples.png").size[0] / 2  # one row per class
    model = GatedPixelCNN.from_pretrained(out / "model")
    assert model.class_names == ["horizontal", "vertical"]
    card = (out / "model" / "README.md").read_text()
    summary = json.loads((out / "model" / "training.json").read_text())
    assert f"{summary['test_bpd']:.4f}" in card and "pixelcnn train " in card
    assert summary["steps"] == 3 * (36 // 8)


def test_help_lists_every_option():
    text = subprocess.run([sys.executable, "-m", "pixelcnn", "train", "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--dataset", "--image-size", "--levels", "--hidden-channels", "--conditioning", "--batch-size", "--lr",
                 "--schedule", "--epochs", "--time-budget", "--ema", "--seed", "--out", "--resume", "--push-to-hub"):
        assert flag in text


def test_a_killed_run_resumes_to_the_same_end(stripes, tmp_path):
    args = ["--dataset", "folder", "--folder", str(stripes), *TINY, "--epochs", "25", "--checkpoint-minutes", "0"]
    reference = tmp_path / "reference"
    assert run_train([*args, "--out", str(reference)]).wait(timeout=600) == 0

    out = tmp_path / "killed"
    proc = run_train([*args, "--out", str(out)])
    killed_at = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (out / "checkpoint.pt").exists():
            try:
                step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
            except Exception:  # caught mid-rename on some filesystems: look again
                continue
            if step >= 20:
                proc.send_signal(signal.SIGKILL)
                killed_at = step
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None and killed_at < 100, "the run finished before it could be killed"
    assert not (out / "model").exists()

    # The stopped run's model, saved from its checkpoint: the EMA weights, a card that says how.
    export = subprocess.run([sys.executable, "-m", "pixelcnn", "export", str(out)], capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr[-2000:]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    averaged = {key.removeprefix("module."): value for key, value in state["ema"].items() if key.startswith("module.")}
    saved = GatedPixelCNN.from_pretrained(out / "model").state_dict()
    assert saved.keys() == averaged.keys() and all(torch.equal(saved[key], averaged[key]) for key in saved)
    summary = json.loads((out / "model" / "training.json").read_text())
    assert summary["steps"] == state["step"] >= killed_at and summary["test_weights"] == "EMA"
    card = (out / "model" / "README.md").read_text()
    assert f"stopped at step {state['step']}, saved with `pixelcnn export {out}`" in card and "--epochs 25" in summary["command"]
    missing = subprocess.run([sys.executable, "-m", "pixelcnn", "export", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "pass the folder a run wrote" in missing.stderr

    assert run_train([*args, "--out", str(out), "--resume"]).wait(timeout=600) == 0
    done = json.loads((out / "model" / "training.json").read_text())
    expected = json.loads((reference / "model" / "training.json").read_text())
    assert done["steps"] == expected["steps"] == 25 * 4
    # Same data order, RNG, optimiser and EMA state: the resumed run ends where the reference did.
    assert done["test_bpd"] == pytest.approx(expected["test_bpd"], abs=1e-6)
    assert [m["epoch"] for m in read_jsonl(out / "metrics.jsonl")] == list(range(1, 26))


def test_torchrun_two_processes_match_one(stripes, tmp_path):
    args = ["--dataset", "folder", "--folder", str(stripes), *TINY, "--max-steps", "2", "--log-every", "1"]
    single = tmp_path / "single"
    assert run_train([*args, "--out", str(single)]).wait(timeout=300) == 0
    double = tmp_path / "double"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "pixelcnn", "train", *args, "--out", str(double)]
    # torchrun in a session of its own: should it hang, the timeout ends its workers too, not only torchrun
    # (left behind, two spinning workers slow every later test, most of all on one core).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, stderr[-2000:]
    one, two = read_jsonl(single / "steps.jsonl"), read_jsonl(double / "steps.jsonl")
    assert [s["step"] for s in two] == [1, 2]  # rank 0 alone writes
    assert two[0]["bpd"] == pytest.approx(one[0]["bpd"], abs=1e-5)
    assert two[1]["bpd"] == pytest.approx(one[1]["bpd"], abs=1e-4)
    assert "torchrun --nproc_per_node 2" in (double / "model" / "README.md").read_text()


def test_precision_choice():
    from pixelcnn.training.world import autocast_dtype, native_bf16

    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    flags = open("/proc/cpuinfo").read()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert native_bf16(cpu) is native
    assert autocast_dtype("auto", cpu) is (torch.bfloat16 if native else None)
    with pytest.raises(SystemExit, match="--precision must be"):
        autocast_dtype("fp16", cpu)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_run_in_each_precision_learns_and_says_so(stripes, tmp_path, precision):
    out = tmp_path / precision
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--epochs", "3", "--precision", precision, "--out", str(out)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    metrics = read_jsonl(out / "metrics.jsonl")
    assert metrics[-1]["test_bpd"] < metrics[0]["test_bpd"] < 4.0
    card = (out / "model" / "README.md").read_text()
    assert ("bf16 autocast" in card) is (precision == "bf16") and ("fp32" in card) is (precision == "fp32")


def test_conditioning_dropout_teaches_the_unconditional_branch(tmp_path):
    """Two classes that differ from the first pixel on: dark and bright 8x8 images. Trained with
    dropout, the "none" branch must put about half its mass on each class's first pixel."""
    from pixelcnn.sampling import sample

    rng = np.random.default_rng(0)
    for name, base in (("dark", 10), ("bright", 200)):
        (tmp_path / "shades" / name).mkdir(parents=True)
        for k in range(20):
            Image.fromarray((base + rng.integers(0, 40, (8, 8))).astype(np.uint8)).save(tmp_path / "shades" / name / f"{k}.png")
    out = tmp_path / "run"
    proc = run_train(["--dataset", "folder", "--folder", str(tmp_path / "shades"), *TINY, "--epochs", "30", "--cond-dropout", "0.5", "--out", str(out)])
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-2000:]
    model = GatedPixelCNN.from_pretrained(out / "model").eval()
    assert model.cond_dropout == 0.5 and model.guidable and model.class_names == ["bright", "dark"]
    x = torch.zeros(2, 1, 8, 8, dtype=torch.long)
    with torch.no_grad():
        def dark_mass(label, unconditional):
            probs = model(x, torch.tensor([label] * 2), unconditional=torch.tensor([unconditional] * 2)).softmax(1)
            return probs[0, :8, 0, 0, 0].sum().item()  # the first pixel's mass on the lower half of the 16 levels

        assert dark_mass(0, False) < 0.2 and dark_mass(1, False) > 0.8
        assert 0.3 < dark_mass(0, True) < 0.7 and dark_mass(0, True) == pytest.approx(dark_mass(1, True), abs=1e-6)
    assert sample(model, 2, labels=1, guidance=2.0, seed=0).shape == (2, 1, 8, 8)


def test_init_starts_from_saved_weights(stripes, tiny_run, tmp_path):
    first = tiny_run
    # lr 0: one step moves nothing, so the new run's weights are exactly the ones it started from.
    second = tmp_path / "second"
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--max-steps", "1", "--lr", "0", "--init", str(first / "model"),
                      "--out", str(second)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    before, after = (GatedPixelCNN.from_pretrained(p / "model").state_dict() for p in (first, second))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert f"started from the weights in `{first / 'model'}`" in (second / "model" / "README.md").read_text()
    # Weights of another shape: one clear sentence, no traceback.
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--hidden-channels", "12", "--init", str(first / "model"),
                      "--out", str(tmp_path / "third")])
    assert proc.wait(timeout=300) != 0
    error = proc.stderr.read().decode()
    assert "do not fit this model's options" in error and "Traceback" not in error


def test_the_original_architecture_trains_and_reloads(stripes, tmp_path):
    from pixelcnn import load as load_saved
    from pixelcnn.models import PixelCNN

    out = tmp_path / "run"
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--arch", "original", "--epochs", "2", "--out", str(out)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    model = load_saved(out / "model")
    assert isinstance(model, PixelCNN) and model.class_names == ["horizontal", "vertical"]
    metrics = read_jsonl(out / "metrics.jsonl")
    assert metrics[-1]["test_bpd"] < 4.0  # below a uniform guess over 16 levels
    card = (out / "model" / "README.md").read_text()
    assert "original PixelCNN" in card and "multiply-adds per pixel" in card
    bad = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--arch", "lstm", "--out", str(tmp_path / "bad")])
    assert bad.wait(timeout=300) != 0 and "--arch must be gated or original" in bad.stderr.read().decode()


def test_a_two_stage_run_trains_both_stages_and_then_the_sketch_alone(stripes, tmp_path):
    from safetensors.torch import load_file

    from pixelcnn import load as load_saved

    two = tmp_path / "two"
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--sketch", "4", "--sketch-levels", "8", "--cond-dropout", "0.2",
                      "--epochs", "4", "--out", str(two)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    model = load_saved(two / "model")
    assert type(model).__name__ == "TwoStagePixelCNN" and model.sketch.image_size == [2, 2] and model.class_names == ["horizontal", "vertical"]
    summary = json.loads((two / "model" / "training.json").read_text())
    # Below a uniform guess, which costs 4 bits a pixel (16 levels) plus the sketch's 3 bits a cell (8 levels) / 16.
    assert 0 < summary["test_bpd"] < 4.0 + 3 / 16 and f"{summary['test_bpd']:.4f}" in (two / "model" / "README.md").read_text()
    sketch_only = tmp_path / "sketch-only"
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--sketch", "4", "--sketch-levels", "8", "--cond-dropout", "0.2",
                      "--stage", "sketch", "--ema", "0", "--init", str(two / "model"), "--epochs", "1", "--out", str(sketch_only)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    before, after = load_file(two / "model" / "model.safetensors"), load_file(sketch_only / "model" / "model.safetensors")
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    assert changed and all(key.startswith("sketch.") for key in changed)  # the map and the detail stage stay as they were
    # Its held-out figure is what it trains: the sketch stage's bits per sketch cell, not the whole model's bits/dim.
    from pixelcnn.training.metrics import mean_loss
    from pixelcnn.training.trainset import load_data

    d = load_data("folder", str(stripes), image_size=8)
    trained = load_saved(sketch_only / "model")
    held_out = read_jsonl(sketch_only / "metrics.jsonl")[-1]["test_bpd"]
    assert held_out == pytest.approx(mean_loss(trained, d.test_x, d.test_y, stage="sketch"), rel=1e-4)
    assert abs(held_out - mean_loss(trained, d.test_x, d.test_y)) > 0.01


def test_training_with_a_spatial_map_learns_from_the_map():
    """A model conditioned on a spatial map learns images that the map decides (each image's map is
    its intensities, one-hot): on new images its held-out loss falls far below the same model's
    without the map, which can only learn the (uniform) intensities."""
    torch.manual_seed(0)

    def batch(n):
        x = torch.randint(0, 4, (n, 1, 6, 6))
        return x, torch.nn.functional.one_hot(x[:, 0], 4).permute(0, 3, 1, 2).float()  # (B, 4, H, W): the answer, pixel by pixel

    (x, cond_map), (held_x, held_map) = batch(64), batch(64)
    held_out = {}
    for channels in (0, 4):
        model = GatedPixelCNN(image_size=[6, 6], levels=4, hidden_channels=8, num_layers=2, kernel_size=3, cond_map_channels=channels)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(100):
            loss = model.bits_per_dim(x, cond_map=cond_map if channels else None).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            held_out[channels] = model.bits_per_dim(held_x, cond_map=held_map if channels else None).mean().item()
    assert held_out[0] > 1.9  # 2 bits a pixel: nothing to learn without the map
    assert held_out[4] < 0.5


def test_a_map_of_the_conditioning_starts_as_the_model_it_continues_and_then_learns(stripes, tiny_run, tmp_path):
    """--cond-map from weights without a map: the map m(h) and each layer's input from it start at
    zero, so the new model draws exactly as the one it continues; trained on, the map moves."""
    first = GatedPixelCNN.from_pretrained(tiny_run / "model").eval()
    runs = {}
    for name, lr in (("same", "0"), ("trained", "0.01")):
        runs[name] = tmp_path / name
        proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--lr", lr, "--max-steps", "20", "--cond-map", "4",
                          "--init", str(tiny_run / "model"), "--out", str(runs[name])])
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    same, trained = (GatedPixelCNN.from_pretrained(runs[k] / "model").eval() for k in ("same", "trained"))
    assert same.vector_map_channels == 4 and same.layers[0].cond_map.in_channels == 4
    x, labels = torch.randint(0, 16, (4, 1, 8, 8)), torch.tensor([0, 1, 0, 1])
    with torch.no_grad():
        assert torch.allclose(same(x, labels), first(x, labels), atol=1e-5)
        assert trained.vector_map[-1].weight.abs().sum() > 0  # the map learnt something
        assert not torch.allclose(trained(x, labels), first(x, labels), atol=1e-3)
        # A row drawn with "none" conditioning gets no map either.
        vectors = trained.conditioning_vector(2, torch.tensor([0, 1]), unconditional=torch.tensor([True, False]))
        made = trained.spatial_conditioning(vectors, None, (8, 8))
        assert made[0].abs().sum() == 0 and made[1].abs().sum() > 0
    with pytest.raises(ValueError, match="at most 8x8"):
        trained(torch.zeros(1, 1, 10, 8, dtype=torch.long), torch.tensor([0]))


def test_shifted_images_are_each_moved_by_their_own_amount_with_the_edges_repeated():
    from pixelcnn.training.augment import shifted

    x = torch.randint(0, 256, (64, 1, 6, 7))
    moved = shifted(x, 2, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x.float(), (2, 2, 2, 2), mode="replicate").long()
    amounts = set()
    for k in range(len(x)):
        found = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(moved[k], padded[k, :, dy:dy + 6, dx:dx + 7])]
        assert found, f"image {k} is not a crop of its padded self"
        amounts.add(found[0])
    assert len(amounts) > 10 and moved.dtype == x.dtype
    assert torch.equal(shifted(x, 0, torch.Generator()), x)


def test_brightened_images_are_scaled_within_the_range_and_kept_in_the_levels():
    from pixelcnn.training.augment import brightened

    x = torch.full((200, 1, 2, 2), 100)
    x[:, :, 0, 0] = 250
    out = brightened(x, 0.2, 256, torch.Generator().manual_seed(0))
    ratio = out[:, 0, 1, 1].float() / 100
    assert ratio.min() >= 0.795 and ratio.max() <= 1.205 and ratio.std() > 0.05
    assert out.max() == 255 and out.dtype == x.dtype  # 250 x 1.2 is clipped to the top level


def test_warped_images_are_turned_and_resized_each_by_its_own_amount():
    from pixelcnn.training.augment import warped

    bar = torch.zeros(32, 1, 15, 15, dtype=torch.long)
    bar[:, :, 7, 2:13] = 200  # a level horizontal bar through the centre
    assert torch.equal(warped(bar, 0, 0, 256, torch.Generator()), bar)  # nothing asked: unchanged
    turned = warped(bar, 90, 0, 256, torch.Generator().manual_seed(0))
    assert turned.dtype == bar.dtype and int(turned.max()) <= 255
    tilt = [(img[0].float() * torch.arange(15.0)[:, None]).sum() / img.sum() for img in turned]
    spread = [float((img[0] > 100).any(1).sum()) for img in turned]  # rows the bar now crosses
    assert max(spread) >= 8 and min(spread) <= 3  # some nearly upright, some still nearly level
    assert all(abs(float(t) - 7) < 0.6 for t in tilt)  # turned about the centre: its middle stays
    zoomed = warped(bar, 0, 0.3, 256, torch.Generator().manual_seed(1))
    lengths = {int((img[0, 7] > 100).sum()) for img in zoomed}
    assert min(lengths) <= 10 and max(lengths) >= 12 and all(7 <= n <= 15 for n in lengths)


def test_an_augmented_run_with_weight_decay_trains_and_its_card_says_how(stripes, tmp_path):
    out = tmp_path / "run"
    proc = run_train(["--dataset", "folder", "--folder", str(stripes), *TINY, "--epochs", "2", "--shift", "1", "--brightness", "0.1",
                      "--rotate", "10", "--zoom", "0.1", "--weight-decay", "0.01", "--out", str(out)])
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    training = json.loads((out / "model" / "training.json").read_text())["training"]
    assert "AdamW (weight decay 0.01)" in training and "moved by up to 1 px" in training and "brightness x[0.9, 1.1]" in training
    assert "turned by up to 10 degrees" in training and "resized by up to x1.1" in training
    metrics = read_jsonl(out / "metrics.jsonl")
    assert metrics[-1]["test_bpd"] < 4.0  # learnt something: log2(16) = 4 bits is a uniform guess
