"""The orientation classifier: the angle bookkeeping, a tiny run that learns, turning back."""

import numpy as np
import pytest
from PIL import Image

from ocr.orientation.data import TurnedCrops, canonical, item_for, prepare, turn
from ocr.orientation.model import ANGLES, OrientationConfig, OrientationNet
from ocr.orientation.predictor import (
    DEFAULT_WEIGHTS,
    Orientation,
    OrientationClassifier,
    _orientation,
    undo,
    weights_bytes,
)
from ocr.orientation.training import OrientationTrainConfig, fit
from ocr.recognition.preprocess import to_gray
from ocr.synthetic import render_word

WORDS = ["TOTAL", "Receipt", "CHANGE", "Invoice", "Amount", "Subtotal", "Thank you", "Payment"]


def _gray(word: str, seed: int = 0) -> np.ndarray:
    return to_gray(render_word(word, seed=seed, height=32))


def test_turning_back_undoes_a_turn():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)

    for quarters in range(4):
        assert np.array_equal(turn(turn(image, quarters), -quarters), image)
    assert np.array_equal(turn(image, 1), np.rot90(image))  # counter-clockwise


def test_tall_crops_are_laid_long_side_horizontal_and_labelled_for_that_view():
    word = _gray("TOTAL")  # wide
    for quarters in range(4):
        turned = turn(word, quarters)
        view, taken = canonical(turned)
        pixels, label = item_for(word, quarters)

        assert view.shape[1] >= view.shape[0]
        assert taken == quarters % 2  # a quarter or three quarters turned is tall
        assert label == (quarters - taken) % 4
        assert pixels.shape[0] == 32


def test_view_probabilities_map_back_to_the_crops_own_angle():
    view = np.array([0.05, 0.05, 0.85, 0.05])  # the canonical view looks upside down

    upright_view = _orientation(view, taken=0)
    tall = _orientation(view, taken=1)  # the crop was turned back a quarter first

    assert (upright_view.angle, round(upright_view.confidence, 2)) == (180, 0.85)
    assert tall.angle == 270
    assert sum(tall.probabilities) == pytest.approx(1.0)


def test_undo_turns_a_pil_crop_upright():
    word = render_word("CASH", seed=1)
    for angle in ANGLES:
        turned = word.rotate(angle, expand=True)  # PIL turns counter-clockwise

        back = undo(turned, Orientation(angle=angle, confidence=1.0, probabilities=(0, 0, 0, 0)))

        assert np.array_equal(np.asarray(back), np.asarray(word))


def test_a_tiny_run_learns_the_turns_of_a_few_words():
    uprights = [_gray(word, seed) for seed, word in enumerate(WORDS)]
    real = TurnedCrops(uprights, [0] * len(uprights), all_turns=True)
    config = OrientationTrainConfig(
        out_dir=None,
        steps=120,
        batch_size=16,
        learning_rate=5e-3,
        channels=(8, 16, 16, 16),
        hidden=16,
        validation_size=0,
        workers=0,
        synthetic_share=0.0,  # only the words above: a run short enough for a test
    )

    untrained = OrientationNet(OrientationConfig(channels=config.channels, hidden=config.hidden))
    model = fit(config, real=real)

    classifier = OrientationClassifier(weights_bytes(model))
    crops = [turn(image, k) for image in uprights for k in range(4)]
    truth = [ANGLES[k] for _ in uprights for k in range(4)]
    found = [o.angle for o in classifier.predict(crops)]
    before = OrientationClassifier(weights_bytes(untrained.eval())).predict(crops)
    assert sum(f == t for f, t in zip(found, truth, strict=True)) >= 0.9 * len(truth)
    assert sum(b.angle == t for b, t in zip(before, truth, strict=True)) < 0.6 * len(truth)


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped orientation weights")
def test_the_shipped_classifier_turns_rendered_words_back():
    classifier = OrientationClassifier()
    uprights = [render_word(word, seed=seed) for seed, word in enumerate(WORDS)]
    turned = [image.rotate(angle, expand=True) for image in uprights for angle in ANGLES]

    back, found = classifier.upright(turned, min_confidence=0.9)

    right = sum(
        np.array_equal(np.asarray(b), np.asarray(uprights[i // 4])) for i, b in enumerate(back)
    )
    assert right >= 0.9 * len(turned)
    assert all(f.angle == 0 for f in found[::4]), "an upright word was taken for a turned one"
    assert isinstance(back[0], Image.Image)
    assert prepare(to_gray(turned[1]))[1] == 1
