"""The evaluation CLI on the bundled MNIST model: bits/dim, classifier, sample class accuracy."""

import json
import shutil
from pathlib import Path

from pixelcnn import evaluate

ROOT = Path(__file__).resolve().parent.parent


def test_evaluate_reports_and_writes_the_card(tmp_path, capsys):
    folder = tmp_path / "mnist"
    shutil.copytree(ROOT / "assets" / "mnist", folder)
    args = [str(folder), "--dataset", "mnist", "--per-class", "3", "--write-card"]
    evaluate.main(args)
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["classifier_test_accuracy"] > 0.95  # the judge itself must be good
    assert 0.0 <= first["sample_class_accuracy"] <= 1.0
    assert 0.5 < first["test_bpd"] < 8.0
    evaluate.main(args)  # again: the card's section is replaced, not repeated
    card = (folder / "README.md").read_text()
    assert card.count("## Evaluation") == 1
    assert f"{first['test_bpd']:.4f}" in card and "python -m pixelcnn.evaluate" in card
