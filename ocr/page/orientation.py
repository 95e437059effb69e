"""Pages the right way up: a page turned by 90, 180 or 270 degrees is found and undone.

Two cheap questions, answered before reading:

1. **Do its lines run across or down?** Text lines are separated by white gaps, so the
   ink summed along each row of an upright (or upside-down) page rises and falls with
   every line while the ink summed along each column is smooth; on a page turned a
   quarter it is the other way round. The page is binarized at a small working size and
   the two profiles' contrast (the mean absolute step between neighbouring rows, resp.
   columns, relative to the mean) compared: columns clearly stronger (`AXIS_RATIO`)
   means the lines run down, and the page is turned a quarter to lay them across.
2. **Which way up are its words?** Words are detected on the page with its lines across
   (upright pages: the detection the reader uses anyway) and the per-crop orientation
   classifier (`ocr.orientation`) reads the widest of them (`SAMPLE` at most); its
   log-probabilities of "as is" and "upside down" are summed over them, and the page is
   turned half round when upside down wins.

On an upright page this costs the profiles and the classifier on a few crops (a few
milliseconds); the detection is reused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import cv2
import numpy as np

from ocr.detector import WordBox

AXIS_RATIO = 1.15  # column contrast over row contrast above which lines run down
WORK_SIDE = 800  # longest side of the page the profiles are measured on
SAMPLE = 24  # widest detected words the classifier reads
MIN_WORD_ASPECT = 1.5  # words narrower than this (width / height) say little of their way up

Detector = Callable[[np.ndarray], list[WordBox]]


@functools.cache
def default_classifier():
    from ocr.orientation.predictor import OrientationClassifier

    return OrientationClassifier(threads=1)


def _gray(image: np.ndarray) -> np.ndarray:
    from ocr.page.reader import to_gray

    return to_gray(image)


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
    chosen = wide[:SAMPLE]
    if not chosen:
        return 0.0
    classifier = classifier or default_classifier()
    crops = [gray[b.y : b.bottom, b.x : b.right] for b in chosen]
    score = 0.0
    for found in classifier.predict(crops):
        p_up, p_down = found.probabilities[0], found.probabilities[2]
        score += math.log(max(p_down, 1e-6)) - math.log(max(p_up, 1e-6))
    return score


def turn(image: np.ndarray, degrees: int) -> np.ndarray:
    """The image turned clockwise by `degrees` (a multiple of 90)."""
    quarters = (degrees // 90) % 4
    if quarters == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, -quarters))


def quarter_turned_score(gray: np.ndarray, boxes: list[WordBox], classifier=None) -> float:
    """Mean log-odds of "turned a quarter" (90 or 270) over "upright or upside down"
    (0 or 180) over the page's biggest detected regions."""
    chosen = sorted(
        (b for b in boxes if min(b.width, b.height) >= 8), key=lambda b: -b.width * b.height
    )[:SAMPLE]
    if not chosen:
        return 0.0
    classifier = classifier or default_classifier()
    crops = [gray[b.y : b.bottom, b.x : b.right] for b in chosen]
    score = 0.0
    for found in classifier.predict(crops):
        p = found.probabilities
        score += math.log(max(p[1] + p[3], 1e-6)) - math.log(max(p[0] + p[2], 1e-6))
    return score / len(chosen)


def upright(
    image: np.ndarray,
    *,
    detect: Detector,
    classifier=None,
) -> tuple[np.ndarray, int, list[WordBox]]:
    """The page turned upright, the degrees it was turned clockwise to get there (0, 90,
    180, 270) and its detected words."""
    gray = _gray(image)
    rotation = 0
    boxes = list(detect(image))
    # The profiles alone mistake a single line of text (its letters make the columns
    # contrasted) for a turned page: the page turned a quarter is detected too, and the
    # classifier says which of the two shows words the right way across.
    if lines_run_down(gray):
        turned = turn(image, 90)
        turned_gray = _gray(turned)
        turned_boxes = list(detect(turned))
        if quarter_turned_score(turned_gray, turned_boxes, classifier) < quarter_turned_score(
            gray, boxes, classifier
        ):
            rotation, image, gray, boxes = 90, turned, turned_gray, turned_boxes
    if upside_down_score(gray, boxes, classifier) > 0:
        rotation = (rotation + 180) % 360
        image = turn(image, 180)
        boxes = list(detect(image))
    return image, rotation, boxes
