"""Colons the detector dropped, found again in the gaps between a line's words.

A colon is two specks, and word detectors drop specks; on receipts, whose transcripts
space it as a word of its own ("TOTAL : 80.91"), the colon alone was a fifth of the
words our reader missed on the tuning half (7.6 a page). Between two neighbouring words
of a line, the gap's ink (Otsu's threshold of the pair's own pixels) is split into
connected components; exactly two small ones, one above the other, one in the upper and
one in the lower half of the line's letters, are a colon, kept as a word ":" (decision
"accepted", made from no detected box: `source_boxes` 0) with the confidence
`COLON_CONFIDENCE` (its precision on the tuning half). What it gains: ADR 0011.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from ocr.detector import WordBox

COLON_CONFIDENCE = 0.95  # 43 of 43 right on 10 tuning-half receipts
MAX_DOT = 0.35  # a dot's width and height at most this × the letters' height
MIN_GAP = 2  # px between two words for a mark to fit


def find_colon(gray: np.ndarray, left: WordBox, right: WordBox) -> WordBox | None:
    """The box of a colon alone in the gap between two words of a line, if there is one."""
    if right.x - left.right < MIN_GAP:
        return None
    top, bottom = min(left.y, right.y), max(left.bottom, right.bottom)
    height = (left.height + right.height) / 2  # the median of two
    pair = gray[top:bottom, left.x : right.right]
    if pair.size == 0 or int(pair.max()) - int(pair.min()) < 48:
        return None
    threshold, _ = cv2.threshold(pair, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    gap = gray[top:bottom, left.right : right.x]
    ink = (gap < threshold).astype(np.uint8)
    if np.median(pair) < threshold:  # light print on a dark ground
        ink = 1 - ink
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    dots = [
        s
        for s in stats[1:]
        if s[cv2.CC_STAT_AREA] >= 2
        and s[cv2.CC_STAT_WIDTH] <= MAX_DOT * height
        and s[cv2.CC_STAT_HEIGHT] <= MAX_DOT * height
    ]
    if len(dots) != 2 or count - 1 != 2:  # anything else in the gap: not a lone colon
        return None
    upper, lower = sorted(dots, key=lambda s: s[cv2.CC_STAT_TOP])
    centre = lambda s: (  # noqa: E731
        s[cv2.CC_STAT_LEFT] + s[cv2.CC_STAT_WIDTH] / 2,
        s[cv2.CC_STAT_TOP] + s[cv2.CC_STAT_HEIGHT] / 2,
    )
    (ux, uy), (lx, ly) = centre(upper), centre(lower)
    middle = (bottom - top) / 2
    if abs(ux - lx) > 0.2 * height or ly - uy < 0.25 * height:
        return None
    if not (uy < middle < ly):
        return None
    x0 = min(upper[cv2.CC_STAT_LEFT], lower[cv2.CC_STAT_LEFT])
    x1 = max(
        upper[cv2.CC_STAT_LEFT] + upper[cv2.CC_STAT_WIDTH],
        lower[cv2.CC_STAT_LEFT] + lower[cv2.CC_STAT_WIDTH],
    )
    y0 = upper[cv2.CC_STAT_TOP]
    y1 = lower[cv2.CC_STAT_TOP] + lower[cv2.CC_STAT_HEIGHT]
    return WordBox(left.right + int(x0), top + int(y0), int(x1 - x0), int(y1 - y0))


def gap_components(gray: np.ndarray, left: WordBox, right: WordBox) -> tuple[list, int, int]:
    """The ink components (cv2 stats rows) in the gap between two words of a line, with
    the top and bottom of the rows looked at; no components when there is no gap or no
    contrast."""
    top, bottom = min(left.y, right.y), max(left.bottom, right.bottom)
    if right.x - left.right < MIN_GAP:
        return [], top, bottom
    pair = gray[top:bottom, left.x : right.right]
    if pair.size == 0 or int(pair.max()) - int(pair.min()) < 48:
        return [], top, bottom
    threshold, _ = cv2.threshold(pair, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = (gray[top:bottom, left.right : right.x] < threshold).astype(np.uint8)
    if np.median(pair) < threshold:  # light print on a dark ground
        ink = 1 - ink
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return list(stats[1:]), top, bottom


def dot_between(gray: np.ndarray, left: WordBox, right: WordBox) -> bool:
    """Whether the gap between two words holds one small mark low on the line and nothing
    else: the point or comma of a number the detector cut there ("3" . "98")."""
    components, top, _bottom = gap_components(gray, left, right)
    height = (left.height + right.height) / 2  # the median of two
    if len(components) != 1:
        return False
    _x, y, width, dot_height, area = (int(v) for v in components[0][:5])
    if area < 2 or width > MAX_DOT * height or dot_height > 0.45 * height:
        return False
    return top + y >= min(left.y, right.y) + 0.5 * height


def colons(
    gray: np.ndarray, boxes: Sequence[WordBox], lines: Sequence[Sequence[int]]
) -> list[WordBox]:
    """Colons found between neighbouring words of each line (`lines`: indexes into boxes)."""
    found = []
    for line in lines:
        for a, b in itertools.pairwise(line):
            box = find_colon(gray, boxes[a], boxes[b])
            if box is not None:
                found.append(box)
    return found
