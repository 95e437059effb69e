"""A rendered page turned by 90, 180 or 270 degrees is found and turned upright."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ocr.detector import detect_words
from ocr.page import read_page
from ocr.page.orientation import lines_run_down, turn, upright
from ocr.page.reader import to_gray
from ocr.synthetic import render_document


@functools.cache
def page() -> np.ndarray:
    return np.asarray(render_document(kind="receipt", seed=3).image.convert("L"))


def test_turn_undoes_a_counter_clockwise_quarter() -> None:
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for quarters in range(4):
        assert np.array_equal(turn(np.rot90(image, quarters), 90 * quarters), image)


def test_lines_run_across_an_upright_page_and_down_a_turned_one() -> None:
    assert not lines_run_down(page())
    assert lines_run_down(np.ascontiguousarray(np.rot90(page())))


@pytest.mark.parametrize("quarters", [0, 1, 2, 3])
def test_a_turned_page_is_found_and_turned_upright(quarters: int) -> None:
    turned = np.ascontiguousarray(np.rot90(page(), quarters))
    image, rotation, boxes = upright(turned, detect=detect_words)
    assert rotation == 90 * quarters
    assert np.array_equal(image, page())
    assert boxes


def test_read_page_reports_the_rotation_and_reads_upright_coordinates() -> None:
    upside_down = np.ascontiguousarray(np.rot90(page(), 2))
    reading = read_page(upside_down)
    assert reading.rotation == 180
    assert (reading.height, reading.width) == page().shape
    assert np.array_equal(to_gray(reading.image), page())
    assert len(reading.words) > 10


def test_the_upside_down_vote_reuses_the_quarter_questions_wide_regions() -> None:
    from ocr.detector import WordBox
    from ocr.page.orientation import SHARED_VOTES, upside_down_votes

    wide, tall = WordBox(0, 0, 60, 20), WordBox(0, 0, 20, 20)
    down = (0.1, 0.0, 0.9, 0.0)  # "upside down" over "as is", 9 to 1
    votes = upside_down_votes([wide] * SHARED_VOTES + [tall], [down] * (SHARED_VOTES + 1))
    assert votes == pytest.approx(SHARED_VOTES * np.log(9))  # the square box has no say
    # Too few wide words among the regions: the widest words are read for the vote.
    assert upside_down_votes([wide] * (SHARED_VOTES - 1), [down] * (SHARED_VOTES - 1)) is None


def test_an_upright_page_asks_the_classifier_once() -> None:
    from ocr.page.orientation import default_classifier

    calls = []

    class Counting:
        def predict(self, crops):
            calls.append(len(crops))
            return default_classifier().predict(crops)

    upside_down = np.ascontiguousarray(np.rot90(page(), 2))
    for image, expected in ((page(), 0), (upside_down, 180)):
        calls.clear()
        _, rotation, _ = upright(image, detect=detect_words, classifier=Counting())
        assert rotation == expected
        assert len(calls) == 1
