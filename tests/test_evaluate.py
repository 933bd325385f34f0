"""The evaluation CLI on the bundled MNIST model: bits/dim, classifier, sample class accuracy by guidance."""

import json
import shutil
from pathlib import Path

import pytest

from pixelcnn.cli import main as pixelcnn_main

ROOT = Path(__file__).resolve().parent.parent


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


def test_evaluate_sweeps_guidance_and_writes_the_card(tmp_path, capsys):
    folder = bundled_copy(tmp_path, 0.15)
    args = [str(folder), "--dataset", "mnist", "--per-class", "3", "--guidance", "0,2", "--write-card"]
    first, out = run(args, capsys)
    assert first["classifier_test_accuracy"] > 0.95  # the judge itself must be good
    assert abs(first["test_bpd"] - 1.1171) < 1e-4  # the bundled card's held-out figure, measured again
    assert set(first["sample_class_accuracy"]) == {"0.0", "2.0"}
    # 30 samples a guidance value: each share is a whole number of thirtieths, and guided samples are mostly their class.
    assert all(abs(30 * a - round(30 * a)) < 1e-9 for a in first["sample_class_accuracy"].values())
    assert first["sample_class_accuracy"]["2.0"] >= 0.5
    best = first["best_guidance"]
    assert first["sample_class_accuracy"][str(best)] == max(first["sample_class_accuracy"].values())
    assert "| 0 |" in out and "| 2 |" in out
    run(args, capsys)  # again: the card's section is replaced, not repeated
    card = (folder / "README.md").read_text()
    assert card.count("## Evaluation") == 1
    assert f"{first['test_bpd']:.4f}" in card and "pixelcnn evaluate" in card and "| guidance |" in card


def test_a_model_without_a_none_branch_is_measured_unguided(tmp_path, capsys):
    result, _ = run([str(bundled_copy(tmp_path, 0.0)), "--dataset", "mnist", "--per-class", "2", "--guidance", "0,1,3"], capsys)
    assert set(result["sample_class_accuracy"]) == {"0.0"} and result["best_guidance"] == 0.0


def test_bad_guidance_list_is_refused(capsys):
    with pytest.raises(SystemExit):
        pixelcnn_main(["evaluate"] + [str(ROOT / "assets" / "mnist"), "--dataset", "mnist", "--guidance", "1,x"])
    assert "--guidance takes numbers" in capsys.readouterr().err


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
