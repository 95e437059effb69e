"""The default word detector and lone marks on forms: a glyph-wide box standing alone on
its line, of another height than the print, is not a word (constructed pages)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.detector import DetectorConfig, WordBox, detect_words
from ocr.synthetic import find_font_files

_LINES = [
    "Please complete the following form and return it",
    "to the address printed below before the date",
    "shown above with every field filled in clearly",
    "Signature of the person responsible for payment",
    "Telephone number and extension of the office",
    "Name and title of the authorised representative",
]


def _font(hint: str, size: int) -> ImageFont.FreeTypeFont:
    for path in find_font_files():
        if hint.lower() in path.name.lower():
            return ImageFont.truetype(str(path), size)
    pytest.skip(f"no {hint} font on this machine")


def _inside(boxes: list[WordBox], left: int, top: int, right: int, bottom: int) -> list[WordBox]:
    """The detected boxes whose middle lies in the rectangle."""
    return [
        b for b in boxes if left <= b.x + b.width / 2 < right and top <= b.y + b.height / 2 < bottom
    ]


def _form() -> tuple[Image.Image, ImageDraw.ImageDraw, ImageFont.FreeTypeFont]:
    """A page of ordinary print (letters about 20 px tall, the working size) on the left."""
    font = _font("NimbusSans-Regular", 24)
    page = Image.new("L", (1100, 760), 246)
    draw = ImageDraw.Draw(page)
    for row, line in enumerate(_LINES):
        draw.text((40, 40 + 50 * row), line, font=font, fill=25)
    return page, draw, font


def test_dots_of_a_dotted_border_and_lone_specks_give_no_boxes():
    # Given a form whose right margin holds a dotted border (a column of round dots about
    # half the letters' height, each alone on its line) and whose lower part holds specks
    # and a tick of the scan, far from any word
    page, draw, _ = _form()
    for y in range(40, 700, 22):
        draw.ellipse((1000, y, 1010, y + 10), fill=25)
    for x, y in ((200, 420), (520, 470), (760, 440)):
        draw.rectangle((x, y, x + 5, y + 6), fill=25)
    draw.line((380, 520, 383, 560), fill=25, width=3)  # a tick twice the letters' height

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then none of them is a word, while the print still is
    assert _inside(boxes, 990, 30, 1020, 710) == []
    assert _inside(boxes, 150, 400, 900, 600) == []
    assert len(_inside(boxes, 0, 30, 980, 340)) >= 40
    # ... and the rule is what drops them: switched off, the dots are boxes
    unfiltered = detect_words(np.asarray(page), config=DetectorConfig(lone_gap=0))
    assert len(_inside(unfiltered, 990, 30, 1020, 710)) >= 20


def test_a_lone_character_of_the_print_and_a_tall_printed_word_stay():
    # Given the same form with an item number alone on its line (the print's height), a
    # check mark's "X" in a box-free field, and a word of double-height print in tall
    # narrow letters alone on its line (a receipt's "TOTAL")
    page, draw, font = _form()
    draw.text((60, 400), "7", font=font, fill=25)
    draw.text((500, 400), "X", font=font, fill=25)
    narrow = _font("NimbusSansNarrow-Regular", 24)
    word = Image.new("L", (80, 30), 246)
    ImageDraw.Draw(word).text((2, 2), "TOTAL", font=narrow, fill=25)
    word = word.crop(ImageDraw.Draw(word).textbbox((2, 2), "TOTAL", font=narrow))
    word = word.resize((word.width, round(word.width / 1.25)), Image.Resampling.BICUBIC)
    left, top = 700, 560
    page.paste(word, (left, top))
    right, bottom = left + word.width, top + word.height

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then each is still a word
    assert len(_inside(boxes, 50, 390, 90, 440)) == 1
    assert len(_inside(boxes, 490, 390, 540, 440)) == 1
    assert len(_inside(boxes, left - 5, top - 5, right + 5, bottom + 5)) == 1


def _turned_number(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """`text` printed and turned a quarter (reading upwards), as a form's document number
    along its margin."""
    strip = Image.new("L", (400, 60), 246)
    draw = ImageDraw.Draw(strip)
    draw.text((4, 4), text, font=font, fill=25)
    strip = strip.crop(draw.textbbox((4, 4), text, font=font))
    return strip.rotate(90, expand=True, fillcolor=246)


def test_a_number_printed_up_the_margin_is_one_word():
    # Given a form with its document number printed up the right margin, one turned digit
    # above the other
    page, _, font = _form()
    number = _turned_number("91903177", font)
    left, top = 1020, 420
    page.paste(number, (left, top))
    right, bottom = left + number.width, top + number.height

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then the number is one box over all its digits
    found = _inside(boxes, left - 10, top - 10, right + 10, bottom + 10)
    assert len(found) == 1, found
    box = found[0]
    assert box.y <= top + 2, (box, (left, top, right, bottom))
    assert box.bottom >= bottom - 2, (box, (left, top, right, bottom))
    assert box.x <= left + 2
    assert box.right >= right - 2
    # ... padded by its width (the turned letters' height), not by its length
    assert box.width <= 1.5 * number.width
    # ... and the rule is what makes it one: switched off, each digit is a box of its own
    # (and, short for the print and alone on its line, a lone mark)
    config = DetectorConfig(vertical_min_glyphs=0, lone_gap=0)
    found = detect_words(np.asarray(page), config=config)
    unjoined = _inside(found, left - 10, top - 10, right + 10, bottom + 10)
    assert len(unjoined) >= 5
    assert all(b.height < number.width * 2 for b in unjoined)


def test_columns_of_upright_words_are_not_vertical_words():
    # Given a column of initials with the names beside them at a tight line spacing, and
    # a column of short prices each alone on its line at a receipt's tight line spacing
    # (boxes wider than tall, as turned letters are)
    font = _font("NimbusSans-Regular", 24)
    page = Image.new("L", (900, 500), 246)
    draw = ImageDraw.Draw(page)
    for row, (initial, name) in enumerate([("A.", "Brock"), ("J.", "Smith"), ("R.", "Jones")]):
        draw.text((40, 40 + 22 * row), initial, font=font, fill=25)
        draw.text((80, 40 + 22 * row), name, font=font, fill=25)
    for row, price in enumerate(["0.0", "0.1", "7.5", "2.5"]):
        draw.text((600, 40 + 26 * row), price, font=font, fill=25)
    for row, line in enumerate(_LINES[:4]):
        draw.text((40, 200 + 50 * row), line, font=font, fill=25)

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then each initial and each price is a box of its own
    assert len(_inside(boxes, 30, 30, 75, 130)) == 3
    assert len(_inside(boxes, 590, 30, 700, 160)) == 4
