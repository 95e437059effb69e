"""The page reader's decisions on constructed images (fonts as ocr.synth renders them):
touching words split, a price cut at its point combined, a noise blob rejected, a
confident word left alone; lines in reading order; the JSON contract."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ocr.detector import WordBox
from ocr.page import DECISIONS, PageReading, ReaderConfig, read_page
from ocr.page.lines import group_lines
from ocr.page.transform import ink_gaps, joined_reading, split_boxes
from ocr.synth.fonts import load_font
from ocr.synthetic import find_font_files

UPRIGHT = ReaderConfig(orientation=False)


@functools.cache
def font(size: int = 40):
    files = {path.name: path for path in find_font_files()}
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"):
        if name in files:
            return load_font(files[name], size)
    pytest.skip("neither DejaVu Sans nor Liberation Sans is installed")


def canvas(width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (width, height), 255)
    return image, ImageDraw.Draw(image)


def ink_box(image: Image.Image, left: int = 0, right: int | None = None) -> WordBox:
    """The tight box of the ink between two columns."""
    ink = np.asarray(image)[:, left:right] < 128
    rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return WordBox(
        left + int(columns[0]),
        int(rows[0]),
        int(columns[-1] - columns[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def read_with_boxes(image: Image.Image, boxes: list[WordBox], **config) -> PageReading:
    from dataclasses import replace

    return read_page(
        np.asarray(image), detector=lambda _page: list(boxes), config=replace(UPRIGHT, **config)
    )


def test_a_confident_word_is_left_alone() -> None:
    image, draw = canvas(300, 80)
    draw.text((20, 15), "TOTAL", font=font(), fill=0)
    reading = read_with_boxes(image, [ink_box(image)])
    assert [(w.text, w.decision) for w in reading.words] == [("TOTAL", "accepted")]
    word = reading.words[0]
    assert word.confidence >= UPRIGHT.accept
    assert len(word.char_confidences) == len(word.text)
    assert reading.rejected == ()


def test_a_price_cut_at_its_point_is_combined() -> None:
    image, draw = canvas(300, 80)
    draw.text((20, 15), "3.98", font=font(), fill=0)
    three_ends = 20 + int(font().getlength("3"))
    nine_starts = 20 + int(font().getlength("3."))
    pieces = [ink_box(image, 0, three_ends + 1), ink_box(image, nine_starts)]
    reading = read_with_boxes(image, pieces)
    assert [(w.text, w.decision, w.source_boxes) for w in reading.words] == [
        ("3.98", "combined", 2)
    ]
    box = reading.words[0].box
    assert box.x == pieces[0].x
    assert box.right == pieces[1].right


def test_touching_words_are_split() -> None:
    image, draw = canvas(500, 80)
    draw.text((20, 15), "THANK", font=font(), fill=0)
    # A narrow space (a third of the capitals' height): read as one word, "THANKYOU".
    draw.text((20 + font().getlength("THANK") + 10, 15), "YOU", font=font(), fill=0)
    one_box = ink_box(image)
    reading = read_with_boxes(image, [one_box])
    assert [(w.text, w.decision) for w in reading.words] == [
        ("THANK", "split"),
        ("YOU", "split"),
    ]
    first, second = (w.box for w in reading.words)
    assert first.x == one_box.x
    assert second.right == one_box.right
    assert first.right <= second.x
    assert reading.lines == ((0, 1),)


def test_touching_words_stay_together_when_splitting_is_off() -> None:
    image, draw = canvas(500, 80)
    draw.text((20, 15), "THANK", font=font(), fill=0)
    draw.text((20 + font().getlength("THANK") + 10, 15), "YOU", font=font(), fill=0)
    reading = read_with_boxes(image, [ink_box(image)], split=False)
    assert [w.text for w in reading.words] == ["THANKYOU"]


def test_two_words_in_one_box_become_two_words() -> None:
    image, draw = canvas(500, 80)
    draw.text((20, 15), "THANK YOU", font=font(), fill=0)
    one_box = ink_box(image)
    reading = read_with_boxes(image, [one_box])
    assert [(w.text, w.decision) for w in reading.words] == [
        ("THANK", "split"),
        ("YOU", "split"),
    ]
    assert reading.words[0].box.right <= reading.words[1].box.x


def test_a_colon_the_detector_dropped_is_found_between_words() -> None:
    image, draw = canvas(520, 80)
    draw.text((20, 15), "TOTAL", font=font(), fill=0)
    colon_at = 20 + int(font().getlength("TOTAL "))
    draw.text((colon_at, 15), ":", font=font(), fill=0)
    amount_at = colon_at + int(font().getlength(": "))
    draw.text((amount_at, 15), "3.98", font=font(), fill=0)
    words = [ink_box(image, 0, colon_at - 2), ink_box(image, amount_at - 2)]
    reading = read_with_boxes(image, words)
    assert [(w.text, w.source_boxes) for w in reading.words] == [
        ("TOTAL", 1),
        (":", 0),
        ("3.98", 1),
    ]
    assert read_with_boxes(image, words, colons=False).text() == "TOTAL 3.98"


def test_a_noise_blob_is_rejected() -> None:
    rng = np.random.default_rng(0)
    page = np.full((80, 200), 255, np.uint8)
    page[20:60, 40:160][rng.random((40, 120)) < 0.5] = 0
    reading = read_page(page, detector=lambda _page: [WordBox(40, 20, 120, 40)], config=UPRIGHT)
    assert reading.words == ()
    assert [w.decision for w in reading.rejected] == ["rejected"]
    assert reading.text() == ""


def test_lines_in_reading_order_and_the_json_contract() -> None:
    image, draw = canvas(520, 160)
    draw.text((20, 15), "TOTAL", font=font(), fill=0)
    draw.text((260, 18), "CASH", font=font(), fill=0)
    draw.text((20, 95), "CHANGE", font=font(), fill=0)
    boxes = [ink_box(image.crop((0, 90, 520, 160))), ink_box(image.crop((0, 0, 520, 80)), 240)]
    boxes = [
        WordBox(boxes[0].x, boxes[0].y + 90, boxes[0].width, boxes[0].height),
        boxes[1],
        ink_box(image.crop((0, 0, 520, 80)), 0, 240),
    ]
    reading = read_with_boxes(image, boxes)
    assert reading.text() == "TOTAL CASH\nCHANGE"
    assert reading.lines == ((0, 1), (2,))
    assert [(w.line, w.order) for w in reading.words] == [(0, 0), (0, 1), (1, 2)]
    data = reading.to_json()
    assert data["rotation"] == 0
    assert (data["width"], data["height"]) == (520, 160)
    first = data["lines"][0]["words"][0]
    assert set(first) == {
        "box",
        "text",
        "confidence",
        "char_confidences",
        "decision",
        "source_boxes",
    }
    assert first["text"] == "TOTAL"
    assert first["decision"] in DECISIONS
    assert "image" not in data
    assert reading.recognizer_version.startswith("crnn/")


def test_group_lines_keeps_a_dot_on_its_line() -> None:
    boxes = [WordBox(0, 0, 50, 20), WordBox(120, 2, 40, 20), WordBox(60, 14, 4, 4)]
    boxes.append(WordBox(0, 40, 50, 20))
    assert group_lines(boxes) == [[0, 2, 1], [3]]


def test_ink_gaps_and_split_boxes() -> None:
    pixels = np.full((10, 30), 255, np.uint8)
    pixels[2:8, 2:8] = 0
    pixels[2:8, 10:14] = 0  # 2-column gap at 8..10
    pixels[2:8, 20:28] = 0  # 6-column gap at 14..20
    gaps = ink_gaps(pixels)
    assert gaps[0] == (14, 20)
    assert gaps[1] == (8, 10)
    pieces = split_boxes(WordBox(100, 0, 30, 10), gaps, 2)
    assert [(p.x, p.width) for p in pieces] == [(100, 17), (117, 13)]


@pytest.mark.parametrize(
    ("text", "pieces", "joined"),
    [
        ("3.98", ["3", "98"], True),
        ("12/02/2018", ["12/0", "2/2018"], True),
        ("Bread", ["B", "read"], True),
        ("20pockets", ["20", "pockets"], False),
        ("TOTAL RM", ["TOTAL", "RM"], False),
        ("", ["a", "b"], False),
        # the pieces' own characters, only the space gone: one token inside a number, a
        # date or a time, or as a lexicon word that not every piece is
        ("12.90", ["12.", "90"], True),
        ("RM41.43", ["RM41", ".43"], True),
        ("05:36PM", ["05:", "36PM"], True),
        ("amount", ["amou", "nt"], True),
        ("NO.53,", ["NO.", "53,"], False),
        ("GST@6%", ["GST", "@6%"], False),
        ("X3.00", ["X", "3.00"], False),
        ("SR:CAR", ["SR:", "CAR"], False),
        ("RM21.80", ["RM", "21.80"], False),
        ("&services", ["&", "services"], False),
    ],
)
def test_a_combination_must_read_as_one_token(text: str, pieces: list[str], joined: bool) -> None:
    assert joined_reading(text, pieces) is joined


def test_a_piece_of_punctuation_alone_is_not_tried_with_its_neighbour() -> None:
    from ocr.page.reader import _Read
    from ocr.page.transform import worth_combining

    def read(text: str, confidence: float = 0.5) -> _Read:
        return _Read(WordBox(0, 0, 10, 10), text, confidence, (), "accepted")

    config = ReaderConfig()
    assert not worth_combining(read("&"), read("services"), config)
    assert not worth_combining(read("TOTAL"), read("*"), config)
    assert worth_combining(read("3"), read("98"), config)
    assert worth_combining(read(""), read("33"), config)  # an unread box may be a "0."


class _Scripted:
    """A recognizer that reads each crop as the text scripted for its width, sure of it."""

    weights_sha256 = "0" * 64

    def __init__(self, by_width: dict[int, str]) -> None:
        self.by_width = by_width

    def predict(self, crops):
        from ocr.recognition.ctc import Decoded

        texts = [self.by_width[crop.shape[1]] for crop in crops]
        return [Decoded(text, 0.99, (0.99,) * len(text)) for text in texts]


@pytest.mark.parametrize("mark", ["(", ")", "[", "]", "I", "l", "i"])
def test_a_bracket_or_a_thin_stroke_alone_is_noise(mark: str) -> None:
    page = np.full((80, 400), 255, np.uint8)
    boxes = [WordBox(20, 20, 100, 40), WordBox(200, 20, 13, 40), WordBox(280, 20, 37, 40)]
    predictor = _Scripted({100: "TOTAL", 13: mark, 37: "0"})
    config = ReaderConfig(orientation=False, calibrate=False, combine=False, colons=False)
    reading = read_page(page, predictor=predictor, detector=lambda _p: boxes, config=config)
    # A lone digit or a word stays; the lone mark, read just as surely, is rejected.
    assert [w.text for w in reading.words] == ["TOTAL", "0"]
    assert [(w.text, w.decision) for w in reading.rejected] == [(mark, "rejected")]
    for kept in ("(1)", "I3", ":", "*", "x"):
        predictor.by_width[13] = kept
        texts = [
            w.text
            for w in read_page(
                page, predictor=predictor, detector=lambda _p: boxes, config=config
            ).words
        ]
        assert kept in texts


def test_a_space_read_inside_a_word_is_dropped() -> None:
    page = np.full((80, 300), 255, np.uint8)
    boxes = [WordBox(20, 20, 180, 40)]
    config = ReaderConfig(orientation=False, calibrate=False, combine=False, colons=False)
    for read, words in [
        ("RE TURNABLE:", ["RETURNABLE:"]),  # a piece no word, joined a word: one word
        ("THANK YOU", ["THANK", "YOU"]),  # two words stay two
        ("QTY 3", ["QTY", "3"]),  # joined no word: the space stays
    ]:
        predictor = _Scripted({180: read})
        reading = read_page(page, predictor=predictor, detector=lambda _p: boxes, config=config)
        assert [w.text for w in reading.words] == words
        assert all(len(w.char_confidences) == len(w.text) for w in reading.words)
