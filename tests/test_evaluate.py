"""The evaluation CLI on the bundled MNIST models: bits/dim, classifier, drawings measured at each setting."""

import json
import shutil

import pytest

from pixelcnn.cli import main as pixelcnn_main

from .helpers import ROOT



def bundled_copy(tmp_path, cond_dropout):
    """The bundled MNIST model in a folder of its own, its config saying whether it learnt a "none" branch."""
    folder = tmp_path / f"mnist-{cond_dropout}"
    shutil.copytree(ROOT / "assets" / "mnist", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "cond_dropout": cond_dropout}))
    return folder


def run(args, capsys):
    pixelcnn_main(["evaluate"] + args)
    out = capsys.readouterr().out
    return json.loads(next(line for line in out.splitlines() if line.startswith("{"))), out


def test_evaluate_sweeps_guidance_and_temperature_and_writes_the_card(tmp_path, capsys):
    folder = bundled_copy(tmp_path, 0.15)
    args = [str(folder), "--dataset", "mnist", "--per-class", "3", "--guidance", "0,2", "--temperature", "0.9,1", "--write-card"]
    first, out = run(args, capsys)
    assert first["classifier_test_accuracy"] > 0.95  # the judge itself must be good
    assert abs(first["test_bpd"] - 1.1171) < 1e-4  # the bundled card's held-out figure, measured again
    found = {s["setting"]: s for s in first["settings"]}
    assert list(found) == ["w 0, t 0.9", "w 0, t 1", "w 2, t 0.9", "w 2, t 1"]
    # 30 samples a setting: each share is a whole number of thirtieths, and guided samples are mostly their class.
    assert all(abs(30 * s["accuracy"] - round(30 * s["accuracy"])) < 1e-9 for s in found.values())
    assert found["w 2, t 1"]["accuracy"] >= 0.5
    for s in found.values():  # each measure beside its floor; a cooler softmax draws more typical images for the model
        assert s["frechet"] > 0 and s["frechet_floor"] > 0 and 0 <= s["precision"] <= 1 and s["variety"] > 0
    assert found["w 0, t 0.9"]["samples_bpd"] < found["w 0, t 1"]["samples_bpd"]
    acceptable = [s for s in found.values() if s["frechet"] <= 1.5 * s["frechet_floor"] and s["variety"] >= 0.8]
    assert [s["acceptable"] for s in found.values()] == [s in acceptable for s in found.values()]
    if acceptable:
        assert found[first["chosen"]]["accuracy"] == max(s["accuracy"] for s in acceptable)
    else:
        assert first["chosen"] is None
    assert "| 2 | 0.9 |" in out and "| 0 | 1 |" in out
    run(args, capsys)  # again: the card's section is replaced, not repeated
    card = (folder / "README.md").read_text()
    assert card.count("## Evaluation") == 1
    assert f"{first['test_bpd']:.4f}" in card and "pixelcnn evaluate" in card and "| guidance | temperature |" in card


def test_a_model_without_a_none_branch_is_measured_unguided(tmp_path, capsys):
    result, _ = run([str(bundled_copy(tmp_path, 0.0)), "--dataset", "mnist", "--per-class", "2", "--guidance", "0,1,3"], capsys)
    assert [s["setting"] for s in result["settings"]] == ["w 0, t 1"]


def test_a_two_stage_model_is_swept_per_stage(capsys):
    result, out = run([str(ROOT / "assets" / "mnist-sketch"), "--dataset", "mnist", "--per-class", "2", "--guidance", "1",
                       "--sketch-temperature", "0.8", "--detail-guidance", "0,1", "--temperature", "1"], capsys)
    assert [s["setting"] for s in result["settings"]] == ["sketch w 1 t 0.8, detail w 0 t 1", "sketch w 1 t 0.8, detail w 1 t 1"]
    assert "| sketch guidance | sketch temperature | detail guidance | temperature |" in out
    assert "| 1 | 0.8 | 0 | 1 |" in out and "| 1 | 0.8 | 1 | 1 |" in out


@pytest.mark.parametrize("flag, value, words", [("--guidance", "1,x", "--guidance takes numbers separated"),
                                                ("--guidance", "-1", "--guidance takes numbers of at least 0"),
                                                ("--temperature", "0", "--temperature takes numbers above 0"),
                                                ("--sketch-temperature", "nan", "--sketch-temperature takes numbers above 0")])
def test_bad_setting_lists_are_refused(capsys, flag, value, words):
    with pytest.raises(SystemExit):
        pixelcnn_main(["evaluate"] + [str(ROOT / "assets" / "mnist"), "--dataset", "mnist", flag, value])
    assert words in capsys.readouterr().err


def test_the_model_as_a_classifier_on_held_out_digits(capsys):
    result, out = run([str(ROOT / "assets" / "mnist"), "--dataset", "mnist", "--per-class", "0", "--bayes-images", "40"], capsys)
    assert set(result) == {"test_bpd", "bayes_accuracy"}  # --per-class 0: no samples drawn
    assert result["bayes_accuracy"] > 0.5  # chance is 10%
    assert f"{100 * result['bayes_accuracy']:.1f}%** of 40 held-out test images" in out


def test_a_runs_final_weights_can_be_measured_beside_its_average(tmp_path, capsys):
    import torch

    from pixelcnn import load as load_saved

    folder = bundled_copy(tmp_path, 0.15)
    model = load_saved(folder)
    shifted = {k: v + 0.01 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"model": shifted, "step": 1}, tmp_path / "checkpoint.pt")
    (tmp_path / "model").symlink_to(folder)  # RUN/model beside RUN/checkpoint.pt
    saved, _ = run([str(tmp_path / "model"), "--dataset", "mnist", "--per-class", "0"], capsys)
    final, _ = run([str(tmp_path / "model"), "--dataset", "mnist", "--per-class", "0", "--weights", "final"], capsys)
    assert final["test_bpd"] != saved["test_bpd"]
    # With the card, the final weights replace the folder's: the card describes what is beside it.
    run([str(tmp_path / "model"), "--dataset", "mnist", "--per-class", "0", "--weights", "final", "--write-card"], capsys)
    again, _ = run([str(tmp_path / "model"), "--dataset", "mnist", "--per-class", "0"], capsys)
    assert again["test_bpd"] == pytest.approx(final["test_bpd"], abs=1e-9)
    assert "the run's final weights, before averaging" in (folder / "README.md").read_text()
    with pytest.raises(SystemExit, match="needs the run's checkpoint"):
        pixelcnn_main(["evaluate"] + [str(bundled_copy(tmp_path / "no-run", 0.15)), "--dataset", "mnist", "--per-class", "0", "--weights", "final"])


def test_the_detail_stage_alone_is_measured_over_training_images_sketches(capsys):
    result, out = run([str(ROOT / "assets" / "mnist-sketch"), "--dataset", "mnist", "--per-class", "2", "--guidance", "1",
                       "--sketch-temperature", "0.8,1", "--temperature", "1", "--real-sketches"], capsys)
    assert len(result["settings"]) == 2 and len(result["real_sketches"]) == 1  # one detail setting, whatever the sketch stage's
    assert "| sketches | detail guidance | temperature |" in out and "| training images' | 0 | 1 |" in out
    assert 0.0 <= result["real_sketches"][0]["accuracy"] <= 1.0 and result["real_sketches"][0]["frechet"] > 0


def test_drawings_over_real_sketches_follow_those_sketches():
    import numpy as np
    import torch

    from pixelcnn import data as datasets
    from pixelcnn.evaluation.judge import draw_over_real_sketches
    from pixelcnn.studio import shelf

    model, d = shelf.bundled("mnist-sketch"), datasets.load_dataset("mnist")
    images, labels = draw_over_real_sketches(model, d, 2, 5, {"temperature": 1.0})
    rng = np.random.default_rng(5)  # the same training images the function chose
    chosen = np.concatenate([rng.choice(np.flatnonzero(d.train_y == c), 2, replace=False) for c in range(10)])
    assert (labels == d.train_y[chosen]).all() and images.shape == (20, 1, 28, 28)
    given = model.sketch_of(torch.from_numpy(datasets.quantize(d.train_x[chosen], model.levels))).float()
    drawn = model.sketch_of(torch.from_numpy(datasets.quantize(images, model.levels))).float()
    assert (drawn - given).abs().mean() < 0.5 * (drawn - given.roll(1, 0)).abs().mean()  # each over its own sketch, not another's
