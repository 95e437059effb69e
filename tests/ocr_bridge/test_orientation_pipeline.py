"""The pipeline turns a turned crop upright before the prefill is kept."""

import pytest
from PIL import Image

from annotations.models import DonationStatus
from annotations.services import donation_start_processing
from ocr.orientation.predictor import DEFAULT_WEIGHTS, Orientation
from ocr.synthetic import render_word
from ocr_bridge import services
from ocr_bridge.engines import Recognition
from tests import factories
from tests.ocr_bridge.conftest import store_images

pytestmark = pytest.mark.django_db


class ReadsOnlyUpright:
    """An engine that reads a crop only the right way up (wide crops, marked pixel)."""

    name, version = "stub", "1"

    def recognize(self, crops):
        return [
            Recognition("WORD", 0.95, (0.95,) * 4)
            if crop.getpixel((0, 0)) == 0
            else Recognition("?", 0.1, (0.1,))
            for crop in crops
        ]


class SaysTurned:
    """A classifier sure that every crop is turned upside down."""

    def __init__(self, confidence: float) -> None:
        self.confidence = confidence
        self.asked = 0

    def predict(self, crops):
        self.asked += len(crops)
        return [Orientation(180, self.confidence, (0.0, 0.0, self.confidence, 0.0)) for _ in crops]

    @staticmethod
    def undo(crop, orientation):
        return crop.transpose(Image.Transpose.ROTATE_180)


def _marked(corner_at_start: bool) -> Image.Image:
    image = Image.new("L", (40, 10), 255)
    image.putpixel((0, 0) if corner_at_start else (39, 9), 0)
    return image


def test_only_unsure_readings_are_checked_and_the_surer_reading_is_kept(settings):
    settings.OCR_ORIENTATION_MIN_CONFIDENCE = 0.9
    upright, turned = _marked(True), _marked(False)
    classifier = SaysTurned(confidence=0.99)

    results = services.recognize_upright(ReadsOnlyUpright(), classifier, [upright, turned])

    assert [r.text for r in results] == ["WORD", "WORD"]
    assert classifier.asked == 1  # the upright crop read well: never asked about


def test_an_unsure_classifier_turns_nothing(settings):
    settings.OCR_ORIENTATION_MIN_CONFIDENCE = 0.9

    results = services.recognize_upright(
        ReadsOnlyUpright(), SaysTurned(confidence=0.6), [_marked(False)]
    )

    assert results[0].text == "?"


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped orientation weights")
def test_a_receipt_word_printed_upside_down_is_prefilled_the_right_way_up(service_token):
    words = ["Receipt", "TOTAL", "Payment"]
    images = [render_word("Receipt", seed=2).rotate(180, expand=True)] + [
        render_word(word, seed=3) for word in words[1:]
    ]
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    donation_start_processing(donation_id=donation.pk)
    store_images(donation, images)

    assert services.donation_prefill(donation_id=str(donation.pk))

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    read = [crop.prefill_text for crop in donation.crops.order_by("index")]
    assert [text.casefold() for text in read] == [word.casefold() for word in words]
