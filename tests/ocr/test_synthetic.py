"""The synthetic page generator: deterministic, with truth that matches the picture."""

import numpy as np
import pytest

from ocr.synthetic import KINDS, render_document, render_word


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_words_inside_the_page(kind):
    document = render_document(kind=kind, seed=0)

    assert document.image.mode in ("L", "RGB")
    assert len(document.words) >= 10
    width, height = document.image.size
    for word in document.words:
        assert word.text.strip() == word.text
        assert word.text
        assert word.box.width > 0
        assert word.box.height > 0
        assert word.box.x >= 0
        assert word.box.y >= 0
        assert word.box.right <= width
        assert word.box.bottom <= height


def test_same_seed_same_document():
    first = render_document(kind="receipt", seed=7)
    again = render_document(kind="receipt", seed=7)

    assert first.words == again.words
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))


def test_different_seeds_differ():
    assert (
        render_document(kind="invoice", seed=1).words
        != render_document(kind="invoice", seed=2).words
    )


def test_word_boxes_hold_ink():
    document = render_document(kind="letter", seed=0)
    page = np.asarray(document.image, dtype=np.int16)
    background = int(np.median(page))
    for word in document.words[:20]:
        box = word.box
        region = page[box.y : box.bottom, box.x : box.right]
        assert np.abs(region - background).max() > 100, word


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown document kind"):
        render_document(kind="poster")


def test_render_word_is_a_padded_crop_of_about_the_height_asked():
    image = render_word("Receipt", seed=3, height=32)

    pixels = np.asarray(image)
    assert image.mode == "L"
    assert 32 <= image.height <= 48
    assert image.width > image.height
    assert pixels[0].min() == 255  # white margin above the ink
    assert pixels.min() < 100
    assert np.array_equal(pixels, np.asarray(render_word("Receipt", seed=3, height=32)))
