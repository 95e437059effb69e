"""Our CRNN engine behind the OcrEngine interface."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from ocr.recognition.predictor import DEFAULT_WEIGHTS, file_digest
from ocr.synthetic import render_word
from ocr_bridge.engines import EMPTY, ENGINE_FACTORIES, CrnnEngine, get_engine
from tests.shared_data import shared_data_dir

WORDS = ["TOTAL", "12.50", "Receipt", "Invoice", "CASH", "Subtotal", "Coffee", "Amount"]

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped weights")


@pytest.fixture(scope="module")
def engine() -> CrnnEngine:
    return CrnnEngine()


def test_is_registered_with_a_version_naming_its_weights(engine):
    assert "crnn" in ENGINE_FACTORIES
    assert get_engine("crnn").name == "crnn"
    assert engine.version.endswith(file_digest(DEFAULT_WEIGHTS)[:12])


def test_reads_rendered_words_in_order(engine):
    crops = [render_word(word, seed=seed, height=28) for seed in range(2) for word in WORDS]

    results = engine.recognize(crops)

    truth = [word for _ in range(2) for word in WORDS]
    correct = sum(r.text.lower() == t.lower() for r, t in zip(results, truth, strict=True))
    assert len(results) == len(crops)
    assert correct >= 0.75 * len(truth)


def test_confidences_per_character_in_unit_range(engine):
    for result in engine.recognize([render_word(w) for w in ("TOTAL", "Thank you", "9.99")]):
        assert result.text
        assert len(result.char_confidences) == len(result.text)
        assert all(0.0 <= c <= 1.0 for c in result.char_confidences)
        assert 0.0 < result.confidence <= 1.0


def test_blank_crops_read_empty_and_keep_their_place(engine):
    blank = Image.new("L", (80, 30), 255)
    crops = [render_word("CASH"), blank, render_word("TOTAL")]

    results = engine.recognize(crops)

    assert results[1] == EMPTY
    assert [r.text.upper() for r in (results[0], results[2])] == ["CASH", "TOTAL"]
    assert engine.recognize([]) == []


def test_light_on_dark_and_rgba_crops(engine):
    negative = ImageOps.invert(render_word("Receipt"))
    rgba = render_word("TOTAL").convert("RGBA")

    assert [r.text.lower() for r in engine.recognize([negative, rgba])] == ["receipt", "total"]


def test_high_confidence_readings_are_right_on_real_receipt_words(engine):
    data = shared_data_dir()
    if data is None:
        pytest.skip("the development data (../shared/data) is not on this machine")
    from ocr.recognition.crops import sroie_word_crops

    crops = sroie_word_crops(data / "sroie-receipts", limit=1000)
    results = engine.recognize([crop.image for crop in crops])

    readings = [
        (r.confidence, r.text.lower() == c.text.lower())
        for r, c in zip(results, crops, strict=True)
    ]
    confident = [right for confidence, right in readings if confidence >= 0.95]
    # Measured 2026-11-24: 41.5% of these at >= 0.95, 97.1% of them right (all 3,241:
    # 39%, 98.5%); 2026-11-25, the weights `make train` wrote end to end: 43.6%, 97.0%.
    # The word confidence is the text's probability: as often right as it says on average
    # (mean 0.78, 79.1% right; 2026-11-25: 0.785, 83.0%). Read case-blind, with lookalikes
    # and lost points put right (2026-12-02), more readings are right than the network's
    # own probability says (0.798, 86.8%): too modest sends words to review, too sure would
    # accept wrong ones, so the bound is tighter on that side.
    assert len(confident) >= 0.35 * len(crops)
    assert np.mean(confident) >= 0.96
    mean_confidence = np.mean([confidence for confidence, _ in readings])
    right = np.mean([right for _, right in readings])
    assert right - 0.10 <= mean_confidence <= right + 0.05


def test_form_words_read_as_well_in_the_detectors_loose_boxes(engine):
    """The detector pads its boxes by a tenth of their height; a reading cut to the ink
    does not mind (uncut, such boxes cost 10 points of accuracy on form words)."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("the development data (../shared/data) is not on this machine")
    from ocr.recognition.crops import funsd_word_crops

    crops = funsd_word_crops(data / "funsd-forms", limit=1000)

    def padded(image: Image.Image) -> Image.Image:
        border = max(1, round(0.1 * image.height))
        paper = int(np.median(np.asarray(image)[[0, -1]]))
        return ImageOps.expand(image, border=border, fill=paper)

    def accuracy(images) -> float:
        results = engine.recognize(images)
        return np.mean(
            [r.text.lower() == c.text.lower() for r, c in zip(results, crops, strict=True)]
        )

    tight = accuracy([crop.image for crop in crops])
    loose = accuracy([padded(crop.image) for crop in crops])
    # Measured on these 1,000: stage-one weights 77.5% tight, 75.1% loose (uncut: 73.1% and
    # 63.9%); stage two (2026-11-25) 79.8% and 76.3%; with the lexicon and the weights
    # `make train` wrote end to end (2026-11-25, later) 84.4% and 80.8%; read case-blind
    # with lookalikes put right (2026-12-02) 85.3% and 81.2%: both better, the tight more.
    assert tight >= 0.74
    assert loose >= tight - 0.05
