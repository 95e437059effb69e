"""The detector's faster steps give what the slower ones they replaced gave: the box
filter's dark ground and the medianBlur's, the sorted-array median and np.median, the
reading order kept with sorted lists and with np.median."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import ocr.detection.boxes as boxes_module
from ocr.detection.boxes import WordBox, median, reading_order
from ocr.detection.components import _median_below


@pytest.mark.parametrize("side", [3, 5, 15, 31])
def test_dark_ground_by_counting_is_the_median_filter_below_the_level(side):
    # Given grey pages of blotches and noise, some of them dark around the level
    rng = np.random.default_rng(side)
    for _ in range(5):
        coarse = rng.integers(0, 256, size=(12, 9)).astype(np.uint8)
        page = cv2.resize(coarse, (97, 131), interpolation=cv2.INTER_LINEAR)
        page = np.clip(page.astype(int) + rng.integers(-40, 40, page.shape), 0, 255)
        page = page.astype(np.uint8)

        # When the ground is found by counting the dark pixels of each window
        ground = _median_below(page, side, 110)

        # Then it is where the median filter's value is below the level
        np.testing.assert_array_equal(ground, cv2.medianBlur(page, side) < 110)


def test_median_is_numpy_median():
    rng = np.random.default_rng(0)
    for size in [1, 2, 3, 4, 7, 10, 51]:
        ints = rng.integers(-50, 500, size=size)
        floats = rng.normal(size=size) * 30
        assert median(ints) == float(np.median(ints))
        assert median(floats) == float(np.median(floats))


def test_reading_order_is_the_numpy_median_order(monkeypatch):
    # Given pages of words on wavy, crowded lines of uneven heights
    rng = np.random.default_rng(3)
    for _ in range(20):
        boxes = []
        for line in range(rng.integers(1, 30)):
            baseline = 40 * line + int(rng.integers(-12, 12))
            for word in range(rng.integers(1, 8)):
                height = int(rng.integers(8, 40))
                top = baseline - height + int(rng.integers(-6, 6))
                boxes.append(
                    WordBox(x=60 * word + int(rng.integers(0, 30)), y=top, width=40, height=height)
                )

        # When they are put in reading order
        ordered = reading_order(boxes)

        # Then it is the order np.median over each line's unsorted boxes gave
        with monkeypatch.context() as numpy_medians:
            numpy_medians.setattr(boxes_module.bisect, "insort", list.append)
            numpy_medians.setattr(
                boxes_module, "_median_of_sorted", lambda values: float(np.median(values))
            )
            assert ordered == reading_order(boxes)


def _dedupe_one_by_one(words: np.ndarray, overlap: float) -> list[tuple[int, ...]]:
    """Biggest first (ties in their given order), each box kept unless a kept one covers
    `overlap` of its area: the rule `dedupe` follows, box by box."""
    area = lambda w: (w[2] - w[0]) * (w[3] - w[1])  # noqa: E731
    kept: list[tuple[int, ...]] = []
    for k in sorted(range(len(words)), key=lambda k: -area(words[k])):
        box = tuple(int(v) for v in words[k])
        shared = [
            max(0, min(box[2], o[2]) - max(box[0], o[0]))
            * max(0, min(box[3], o[3]) - max(box[1], o[1]))
            for o in kept
        ]
        if not any(s >= overlap * max(1, area(box)) for s in shared):
            kept.append(box)
    return kept


@pytest.mark.parametrize("count", [0, 1, 2, 30, 700])
def test_dedupe_keeps_what_the_box_by_box_rule_keeps(count, monkeypatch):
    # Given crowded boxes, many nested, some of equal size, in blocks smaller than the page
    monkeypatch.setattr(boxes_module, "_DEDUPE_BLOCK", 64)
    rng = np.random.default_rng(count)
    x0 = rng.integers(0, 400, count)
    y0 = rng.integers(0, 400, count)
    sizes = rng.choice([5, 10, 20, 40], size=(count, 2))
    words = np.stack([x0, y0, x0 + sizes[:, 0], y0 + sizes[:, 1]], axis=1).astype(np.int64)

    # When duplicates are dropped, then the same boxes are kept, in the same order
    kept = boxes_module.dedupe(words, 0.7)
    assert [tuple(int(v) for v in w) for w in kept] == _dedupe_one_by_one(words, 0.7)
