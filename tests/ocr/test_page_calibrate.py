"""`python -m ocr.page.calibrate --tuning-only` fits on the tuning half and never reads the
reporting half."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr.page import calibrate


@pytest.mark.parametrize(
    ("flags", "halves"), [([], ["tuning", "reporting"]), (["--tuning-only"], ["tuning"])]
)
def test_the_reporting_half_is_read_only_when_asked(
    monkeypatch, tmp_path: Path, flags: list[str], halves: list[str]
) -> None:
    asked: list[str] = []

    def pages(data, *, half, limit):
        asked.append(half)
        return []

    monkeypatch.setattr(calibrate, "sroie_pages", pages)
    monkeypatch.setattr(calibrate, "collect", lambda pages, predictor: [])
    monkeypatch.setattr("ocr.recognition.predictor.Predictor", lambda *args, **kwargs: None)
    out = tmp_path / "tables.json"

    assert calibrate.main(["--data", str(tmp_path), "--out", str(out), *flags]) == 0

    assert asked == halves
    assert "words" in json.loads(out.read_text(encoding="utf-8"))
