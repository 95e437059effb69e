"""`python -m ocr.evaluate pages` on a tiny folder in the SROIE layout, its bag-of-words
metric on hand-made cases, the calibration tables, and `python -m ocr.read`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr.evaluate import main as evaluate_main
from ocr.page.calibration import Calibration, apply, group_of, isotonic
from ocr.page.evaluation import (
    BagScore,
    PageScores,
    Segment,
    bag_score,
    load_segments,
    sroie_pages,
    tokens,
    word_boxes,
)
from ocr.read import main as read_main
from ocr.recognition.ctc import Decoded
from ocr.synthetic import render_document, render_word


def test_bag_of_words_is_a_multiset_match() -> None:
    assert bag_score(["x", "x", "x"], ["x"]) == BagScore(matched=1, found=3, truth=1)
    score = bag_score(["a", "A", "b"], ["a", "a", "c"])
    assert score == BagScore(matched=2, found=3, truth=3)
    assert score.precision == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 / 3)
    assert bag_score(["A", "a"], ["a", "a"], case=True).matched == 1
    assert bag_score([], ["a"]).f1 == 0.0


def test_punctuation_counts_and_is_also_left_out() -> None:
    scores = PageScores()
    scores.add(tokens(["TOTAL 3.98"]), tokens(["total : 3.98", "-"]), 0.1)
    assert scores.nocase == BagScore(matched=2, found=2, truth=4)
    assert scores.words_only == BagScore(matched=2, found=2, truth=2)
    summary = scores.summary()
    assert summary["word_f1_nocase"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["word_f1_nocase_no_punct"] == 1.0
    assert summary["word_f1"] == pytest.approx(1 / 3, abs=1e-4)  # strict: "TOTAL" is not "total"


def test_segments_quadrilaterals_and_commas_in_text(tmp_path: Path) -> None:
    csv = tmp_path / "x.box.csv"
    csv.write_text("10,20,110,20,110,40,10,40,TOTAL: 3,98\n1,1,2\n", encoding="utf-8")
    (segment,) = load_segments(csv)
    assert segment.text == "TOTAL: 3,98"
    assert (segment.box.x, segment.box.y, segment.box.width, segment.box.height) == (
        10,
        20,
        100,
        20,
    )
    boxes = word_boxes(segment)
    assert len(boxes) == 2
    assert boxes[0].x == 10
    assert boxes[1].right == 110


def write_sroie_folder(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        document = render_document(kind="receipt", seed=index)
        document.image.convert("RGB").save(folder / f"{index:03d}.jpg", quality=95)
        rows = []
        for word in document.words:
            b = word.box
            x0, y0, x1, y1 = b.x, b.y, b.x + b.width, b.y + b.height
            rows.append(f"{x0},{y0},{x1},{y0},{x1},{y1},{x0},{y1},{word.text}\n")
        (folder / f"{index:03d}.box.csv").write_text("".join(rows), encoding="utf-8")
    return folder


def test_the_halves_are_even_and_odd_positions(tmp_path: Path) -> None:
    for name in ("b", "a", "d", "c"):
        (tmp_path / f"{name}.jpg").write_bytes(b"")
        (tmp_path / f"{name}.box.csv").write_text("", encoding="utf-8")
    assert [p.stem for p in sroie_pages(tmp_path, half="tuning")] == ["a", "c"]
    assert [p.stem for p in sroie_pages(tmp_path, half="reporting")] == ["b", "d"]


def test_evaluate_pages_ends_with_one_json_line(tmp_path: Path, capsys) -> None:
    data = write_sroie_folder(tmp_path / "receipts", 2)
    from ocr.recognition.predictor import DEFAULT_WEIGHTS

    argv = ["pages", "--data", str(data), "--limit", "1", "--half", "all"]
    assert evaluate_main([*argv, "--weights", str(DEFAULT_WEIGHTS)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    for key in ("word_f1_nocase", "precision_nocase", "recall_nocase", "s_per_page_median"):
        assert 0.0 <= result[key] <= 60.0
    assert result["pages"] == 1
    assert result["word_f1_nocase"] > 0.5  # clean synthetic print reads well


def test_evaluate_pages_oracle_boxes_and_turned(tmp_path: Path, capsys) -> None:
    data = write_sroie_folder(tmp_path / "receipts", 1)
    argv = ["pages", "--data", str(data), "--oracle-boxes"]
    assert evaluate_main(argv) == 0
    oracle = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert oracle["oracle_boxes"] is True
    assert oracle["word_f1_nocase"] > 0.7
    assert evaluate_main(["pages", "--data", str(data), "--turned"]) == 0
    turned = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for angle in (0, 90, 180, 270):
        assert abs(turned[f"word_f1_nocase_{angle}"] - turned["word_f1_nocase_0"]) <= 0.02


def test_calibration_is_monotone_and_lifts_a_lexicon_word() -> None:
    knots = isotonic([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 1, 1], bins=6)
    ys = [y for _, y in knots]
    assert ys == sorted(ys)
    assert apply([[0.0, 0.0], [1.0, 0.5]], 0.5) == pytest.approx(0.25)
    assert group_of("review", True) == "lexicon"
    assert group_of("98", False) == "short"
    assert group_of("3.98", False) == "number"
    calibration = Calibration(words={"lexicon": [[0.0, 0.4], [0.1, 0.9]]}, chars_table=[])
    assert calibration.word(Decoded("review", 0.06, (0.5,) * 6, lexicon=True)) == pytest.approx(0.7)
    assert calibration.word(Decoded("", 0.9, ())) == 0.0


def test_the_shipped_tables_calibrate_a_lexicon_replacement_upwards() -> None:
    from ocr.page.calibration import default_calibration

    shipped = default_calibration()
    assert set(shipped.words) >= {"lexicon", "known"}
    assert shipped.word(Decoded("review", 0.06, (0.9,) * 6, lexicon=True)) > 0.3


def test_the_cli_prints_text_and_json(tmp_path: Path, capsys) -> None:
    image = tmp_path / "word.png"
    render_word("TOTAL", height=48).save(image)
    assert read_main([str(image)]) == 0
    assert capsys.readouterr().out.strip() == "TOTAL"
    assert read_main([str(image), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rotation"] == 0
    (line,) = data["lines"]
    assert [word["text"] for word in line["words"]] == ["TOTAL"]


def test_segment_is_a_value() -> None:
    assert Segment("a", word_boxes(Segment("a b", _box()))[0]) == Segment(
        "a", word_boxes(Segment("a b", _box()))[0]
    )


def _box():
    from ocr.detector import WordBox

    return WordBox(0, 0, 30, 10)
