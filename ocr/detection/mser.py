"""The first word detector ("mser"): MSER character regions grouped into words along lines.

No learned model: it needs no weights, runs on one CPU core in well under a second per
page, and finds both dark-on-light and light-on-dark print. Kept for comparison with
the default detector (`ocr.detector.DETECTORS["mser"]`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from ocr.detection.boxes import WordBox, dedupe, reading_order, to_gray, to_page
from ocr.detection.grouping import group_words

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MserConfig:
    """Tuning knobs of `detect_words`; the defaults were tuned on scanned forms.

    Sizes in pixels refer to the working image, i.e. after the page is scaled down to
    `max_side`; fractions are relative to a character's height.
    """

    # Pages larger than this (longest side, px) are scaled down before MSER, which is
    # the costly step; text stays legible to MSER down to ~8 px characters.
    max_side: int = 1600
    # MSER: intensity step between nested thresholds, and region area limits (px).
    mser_delta: int = 5
    mser_min_area: int = 6
    mser_max_area_fraction: float = 0.01
    mser_max_variation: float = 0.5
    # Straight strokes at least this long (px) are rules and cell borders, erased before
    # MSER; 0 keeps them.
    rule_min_length: int = 40
    rule_max_thickness: int = 6
    # A character candidate's height range (px) and its width / height limit; wider
    # regions are rules, underlines and table borders.
    min_char_height: int = 5
    max_char_height: int = 120
    max_char_aspect: float = 3.0
    # Two characters chain into a phrase when their vertical overlap is at least this
    # share of the shorter one's height and the horizontal gap is at most `phrase_gap` ×
    # the taller one's height.
    min_vertical_overlap: float = 0.5
    phrase_gap: float = 0.8
    # A phrase is cut into words at gaps wider than `max_gap` × its median character
    # height, and at gaps wider than `min_gap` × that height which are also
    # `gap_contrast` times the phrase's median gap between letters.
    max_gap: float = 0.35
    min_gap: float = 0.2
    gap_contrast: float = 3.0
    # Joining glyphs of very different sizes chains lines together; punctuation is the
    # small exception (dots and commas sit inside the bigger glyph's vertical range).
    max_height_ratio: float = 2.5
    # A finished word smaller than this (px, either side) is a speck, not a word.
    min_word_height: int = 7
    min_word_width: int = 3
    # Padding added on each side of a word box, as a share of its height (at least 1 px,
    # page pixels), so that crops do not clip ascenders, descenders and edge strokes.
    padding: float = 0.1
    # Two word boxes overlapping this much (intersection over the smaller) are one.
    dedupe_overlap: float = 0.7


_DEFAULT_CONFIG = MserConfig()


def detect_words(image: np.ndarray, *, config: MserConfig | None = None) -> list[WordBox]:
    """Word boxes on a page (HxW grayscale or HxWx3 RGB, uint8), in reading order."""
    config = config or _DEFAULT_CONFIG
    gray = to_gray(image)
    page_height, page_width = gray.shape
    if page_height == 0 or page_width == 0:
        return []
    scale = min(1.0, config.max_side / max(page_height, page_width))
    work = (
        cv2.resize(
            gray,
            (max(1, round(page_width * scale)), max(1, round(page_height * scale))),
            interpolation=cv2.INTER_AREA,
        )
        if scale < 1.0
        else gray
    )
    chars = _character_boxes(work, config)
    words = group_words(chars, config)
    words = dedupe(words, config.dedupe_overlap)
    boxes = to_page(words, scale, page_width, page_height, config.padding)
    ordered = reading_order(boxes)
    logger.debug("detected %d words from %d character regions", len(ordered), len(chars))
    return ordered


def _character_boxes(gray: np.ndarray, config: MserConfig) -> np.ndarray:
    """Candidate character rectangles (N×4 int array of x, y, w, h), both polarities.

    MSER is run on the page and on its negative so that light print on dark bands is
    found as well as dark print on paper.
    """
    max_area = max(config.mser_min_area + 1, int(gray.size * config.mser_max_area_fraction))
    mser = cv2.MSER_create(
        delta=config.mser_delta,
        min_area=config.mser_min_area,
        max_area=max_area,
        max_variation=config.mser_max_variation,
    )
    if config.rule_min_length > 0:
        gray = _erase_rules(gray, config.rule_min_length, config.rule_max_thickness)
    found = []
    for plane in (gray, 255 - gray):
        _, boxes = mser.detectRegions(plane)
        if len(boxes):
            found.append(np.asarray(boxes, dtype=np.int32).reshape(-1, 4))
    if not found:
        return np.zeros((0, 4), dtype=np.int32)
    boxes = np.unique(np.concatenate(found), axis=0)
    widths, heights = boxes[:, 2], boxes[:, 3]
    keep = (
        (heights >= config.min_char_height)
        & (heights <= config.max_char_height)
        & (widths <= heights * config.max_char_aspect)
    )
    # Dots and commas are too short for min_char_height but belong to words.
    punctuation = (heights >= 2) & (heights < config.min_char_height) & (widths <= 2 * heights + 2)
    return boxes[keep | punctuation]


def _erase_rules(gray: np.ndarray, min_length: int, max_thickness: int) -> np.ndarray:
    """The page with long, thin, dark horizontal and vertical strokes painted over.

    Forms underline their fields and box their cells; where a rule touches a letter's
    descender, MSER sees letter and rule as one region far too wide to be a character,
    and the word is lost.
    """
    ink = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15
    )
    cleaned = gray
    grow = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    for along, across in (
        ((min_length, 1), (1, max_thickness + 1)),
        ((1, min_length), (max_thickness + 1, 1)),
    ):
        rule = cv2.morphologyEx(
            ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along)
        )
        if not rule.any():
            continue
        # Thick stretches are not rules: the dark margin around light print on a dark
        # band looks like "ink" to the adaptive threshold.
        thick = cv2.morphologyEx(
            rule, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, across)
        )
        mask = cv2.dilate(cv2.subtract(rule, thick), grow) > 0
        if not mask.any():
            continue
        # The local background (a closing across the rule) rather than plain white, so
        # that a wrongly taken stretch keeps roughly its own shade.
        background = cv2.morphologyEx(
            gray,
            cv2.MORPH_CLOSE,
            cv2.getStructuringElement(cv2.MORPH_RECT, (across[0] + 2, across[1] + 2)),
        )
        if cleaned is gray:
            cleaned = gray.copy()
        cleaned[mask] = background[mask]
    return cleaned
