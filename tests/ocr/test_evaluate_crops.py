"""`python -m ocr.evaluate --crops DIR`: metrics on a folder, one JSON line at the end."""

import json
from pathlib import Path

import pytest

from ocr import evaluate
from ocr.recognition.predictor import DEFAULT_WEIGHTS
from tests.ocr.conftest import write_crops_folder

WORDS = ["TOTAL", "CASH", "Receipt", "12.50", "Invoice", "CHANGE", "Amount", "2024-03-15"]

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped weights")


@pytest.fixture
def crops_folder(tmp_path: Path) -> Path:
    return write_crops_folder(tmp_path, WORDS, height=30)


def test_prints_metrics_and_ends_with_one_json_line(crops_folder, capsys):
    assert evaluate.main(["--crops", str(crops_folder)]) == 0

    output = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(output[-1])
    assert set(summary) >= {"engine", "n", "accuracy", "accuracy_ci", "cer", "cer_ci"}
    assert summary["engine"] == "crnn"
    assert summary["n"] == len(WORDS)
    assert summary["crops_per_s"] > 0
    low, high = summary["accuracy_ci"]
    assert low <= summary["accuracy"] <= high
    # Clean renderings of common receipt words: the shipped model reads most of them.
    assert summary["accuracy_nocase"] >= 0.75
    assert any(line.startswith("accept if confidence") for line in output)


def test_limit_reads_only_the_first_crops(crops_folder, capsys):
    evaluate.main(["--crops", str(crops_folder), "--limit", "3"])

    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 3


def test_needs_crops_or_a_command(capsys):
    with pytest.raises(SystemExit):
        evaluate.main([])
