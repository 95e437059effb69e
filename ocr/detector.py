"""The word detectors, and the one the pipeline uses.

`detect_words(image)` cuts a page into word boxes in reading order with the default
detector, `DETECTOR_VERSION` names it, and `DETECTORS` holds every detector by name so
that `python -m ocr.evaluate detector --detector NAME` can compare them:

- "components" (default, `ocr.detection.components`): Sauvola-binarized ink, rules taken
  out, connected components grouped into lines and words by gaps relative to the
  characters' height; boxes padded by 0.15 x their height.
- "mser" (`ocr.detection.mser`): the first detector, MSER regions grouped into words,
  boxes padded by 10% of their height.

A missed word costs more than a stray box: annotators can skip a crop, but nobody sees a
word that was never cut out. Everything here is Django-free.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ocr.detection import components, mser
from ocr.detection.boxes import WordBox
from ocr.detection.components import ComponentConfig
from ocr.detection.mser import MserConfig

# The default detector's configuration (its knobs and their tuned values).
DetectorConfig = ComponentConfig

DEFAULT_DETECTOR = "components"
# Names the default detector and its revision; stored beside every crop it cut.
DETECTOR_VERSION = "components-5"

DETECTORS: dict[str, Callable[[np.ndarray], list[WordBox]]] = {
    "components": components.detect_words,
    "mser": mser.detect_words,
}


def detect_words(
    image: np.ndarray, *, config: ComponentConfig | MserConfig | None = None
) -> list[WordBox]:
    """Word boxes on a page (HxW grayscale or HxWx3 RGB, uint8), in reading order.

    The default detector; an `MserConfig` runs the old MSER detector with it.
    """
    if isinstance(config, MserConfig):
        return mser.detect_words(image, config=config)
    return components.detect_words(image, config=config)


__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "DETECTOR_VERSION",
    "ComponentConfig",
    "DetectorConfig",
    "MserConfig",
    "WordBox",
    "detect_words",
]
