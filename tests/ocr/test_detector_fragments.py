"""The default word detector and fixed-width print broken into pieces: the pieces of one
glyph (faded thermal or dot-matrix print) keep the phrase's pitch (constructed pages)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ocr.detector import WordBox, detect_words

# A fixed-width "typeface" drawn with rectangles, 20 px cells, letters 20 px tall (the
# detector's working size: the page is read as it is).
_PITCH = 20
_HEIGHT = 20


def _draw_cell(draw: ImageDraw.ImageDraw, kind: str, left: int, top: int) -> None:
    bottom = top + _HEIGHT - 1
    if kind == "O":  # a round letter: an outline 12 px wide in the middle of its cell
        draw.rectangle((left + 4, top, left + 15, bottom), fill=25)
        draw.rectangle((left + 7, top + 3, left + 12, bottom - 3), fill=246)
    elif kind == "I":  # a narrow letter ("l", "1"): a bar in the middle of its cell
        draw.rectangle((left + 8, top, left + 10, bottom), fill=25)
    elif kind == "F":  # a faded letter broken into two strokes side by side
        draw.rectangle((left + 4, top, left + 7, bottom), fill=25)
        draw.rectangle((left + 12, top, left + 15, bottom), fill=25)


def _line(draw: ImageDraw.ImageDraw, x: int, y: int, words: list[str]) -> list[WordBox]:
    """Draws a line of words one empty cell apart; the true box of each (its cells' ink)."""
    truth = []
    for word in words:
        for k, kind in enumerate(word):
            _draw_cell(draw, kind, x + k * _PITCH, y)
        left = x + (8 if word[0] == "I" else 4)
        right = x + (len(word) - 1) * _PITCH + (11 if word[-1] == "I" else 16)
        truth.append(WordBox(x=left, y=y, width=right - left, height=_HEIGHT))
        x += (len(word) + 1) * _PITCH
    return truth


def test_pieces_of_broken_fixed_width_glyphs_keep_their_words_whole():
    # Given lines of fixed-width print whose narrow letters stand in the middle of their
    # cells (gaps beside them wider than a proportional word space) and some of whose
    # letters are broken into two strokes (so their centres are not at an even pitch)
    page = Image.new("L", (900, 420), 246)
    draw = ImageDraw.Draw(page)
    truth = []
    for row, words in enumerate(
        [
            ["OIOFO", "OFOIO", "OOIO"],
            ["FOIOO", "OIOOF", "OIFO"],
            ["OOIOF", "OFIOO", "IOOF"],
            ["OIOOF", "FOOIO", "OOFI"],
        ]
    ):
        truth += _line(draw, 40, 40 + 90 * row, words)

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then every word is one box: neither cut beside its narrow letter nor between the
    # strokes of a broken one
    for word in truth:
        found = [
            b
            for b in boxes
            if b.x < word.right and word.x < b.right and b.y < word.bottom and word.y < b.bottom
        ]
        assert len(found) == 1, (word, found)
        assert found[0].x <= word.x, (word, found)
        assert found[0].right >= word.right, (word, found)
    assert len(boxes) == len(truth)
