"""Pages the right way up: a page turned by 90, 180 or 270 degrees is found and undone.

Two questions, answered before reading:

1. **Do its lines run across or down?** Words are detected on the page as it lies (the
   detection the reader uses on an upright page) and the per-crop orientation classifier
   (`ocr.orientation`) reads the biggest regions: the mean log-odds of "turned a quarter"
   over "upright or upside down" above `QUARTER_CHECK`, or above `PROFILE_CHECK` with ink
   profiles whose columns are clearly more contrasted than their rows (`AXIS_RATIO`: text
   lines separated by white gaps make the row profile step up and down), raise the
   question; the page turned a
   quarter is then detected too and the version whose regions the classifier finds more
   upright is kept. (The profiles alone are no answer: a receipt's columns of prices
   contrast as much as its lines; a single line of text contrasts its columns too.)
2. **Which way up are its words?** The classifier reads the widest words of the page as
   it now lies (`SAMPLE` at most); its log-probabilities of "as is" and "upside down" are
   summed over them, and the page is turned half round when upside down wins.

On an upright page this costs the profiles and the classifier on twice `SAMPLE` crops;
the detection is reused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import cv2
import numpy as np

from ocr.detection.boxes import to_gray
from ocr.detector import WordBox

AXIS_RATIO = 1.15  # column contrast over row contrast above which lines run down
WORK_SIDE = 800  # longest side of the page the profiles are measured on
SAMPLE = 24  # widest detected words (biggest regions) the classifier reads
# Mean log-odds of "turned a quarter" over the page's regions above which the page turned
# a quarter is detected and compared. Tuning half: upright receipts -10.3 … -6.2 (8 of 60
# above -9 pay a second detection), receipts turned 270: -8.9 … +3.
QUARTER_CHECK = -9.0
# The ink profiles raise the question only on a page whose regions score above this (a
# turned page the classifier is not sure of): below it they questioned upright receipts,
# a second detection each, for nothing (figures: docs/adr/0011-page-reader.md).
PROFILE_CHECK = -10.0
MIN_WORD_ASPECT = 1.5  # words narrower than this (width / height) say little of their way up
# The upside-down vote reuses the quarter question's regions when at least this many of
# them are wide words (figures: docs/adr/0011-page-reader.md).
SHARED_VOTES = 12

Detector = Callable[[np.ndarray], list[WordBox]]


@functools.cache
def default_classifier():
    from ocr.orientation.predictor import OrientationClassifier

    return OrientationClassifier(threads=1)


def profile_contrast(gray: np.ndarray) -> tuple[float, float]:
    """(rows, columns): mean absolute step of each ink profile over its mean."""
    height, width = gray.shape
    scale = min(1.0, WORK_SIDE / max(height, width, 1))
    if scale < 1.0:
        gray = cv2.resize(
            gray,
            (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA,
        )
    ink = cv2.adaptiveThreshold(
        gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15
    ).astype(np.float32)
    rows, columns = ink.sum(axis=1), ink.sum(axis=0)

    def contrast(profile: np.ndarray) -> float:
        if len(profile) < 3 or profile.mean() <= 0:
            return 0.0
        return float(np.abs(np.diff(profile)).mean() / profile.mean())

    return contrast(rows), contrast(columns)


def lines_run_down(gray: np.ndarray) -> bool:
    rows, columns = profile_contrast(gray)
    return columns > AXIS_RATIO * rows


def upside_down_score(gray: np.ndarray, boxes: list[WordBox], classifier=None) -> float:
    """Summed log-odds of "upside down" over "as is" for the page's widest words."""
    wide = [b for b in boxes if b.width >= MIN_WORD_ASPECT * b.height and b.height >= 8]
    wide.sort(key=lambda b: -b.width)
    probabilities = region_probabilities(gray, wide[:SAMPLE], classifier)
    return sum((_upside_down_vote(p) for p in probabilities), 0.0)


def _upside_down_vote(p) -> float:
    """One region's log-odds of "upside down" (180) over "as is" (0)."""
    return math.log(max(p[2], 1e-6)) - math.log(max(p[0], 1e-6))


def turn(image: np.ndarray, degrees: int) -> np.ndarray:
    """The image turned clockwise by `degrees` (a multiple of 90)."""
    quarters = (degrees // 90) % 4
    if quarters == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, -quarters))


def biggest_regions(boxes: list[WordBox]) -> list[WordBox]:
    """The page's `SAMPLE` biggest detected regions (area), at least 8 pixels each way."""
    return sorted(
        (b for b in boxes if min(b.width, b.height) >= 8), key=lambda b: -b.width * b.height
    )[:SAMPLE]


def region_probabilities(gray: np.ndarray, boxes: list[WordBox], classifier=None) -> list:
    """The classifier's probabilities of each angle (`ANGLES` order) for each box's crop."""
    if not boxes:
        return []
    classifier = classifier or default_classifier()
    crops = [gray[b.y : b.bottom, b.x : b.right] for b in boxes]
    return [found.probabilities for found in classifier.predict(crops)]


def quarter_score(probabilities: list) -> float:
    """Mean log-odds of "turned a quarter" (90 or 270) over "upright or upside down"."""
    if not probabilities:
        return 0.0
    score = sum(
        math.log(max(p[1] + p[3], 1e-6)) - math.log(max(p[0] + p[2], 1e-6)) for p in probabilities
    )
    return score / len(probabilities)


def upside_down_votes(boxes: list[WordBox], probabilities: list) -> float | None:
    """`upside_down_score` from probabilities the quarter question already has: summed
    over its regions that are words wide enough to say their way up; None when fewer than
    `SHARED_VOTES` are (then the widest words are read for it)."""
    votes = [
        _upside_down_vote(p)
        for b, p in zip(boxes, probabilities, strict=True)
        if b.width >= MIN_WORD_ASPECT * b.height
    ]
    return sum(votes) if len(votes) >= SHARED_VOTES else None


def upright(
    image: np.ndarray,
    *,
    detect: Detector,
    classifier=None,
) -> tuple[np.ndarray, int, list[WordBox]]:
    """The page turned upright, the degrees it was turned clockwise to get there (0, 90,
    180, 270) and its detected words."""
    gray = to_gray(image)
    rotation = 0
    boxes = list(detect(image))
    # The classifier on the page's own regions, or the profiles, raise the question; the
    # page turned a quarter is then detected too, and the classifier says which of the
    # two shows words the right way across.
    regions = biggest_regions(boxes)
    probabilities = region_probabilities(gray, regions, classifier)
    quarter = quarter_score(probabilities)
    if quarter > QUARTER_CHECK or (quarter > PROFILE_CHECK and lines_run_down(gray)):
        turned = turn(image, 90)
        turned_gray = to_gray(turned)
        turned_boxes = list(detect(turned))
        turned_regions = biggest_regions(turned_boxes)
        turned_probabilities = region_probabilities(turned_gray, turned_regions, classifier)
        if quarter_score(turned_probabilities) < quarter:
            rotation, image, gray, boxes = 90, turned, turned_gray, turned_boxes
            regions, probabilities = turned_regions, turned_probabilities
    # The upside-down question asks the same regions' probabilities when enough of them
    # are wide words (one classifier call a page instead of two).
    upside_down = upside_down_votes(regions, probabilities)
    if upside_down is None:
        upside_down = upside_down_score(gray, boxes, classifier)
    if upside_down > 0:
        rotation = (rotation + 180) % 360
        image = turn(image, 180)
        boxes = list(detect(image))
    return image, rotation, boxes
