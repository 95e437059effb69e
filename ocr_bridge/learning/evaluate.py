"""A model measured: on the frozen test split's crops, the gold items, and held-out
synthetic words (what forgetting would cost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ocr_bridge import evaluation
from ocr_bridge.engines import Recognition

if TYPE_CHECKING:
    from ocr_bridge.learning.crops import CropImages

SYNTHETIC_CHECK_SIZE = 256  # synthetic words read by new and parent: forgetting, measured


def read_with(engine_weights: bytes, images: Sequence[np.ndarray]) -> list[Recognition]:
    from ocr.recognition.predictor import Predictor

    decoded = Predictor(engine_weights).predict(list(images))
    return [Recognition(d.text, d.confidence, d.char_confidences) for d in decoded]


def _measure(model_weights: bytes, crops: CropImages) -> dict[str, Any]:
    readings = read_with(model_weights, crops.images)
    return evaluation.measure(
        [ref.text for ref in crops.refs],
        [r.text for r in readings],
        [r.confidence for r in readings],
        [ref.kind for ref in crops.refs],
    )


def _synthetic_accuracy(model_weights: bytes) -> float:
    """Case-insensitive accuracy on held-out synthetic words: what forgetting would cost."""
    from ocr.recognition.metrics import score
    from ocr.recognition.training import VALIDATION_FIRST_SEED
    from ocr.synth.render import render_sample

    samples = [render_sample(VALIDATION_FIRST_SEED + i) for i in range(SYNTHETIC_CHECK_SIZE)]
    readings = read_with(model_weights, [s.image for s in samples])
    scores = score([s.text for s in samples], [r.text for r in readings], [0.0] * len(samples))
    return round(scores.accuracy_nocase, 4)


def model_evaluate(*, model_weights: bytes, frozen: CropImages, gold: CropImages) -> dict[str, Any]:
    return {
        "frozen": _measure(model_weights, frozen),
        "gold": _measure(model_weights, gold),
        "synthetic_accuracy": _synthetic_accuracy(model_weights),
    }
