"""The default word detector on constructed pages: touching lines, form rules and cells,
prices in fixed-width type, photo backgrounds and specks; and the detector registry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.detector import (
    DEFAULT_DETECTOR,
    DETECTOR_VERSION,
    DETECTORS,
    MserConfig,
    WordBox,
    detect_words,
)
from ocr.evaluate import match_boxes, score_detection
from ocr.synthetic import find_font_files

# Measured 1.0 (64 of 64 words) with the default detector: touching letters cut apart.
TOUCHING_MIN_RECALL = 0.8


def _font(hint: str, size: int) -> ImageFont.FreeTypeFont:
    for path in find_font_files():
        if hint.lower() in path.name.lower():
            return ImageFont.truetype(str(path), size)
    pytest.skip(f"no {hint} font on this machine")


def _ink_box(draw_word, size: tuple[int, int]) -> WordBox:
    """The tight box of what `draw_word` draws alone on a blank page."""
    alone = Image.new("L", size, 255)
    draw_word(ImageDraw.Draw(alone))
    ys, xs = np.nonzero(np.asarray(alone) < 160)
    return WordBox(
        x=int(xs.min()),
        y=int(ys.min()),
        width=int(xs.max() - xs.min() + 1),
        height=int(ys.max() - ys.min() + 1),
    )


def _write(
    page: Image.Image, lines: list[tuple[int, int, list[str]]], font, space: int
) -> list[WordBox]:
    """Draws words (x, y of each line's start) and returns their ink boxes."""
    draw = ImageDraw.Draw(page)
    truth = []
    for x, y, words in lines:
        for word in words:

            def draw_word(target, x=x, y=y, word=word):
                target.text((x, y), word, font=font, fill=20)

            truth.append(_ink_box(draw_word, page.size))
            draw_word(draw)
            x += int(draw.textlength(word, font=font)) + space
    return truth


def _assert_one_box_per_word(page: Image.Image, truth: list[WordBox]) -> None:
    """The detector finds every true word as one box, and nothing else."""
    boxes = detect_words(np.asarray(page))
    score = score_detection(boxes, truth)
    assert score.recall == 1.0, (boxes, truth)
    assert score.precision == 1.0, (boxes, truth)


def test_touching_text_lines_are_not_merged():
    # Given lines set so tight that descenders touch the ascenders of the line below
    font = _font("NimbusSans-Regular", 22)
    page = Image.new("L", (900, 420), 250)
    words = ["gypsy", "jumping", "quietly", "beyond", "the", "hedge", "ply", "kept"]
    # Line pitch = ink height from ascender to descender: "g" above touches "h" below.
    top, bottom = font.getbbox("Hgjpqyhkl")[1::2]
    pitch = bottom - top
    lines = [(40, 30 + i * pitch, words[i % 3 :] + words[: i % 3]) for i in range(8)]
    truth = _write(page, lines, font, space=12)

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then it finds most words, and no box holds the middle of two lines
    score = score_detection(boxes, truth)
    assert score.recall >= TOUCHING_MIN_RECALL, score
    middles = [y + top + (bottom - top) * 0.45 for _, y, _ in lines]
    for box in boxes:
        assert sum(box.y < middle < box.bottom for middle in middles) <= 1, box


def test_form_rules_and_cells_do_not_swallow_words():
    # Given field values written on underlines and inside the cells of a ruled table
    font = _font("NimbusSans-Regular", 20)
    page = Image.new("L", (900, 500), 248)
    draw = ImageDraw.Draw(page)
    truth = _write(page, [(60, 40, ["Name:", "Jackie", "Pogy"])], font, space=14)
    draw.line((200, 62, 700, 62), fill=30, width=2)  # under the name, through descenders
    truth += _write(page, [(60, 100, ["Date:", "12/03/2018"])], font, space=14)
    draw.line((180, 122, 520, 122), fill=30, width=2)
    for row in range(4):
        for col, x in enumerate((60, 300, 540)):
            top = 180 + row * 60
            draw.rectangle((x, top, x + 240, top + 60), outline=20, width=2)
            truth += _write(page, [(x + 14, top + 18, [f"item{row}{col}", "ok"])], font, 12)

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then every word is found on its own, and no box runs along a rule or a border
    matched = match_boxes(boxes, truth)
    assert len(matched) >= 0.95 * len(truth), (len(matched), len(truth))
    widest = max(box.width for box in truth)
    assert all(box.width <= 1.3 * widest for box in boxes), boxes


def test_prices_times_and_dates_stay_whole_in_fixed_width_type():
    # Given receipt amounts in fixed-width type, where the gap around a point is as
    # wide as a space in proportional type
    font = _font("DejaVuSansMono.ttf", 18)
    page = Image.new("L", (600, 300), 245)
    tokens = ["33.70", "250.00", "12:30", "0.50"]
    truth = _write(
        page, [(40, 40 + 50 * i, ["TOTAL", token]) for i, token in enumerate(tokens)], font, 22
    )

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then each amount is one box
    score = score_detection(boxes, truth)
    assert score.recall == 1.0, (boxes, truth)
    assert score.precision == 1.0, (boxes, truth)


@pytest.mark.parametrize(
    ("font_name", "size"), [("NimbusMonoPS-Regular", 20), ("DejaVuSansMono.ttf", 14)]
)
def test_thousands_commas_and_points_keep_amounts_whole_in_fixed_width_type(font_name, size):
    # Given amounts in fixed-width type whose comma hangs below the line and whose point
    # stands a whole cell away from both digits, beside words with a narrow "r" or "i"
    font = _font(font_name, size)
    page = Image.new("L", (700, 400), 245)
    tokens = ["1,250", "12,345.00", "3.98", "RM1,250.00", "1.25", "33.70"]
    truth = _write(
        page,
        [(40, 40 + 50 * i, ["TOTAL", token, "Bread"]) for i, token in enumerate(tokens)],
        font,
        22,
    )

    # When the detector reads the page, then each amount and each word is one box
    _assert_one_box_per_word(page, truth)


def test_a_faded_point_keeps_a_price_whole():
    # Given prices in fixed-width type whose point faded to a light grey (thermal paper)
    font = _font("DejaVuSansMono.ttf", 18)
    page = Image.new("L", (600, 300), 246)
    draw = ImageDraw.Draw(page)
    truth = []
    for i, amount in enumerate(["7.00", "136.00", "12.50", "0.40"]):
        x, y = 300, 40 + 60 * i
        whole, cents = amount.split(".")
        draw.text((40, y), "TOTAL", font=font, fill=30)
        draw.text((x, y), whole, font=font, fill=30)
        point = x + draw.textlength(whole, font=font)
        draw.text((point, y), ".", font=font, fill=215)
        draw.text((point + draw.textlength(".", font=font), y), cents, font=font, fill=30)
        left, top, right, bottom = draw.textbbox((x, y), amount, font=font)
        truth.append(WordBox(x=left, y=top, width=right - left, height=bottom - top))

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then each price is one box
    assert score_detection(boxes, truth).recall == 1.0, (boxes, truth)


def test_touching_words_with_narrow_spaces_are_split():
    # Given a line set tight: spaces of a few pixels between words of ordinary type
    font = _font("NimbusSans-Regular", 20)
    page = Image.new("L", (900, 200), 245)
    truth = _write(
        page, [(40, 40, ["Fax", "to", "Field", "Payments", "at", "(502)", "588-7826"])], font, 6
    )
    truth += _write(page, [(40, 110, ["THANK", "YOU", "PLEASE", "COME", "AGAIN"])], font, 7)

    # When the detector reads the page, then every word is its own box
    _assert_one_box_per_word(page, truth)


def test_check_marks_and_filled_squares_are_not_words():
    # Given a form's words, and beside them filled squares and ticked check marks
    font = _font("NimbusSans-Regular", 20)
    page = Image.new("L", (900, 500), 248)
    truth = _write(
        page,
        [(60, 40, ["Please", "tick", "one", "box"]), (60, 420, ["Signed", "for", "the", "firm"])],
        font,
        14,
    )
    draw = ImageDraw.Draw(page)
    shapes = []
    for x in (80, 180, 280):
        draw.rectangle((x, 220, x + 22, 242), fill=15)
        shapes.append(WordBox(x=x, y=220, width=22, height=22))
    for x in (400, 480, 560):
        draw.line((x, 230, x + 10, 245), fill=20, width=3)
        draw.line((x + 10, 245, x + 32, 205), fill=20, width=3)
        shapes.append(WordBox(x=x, y=205, width=32, height=40))

    # When the detector reads the page
    boxes = detect_words(np.asarray(page))

    # Then the words are found and no box lies on a square or a mark
    assert score_detection(boxes, truth).recall == 1.0, (boxes, truth)
    on_shapes = [
        box
        for box in boxes
        for shape in shapes
        if min(box.right, shape.right) > max(box.x, shape.x)
        and min(box.bottom, shape.bottom) > max(box.y, shape.y)
    ]
    assert on_shapes == [], on_shapes


def test_photo_background_and_shadow_give_few_boxes():
    # Given a photographed table top: a smooth shadow and a blurred grainy texture
    rng = np.random.default_rng(3)
    height, width = 900, 700
    shadow = np.linspace(90, 210, width)[None, :] + np.linspace(0, 30, height)[:, None]
    grain = cv2.GaussianBlur(rng.normal(0, 40, (height, width)), (0, 0), 3)
    photo = np.clip(shadow + grain, 0, 255).astype(np.uint8)

    assert len(detect_words(photo)) <= 5


def test_specks_alone_give_no_words():
    # Given paper with scattered dust specks of one to four pixels
    rng = np.random.default_rng(5)
    page = np.full((1000, 700), 240, dtype=np.uint8)
    for y, x in rng.integers(0, (998, 698), size=(400, 2)):
        page[y : y + rng.integers(1, 3), x : x + rng.integers(1, 3)] = 40

    assert len(detect_words(page)) <= 2


def test_registry_names_the_default_and_keeps_mser():
    page = np.full((200, 300), 245, dtype=np.uint8)
    assert DEFAULT_DETECTOR in DETECTORS
    assert "mser" in DETECTORS
    assert DETECTOR_VERSION.startswith(DEFAULT_DETECTOR)
    assert DETECTORS[DEFAULT_DETECTOR](page) == detect_words(page) == []
    # An MSER config runs the old detector through detect_words.
    assert detect_words(page, config=MserConfig()) == DETECTORS["mser"](page)
