"""The default word detector and small marks beside words: short commas of thin
receipt type stay with their word (constructed pages)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.detector import WordBox, detect_words
from ocr.synthetic import find_font_files


def _font(hint: str, size: int) -> ImageFont.FreeTypeFont:
    for path in find_font_files():
        if hint.lower() in path.name.lower():
            return ImageFont.truetype(str(path), size)
    pytest.skip(f"no {hint} font on this machine")


def _covering(boxes: list[WordBox], left: int, top: int, right: int, bottom: int) -> WordBox:
    """The one detected box that holds the middle of a word's letters."""
    middle_x, middle_y = (left + right) / 2, (top + bottom) / 2
    found = [b for b in boxes if b.x <= middle_x < b.right and b.y <= middle_y < b.bottom]
    assert len(found) == 1, (found, (left, top, right, bottom))
    return found[0]


def test_a_short_comma_hanging_below_the_line_stays_with_its_word():
    # Given capitals about 20 px tall (the detector's working size, so no rescaling)
    # each followed by a comma of thin receipt type: a short stroke, under a third of the
    # letters' height, starting just above the baseline and hanging below it
    font = _font("NimbusSans-Regular", 28)
    page = Image.new("L", (900, 360), 246)
    draw = ImageDraw.Draw(page)
    words = ["DENGKIL", "RAYA", "SELANGOR", "JOHOR", "BALAKONG", "53200"]
    placed = []
    for i, word in enumerate(words):
        x, y = 40 + 420 * (i % 2), 40 + 100 * (i // 2)
        draw.text((x, y), word, font=font, fill=25)
        left, top, right, bottom = draw.textbbox((x, y), word, font=font)
        height = bottom - top
        comma_height = round(0.29 * height)
        comma = (right + 2, bottom - 2, right + 4, bottom - 2 + comma_height - 1)
        draw.rectangle(comma, fill=25)
        # ... and the next word of the line well apart
        draw.text((x + 280, y), "SUB", font=font, fill=25)
        placed.append(((left, top, right, bottom), comma))

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then each word's box reaches over its comma (the crop reads "DENGKIL,")
    for letters, comma in placed:
        box = _covering(boxes, *letters)
        assert box.right > comma[2], (box, comma)
        assert box.bottom > comma[3], (box, comma)


def _word_boxes(draw: ImageDraw.ImageDraw, x: int, y: int, words: list[str], font, space: int):
    """Draws a line of words `space` px apart; the true box of each (its ink)."""
    truth = []
    for word in words:
        draw.text((x, y), word, font=font, fill=25)
        left, top, right, bottom = draw.textbbox((x, y), word, font=font)
        truth.append(WordBox(x=left, y=top, width=right - left, height=bottom - top))
        x += int(draw.textlength(word, font=font)) + space
    return truth


def test_a_colon_standing_between_spaces_does_not_join_its_neighbours():
    # Given receipt lines in proportional type: a colon between word spaces ("TEL : ...")
    # on some, a time whose colon hugs its digits on another
    font = _font("NimbusSans-Regular", 22)
    page = Image.new("L", (900, 300), 246)
    draw = ImageDraw.Draw(page)
    spaced = _word_boxes(draw, 40, 40, ["TEL", ":", "03-3271", "9872"], font, 6)
    spaced += _word_boxes(draw, 40, 110, ["POINTS", ":", "0.00"], font, 6)
    spaced += _word_boxes(draw, 40, 180, ["CASHIER", ":", "KASSIM", "ALI"], font, 6)
    times = _word_boxes(draw, 40, 250, ["TIME", "12:30", "PM"], font, 6)

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then the words on either side of a spaced colon are boxes of their own, and the
    # time is one box
    for truth in spaced + times:
        if truth.width < truth.height:  # the colon itself: the page reader finds it
            continue
        box = _covering(boxes, truth.x, truth.y, truth.right, truth.bottom)
        # (a pixel or two of anti-aliasing either side)
        assert box.x <= truth.x + 2, (box, truth)
        assert box.right >= truth.right - 2, (box, truth)
        assert box.width <= truth.width + truth.height, (box, truth)
