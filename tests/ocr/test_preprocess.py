"""A crop cut down to its ink before it is read (``preprocess.cut_to_ink``)."""

import numpy as np

from ocr.recognition.preprocess import cut_to_ink


def page(height: int = 60, width: int = 200, paper: int = 235) -> np.ndarray:
    return np.full((height, width), paper, np.uint8)


def test_a_loose_crop_is_cut_to_its_ink_with_a_thin_margin():
    crop = page()
    crop[20:40, 50:150] = 20  # a word: 20 px of ink tall, 100 wide

    cut = cut_to_ink(crop)

    # A margin of 6% of the ink's height (1 px) on every side.
    assert cut.shape == (22, 102)
    assert (cut[1:-1, 1:-1] == 20).all()


def test_light_print_on_a_dark_ground_is_cut_to_the_print():
    crop = page(paper=30)
    crop[10:50, 20:120] = 240

    assert cut_to_ink(crop).shape == (40 + 2 * 2, 100 + 2 * 2)


def test_a_crop_without_contrast_is_left_as_it_is():
    crop = page()
    crop[20:40, 50:150] = 215  # a smudge 20 gray levels off the paper

    assert cut_to_ink(crop) is crop


def test_a_sliver_of_ink_is_left_as_it_is():
    """Empty crops show specks and the edge of a neighbour's letter; cut down to that,
    the recognizer would read it as a character."""
    edge = page()
    edge[5:55, 0:8] = 20  # the edge of a letter, 4% of the width
    speck = page()
    speck[28:32, 90:94] = 20

    assert cut_to_ink(edge) is edge
    assert cut_to_ink(speck) is speck


def test_an_empty_crop_is_left_as_it_is():
    empty = np.zeros((0, 10), np.uint8)

    assert cut_to_ink(empty) is empty
