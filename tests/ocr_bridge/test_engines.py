"""The Tesseract engine behind the OcrEngine interface, on rendered word crops."""

import pytest
from PIL import Image

from ocr.synthetic import render_word
from ocr_bridge.engines import Recognition, TesseractEngine, find_tessdata_dir, get_engine

WORDS = [
    "TOTAL",
    "12.50",
    "Receipt",
    "Invoice",
    "CASH",
    "Subtotal",
    "2024-03-15",
    "Coffee",
    "Thank",
    "Amount",
]

pytestmark = pytest.mark.skipif(
    find_tessdata_dir() is None, reason="Tesseract's language data is not installed"
)


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


def test_reads_rendered_words(engine):
    # Given crops of known words in a few fonts and sizes
    crops = [render_word(word, seed=seed, height=28) for seed in range(2) for word in WORDS]

    # When Tesseract reads them
    results = engine.recognize(crops)

    # Then nearly all are read right, case aside
    truth = [word for _ in range(2) for word in WORDS]
    correct = sum(r.text.lower() == t.lower() for r, t in zip(results, truth, strict=True))
    assert correct >= 0.8 * len(truth)


def test_confidences_per_character_in_unit_range(engine):
    results = engine.recognize([render_word(word) for word in ("TOTAL", "Thank you", "9.99")])

    for result in results:
        assert result.text
        assert len(result.char_confidences) == len(result.text)
        assert all(0.0 <= c <= 1.0 for c in result.char_confidences)
        assert 0.0 < result.confidence <= 1.0


def test_blank_crop_reads_empty(engine):
    blank = Image.new("L", (80, 30), 255)
    gray = Image.new("RGB", (40, 40), (128, 128, 128))

    assert engine.recognize([blank, gray]) == [Recognition("", 0.0, ())] * 2


def test_batch_keeps_order(engine):
    words = ["ALPHA", "Blank", "12.50", "Omega"]
    crops = [render_word(word) for word in words]
    crops.insert(1, Image.new("L", (50, 20), 255))

    texts = [r.text for r in engine.recognize(crops)]

    assert texts[1] == ""
    assert [t.lower() for t in texts[:1] + texts[2:]] == [w.lower() for w in words]


def test_reads_light_on_dark_and_rgba_crops(engine):
    from PIL import ImageOps

    negative = ImageOps.invert(render_word("Receipt"))
    rgba = render_word("TOTAL").convert("RGBA")

    assert [r.text.lower() for r in engine.recognize([negative, rgba])] == ["receipt", "total"]


def test_version_names_release_and_language(engine):
    assert engine.version.startswith("5.")
    assert engine.version.endswith("/eng")
    assert engine.name == "tesseract"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="tesseract"):
        get_engine("nope")


def test_engine_is_created_once():
    assert get_engine("tesseract") is get_engine("tesseract")
