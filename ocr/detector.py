"""Word detector, first version: MSER character regions grouped into words along lines.

No learned model: it needs no weights, runs on one CPU core in well under a second per
page, and finds both dark-on-light and light-on-dark print. Its job is to cut a page into
word crops that people then transcribe, so a missed word costs more than a stray box:
annotators can skip a crop, but nobody sees a word that was never cut out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordBox:
    """A word's axis-aligned rectangle in page pixel coordinates."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height


@dataclass(frozen=True)
class DetectorConfig:
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


_DEFAULT_CONFIG = DetectorConfig()


def detect_words(image: np.ndarray, *, config: DetectorConfig | None = None) -> list[WordBox]:
    """Word boxes on a page (HxW grayscale or HxWx3 RGB, uint8), in reading order."""
    config = config or _DEFAULT_CONFIG
    gray = _to_gray(image)
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
    words = _group_words(chars, config)
    words = _dedupe(words, config)
    boxes = _to_page(words, scale, page_width, page_height, config)
    ordered = _reading_order(boxes)
    logger.debug("detected %d words from %d character regions", len(ordered), len(chars))
    return ordered


def _to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        if image.shape[2] == 4:
            return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2GRAY)
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {image.shape}")
    return np.ascontiguousarray(image, dtype=np.uint8)


def _character_boxes(gray: np.ndarray, config: DetectorConfig) -> np.ndarray:
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


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_b] = root_a


def _group_words(chars: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """Character boxes joined into words; N×4 array of (x0, y0, x1, y1).

    Two steps, because the space between words depends on the font: first characters
    that sit on one line close together are chained into phrases, then each phrase is cut
    at the gaps that are wide for that phrase (an inter-word space is a few times the
    usual gap between its letters).
    """
    if len(chars) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    order = np.argsort(chars[:, 0], kind="stable")
    x0 = chars[order, 0].astype(np.int64)
    y0 = chars[order, 1].astype(np.int64)
    x1 = x0 + chars[order, 2]
    y1 = y0 + chars[order, 3]
    heights = chars[order, 3].astype(np.float64)
    small = heights < config.min_char_height
    # The furthest right a partner may start: the gap limit scaled by the tallest partner
    # this box may join (punctuation may join anything that covers it).
    tallest_partner = np.where(small, config.max_char_height, heights * config.max_height_ratio)
    reach = x1 + config.phrase_gap * tallest_partner
    sets = _UnionFind(len(order))
    for i in range(len(order)):
        stop = int(np.searchsorted(x0, reach[i], side="right"))
        if stop <= i + 1:
            continue
        j = np.arange(i + 1, stop)
        taller = np.maximum(heights[i], heights[j])
        shorter = np.minimum(heights[i], heights[j])
        overlap = np.minimum(y1[i], y1[j]) - np.maximum(y0[i], y0[j])
        gap = x0[j] - x1[i]
        either_small = small[i] | small[j]
        joins = (
            (overlap >= config.min_vertical_overlap * shorter)
            & (gap <= config.phrase_gap * taller)
            & (
                (~either_small & (taller <= config.max_height_ratio * shorter))
                | (either_small & (overlap >= shorter))
            )
        )
        for k in j[joins]:
            sets.union(i, int(k))
    roots = np.fromiter((sets.find(i) for i in range(len(order))), dtype=np.int64)
    members_by_root: dict[int, list[int]] = {}
    for index, root in enumerate(roots.tolist()):
        members_by_root.setdefault(root, []).append(index)

    words: list[tuple[int, int, int, int]] = []
    for members in members_by_root.values():
        idx = np.asarray(members)  # already sorted by x0
        if np.all(small[idx]):
            continue  # a cluster of specks
        # Glyphs: runs of members whose x ranges overlap (a letter and its nested
        # regions, an "i" and its dot); the gaps between glyphs decide the cuts.
        ends = np.maximum.accumulate(x1[idx])
        gaps = x0[idx[1:]] - ends[:-1]
        starts = np.concatenate(([0], np.flatnonzero(gaps > 0) + 1))
        # The median over all regions, nested ones included, is nearer to the x-height
        # than to the glyph height: the scale that word spaces follow.
        height = float(np.median(heights[idx][~small[idx]]))
        glyph_gaps = gaps[starts[1:] - 1]
        cuts = starts[1:][_word_gaps(glyph_gaps, height, config)]
        for piece in np.split(idx, cuts):
            if np.all(small[piece]):
                continue  # a lone dot or comma cut off its word
            words.append(
                (
                    int(x0[piece].min()),
                    int(y0[piece].min()),
                    int(x1[piece].max()),
                    int(y1[piece].max()),
                )
            )
    if not words:
        return np.zeros((0, 4), dtype=np.int64)
    boxes = np.asarray(words, dtype=np.int64)
    keep = ((boxes[:, 3] - boxes[:, 1]) >= config.min_word_height) & (
        (boxes[:, 2] - boxes[:, 0]) >= config.min_word_width
    )
    return boxes[keep]


def _word_gaps(gaps: np.ndarray, height: float, config: DetectorConfig) -> np.ndarray:
    """Which gaps inside a phrase separate words (a boolean per gap)."""
    if len(gaps) == 0:
        return np.zeros(0, dtype=bool)
    letter_gap = float(np.median(gaps))
    wide = gaps > config.max_gap * height
    relatively_wide = (gaps > config.min_gap * height) & (
        gaps > config.gap_contrast * max(letter_gap, 1.0)
    )
    return wide | relatively_wide


def _dedupe(words: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """Drops word boxes mostly inside a bigger one (nested MSER regions of one word)."""
    if len(words) < 2:
        return words
    areas = (words[:, 2] - words[:, 0]) * (words[:, 3] - words[:, 1])
    order = np.argsort(-areas, kind="stable")
    kept: list[int] = []
    for i in order:
        if kept:
            others = words[kept]
            iw = np.minimum(others[:, 2], words[i, 2]) - np.maximum(others[:, 0], words[i, 0])
            ih = np.minimum(others[:, 3], words[i, 3]) - np.maximum(others[:, 1], words[i, 1])
            inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
            if np.any(inter >= config.dedupe_overlap * max(1, areas[i])):
                continue
        kept.append(int(i))
    return words[kept]


def _to_page(
    words: np.ndarray, scale: float, page_width: int, page_height: int, config: DetectorConfig
) -> list[WordBox]:
    boxes: list[WordBox] = []
    for x0, y0, x1, y1 in (words / scale).tolist():
        pad = max(1.0, config.padding * (y1 - y0))
        left = max(0, int(np.floor(x0 - pad)))
        top = max(0, int(np.floor(y0 - pad)))
        right = min(page_width, int(np.ceil(x1 + pad)))
        bottom = min(page_height, int(np.ceil(y1 + pad)))
        if right > left and bottom > top:
            boxes.append(WordBox(x=left, y=top, width=right - left, height=bottom - top))
    return boxes


def _reading_order(boxes: list[WordBox]) -> list[WordBox]:
    """Lines top to bottom, words left to right within a line.

    A box joins the current line while its vertical centre lies within the line's
    running extent; a box lower down starts the next line.
    """
    if not boxes:
        return []
    by_centre = sorted(boxes, key=lambda b: (b.y + b.height / 2, b.x))
    lines: list[list[WordBox]] = []
    line_top = line_bottom = 0.0
    for box in by_centre:
        centre = box.y + box.height / 2
        if lines and centre <= line_bottom and centre >= line_top:
            lines[-1].append(box)
            line_top = max(line_top, box.y)
            line_bottom = min(line_bottom, box.bottom)
        else:
            lines.append([box])
            line_top, line_bottom = box.y, box.bottom
    return [box for line in lines for box in sorted(line, key=lambda b: b.x)]
