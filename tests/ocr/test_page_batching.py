"""What keeps the page reader's reads cheap without changing what they say: a crop reads
the same whatever it is batched with, batches hold crops of similar widths, no candidate
crop is read twice, and the orientation classifier's fused copy answers as the model."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from ocr.detector import WordBox
from ocr.orientation.predictor import OrientationClassifier
from ocr.page.reader import _Read, crop
from ocr.page.transform import _candidates
from ocr.page.types import ReaderConfig
from ocr.recognition.predictor import Predictor, buckets
from ocr.recognition.preprocess import batch_tensor, to_gray
from ocr.synthetic import render_word

WORDS = ["TOTAL", "RM", "3.98", "Cashier:", "THANK YOU", "12/02/2018", "a", "Receipt"]


@functools.cache
def predictor() -> Predictor:
    return Predictor(threads=1)


def crops() -> list[np.ndarray]:
    return [to_gray(render_word(word, seed=i)) for i, word in enumerate(WORDS)]


def test_a_crop_reads_the_same_alone_and_in_any_batch() -> None:
    together = predictor().predict(crops())
    alone = [predictor().predict([c])[0] for c in crops()]
    in_pairs = Predictor(threads=1, batch_size=2).predict(crops()[::-1])[::-1]
    for reading in (alone, in_pairs):
        assert [r.text for r in reading] == [r.text for r in together]
        for a, b in zip(reading, together, strict=True):
            assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
            assert a.char_confidences == pytest.approx(b.char_confidences, abs=1e-4)
    assert [r.text for r in together][:3] == ["TOTAL", "RM", "3.98"]


def test_batches_hold_crops_of_similar_widths_narrowest_first() -> None:
    widths = [16, 200, 18, 190, 20, 60]
    assert buckets(widths, batch_size=64) == [[0, 2, 4], [5], [3, 1]]
    assert buckets(widths, batch_size=2) == [[0, 2], [4], [5], [3, 1]]
    assert buckets([], batch_size=8) == []


def reading(box: WordBox, text: str, confidence: float) -> _Read:
    return _Read(box, text, confidence, (confidence,) * len(text), "accepted")


def test_a_box_with_one_wide_gap_is_split_once_and_never_read_again_whole() -> None:
    gray = np.full((40, 200), 255, np.uint8)
    for x in [*range(10, 80, 8), *range(100, 190, 8)]:  # letters' strokes
        gray[10:30, x : x + 3] = 0  # one gap wider than a letter's: 20 columns at 80
    box = WordBox(10, 10, 180, 20)
    candidates = _candidates(gray, [reading(box, "THANKYOU", 0.5)], {0}, ReaderConfig(), crop)
    splits = [c for c in candidates if c.kind == "split"]
    assert [len(c.boxes) for c in splits] == [2]
    assert splits[0].boxes[0].right <= splits[0].boxes[1].x


def test_a_word_the_lexicon_knows_is_not_split() -> None:
    gray = np.full((40, 200), 255, np.uint8)
    for x in [*range(10, 80, 8), *range(100, 190, 8)]:
        gray[10:30, x : x + 3] = 0
    box = WordBox(10, 10, 180, 20)
    for text, splits in (("THANKYOU", 1), ("TOTAL", 0)):
        candidates = _candidates(gray, [reading(box, text, 0.5)], {0}, ReaderConfig(), crop)
        assert [c.kind for c in candidates] == ["split"] * splits


def kinds(first: list[_Read], **config) -> list[str]:
    gray = np.full((40, 200), 255, np.uint8)
    middle = {i for i, r in enumerate(first) if r.confidence < 0.95}
    return [
        c.kind for c in _candidates(gray, first, middle, ReaderConfig(split=False, **config), crop)
    ]


LEFT, RIGHT = WordBox(10, 10, 60, 20), WordBox(74, 10, 60, 20)


def test_two_lexicon_words_side_by_side_are_not_tried_as_one() -> None:
    pair = [reading(LEFT, "TOTAL", 0.6), reading(RIGHT, "AMOUNT", 0.6)]
    assert kinds(pair) == []
    assert kinds(pair, combine_known_pairs=True) == ["combine"]
    assert kinds([reading(LEFT, "TOTAL", 0.6), reading(RIGHT, "98", 0.9)]) == ["combine"]


def test_two_long_pieces_are_tried_as_one_only_when_one_is_unsure() -> None:
    assert kinds([reading(LEFT, "TOTAL", 0.8), reading(RIGHT, "A4S9Z", 0.75)]) == []
    assert kinds([reading(LEFT, "TOTAL", 0.8), reading(RIGHT, "A4S9Z", 0.5)]) == ["combine"]
    assert kinds([reading(LEFT, "Amou", 0.9), reading(RIGHT, "nt", 0.9)]) == ["combine"]


def test_the_orientation_classifier_answers_as_its_model() -> None:
    from ocr.orientation.data import prepare

    classifier = OrientationClassifier(threads=1)
    pictures = crops()
    found = classifier.predict(pictures)
    prepared = [prepare(picture) for picture in pictures]
    with torch.inference_mode():
        images, _ = batch_tensor([pixels for pixels, _ in prepared])
        probs = classifier.model(images).softmax(-1).numpy()
    for orientation, (_, taken), row in zip(found, prepared, probs, strict=True):
        expected = [float(row[(k - taken) % 4]) for k in range(4)]
        assert orientation.probabilities == pytest.approx(expected, abs=1e-4)
