"""The development split and the receipt word-crop figures the detector is scored by."""

from pathlib import Path

import pytest

from ocr.detection.measure import ReceiptScore, Segment, estimated_words, load_sroie_segments
from ocr.detector import WordBox
from ocr.devsplit import development_half
from ocr.evaluate import match_boxes


def test_halves_are_even_and_odd_positions_of_the_sorted_list():
    names = ["d.png", "a.png", "c.png", "b.png", "e.png"]
    assert development_half(names, "tuning") == ["a.png", "c.png", "e.png"]
    assert development_half(names, "reporting") == ["b.png", "d.png"]
    assert development_half(names, "all") == sorted(names)
    with pytest.raises(ValueError, match="half must be one of"):
        development_half(names, "test")


def test_segment_words_are_placed_by_their_characters():
    segment = Segment(WordBox(x=100, y=10, width=100, height=20), "AB CD")
    assert estimated_words(segment) == [
        WordBox(x=100, y=10, width=40, height=20),
        WordBox(x=160, y=10, width=40, height=20),
    ]


def test_receipt_score_counts_words_and_boxes_across_gaps(tmp_path: Path):
    csv = tmp_path / "001.box.csv"
    csv.write_text(
        "100,10,200,10,200,30,100,30,AB CD\n300,10,340,10,340,30,300,30,TOTAL\n",
        encoding="utf-8",
    )
    segments = load_sroie_segments(csv)
    detected = [
        WordBox(x=100, y=10, width=100, height=20),  # both words of the first segment
        WordBox(x=300, y=10, width=40, height=20),  # the single word
        WordBox(x=600, y=200, width=30, height=20),  # off the text
    ]

    score = ReceiptScore()
    score.add(detected, segments, match_boxes)

    assert score.summary() == {
        "single_word_recall": 1.0,
        "word_recall_est": pytest.approx(1 / 3, abs=1e-4),
        "gap_span_rate": 0.5,
        "off_text_rate": pytest.approx(1 / 3, abs=1e-4),
    }
