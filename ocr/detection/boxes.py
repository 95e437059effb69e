"""What every word detector shares: the word box, grey pages, and reading order."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import cv2
import numpy as np


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


def median(values: np.ndarray) -> float:
    """`np.median` of a non-empty 1-D array, the same value, without its overhead (the
    detector takes the median of thousands of small arrays per page)."""
    return _median_of_sorted(np.sort(values))


def _median_of_sorted(ordered) -> float:
    """The median of a non-empty sorted list or array, as `np.median` gives it."""
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float((ordered[middle - 1] + ordered[middle]) / 2)


def to_gray(image: np.ndarray) -> np.ndarray:
    """An HxW uint8 grey page from HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        if image.shape[2] == 4:
            return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2GRAY)
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise ValueError(f"expected an HxW or HxWx3 image, got shape {image.shape}")
    return np.ascontiguousarray(image, dtype=np.uint8)


def scale_down(gray: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The page scaled so that its longest side is at most `max_side`, and the scale."""
    height, width = gray.shape
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return gray, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), scale


_DEDUPE_BLOCK = 512


def dedupe(words: np.ndarray, overlap: float) -> np.ndarray:
    """Drops (x0, y0, x1, y1) boxes lying mostly (`overlap` of their area) inside a bigger one."""
    if len(words) < 2:
        return words
    areas = (words[:, 2] - words[:, 0]) * (words[:, 3] - words[:, 1])
    order = np.argsort(-areas, kind="stable")
    boxes = words[order]
    limit = overlap * np.maximum(1, areas[order])
    kept = np.ones(len(boxes), dtype=bool)
    # Boxes taken biggest first, each against every earlier one at once (in blocks of
    # rows); only a box that some earlier box covers enough is looked at on its own,
    # since whether that earlier box was kept decides it.
    for start in range(0, len(boxes), _DEDUPE_BLOCK):
        block = boxes[start : start + _DEDUPE_BLOCK]
        earlier = boxes[: start + len(block)]
        iw = np.minimum(block[:, None, 2], earlier[None, :, 2]) - np.maximum(
            block[:, None, 0], earlier[None, :, 0]
        )
        ih = np.minimum(block[:, None, 3], earlier[None, :, 3]) - np.maximum(
            block[:, None, 1], earlier[None, :, 1]
        )
        covered = (
            np.clip(iw, 0, None) * np.clip(ih, 0, None) >= limit[start : start + len(block), None]
        )
        covered &= np.arange(len(earlier))[None, :] < np.arange(start, start + len(block))[:, None]
        for row in np.flatnonzero(covered.any(axis=1)).tolist():
            if (covered[row] & kept[: len(earlier)]).any():
                kept[start + row] = False
    return boxes[kept]


def to_page(
    words: np.ndarray, scale: float, page_width: int, page_height: int, padding: float
) -> list[WordBox]:
    """Working-image (x0, y0, x1, y1) boxes as page WordBoxes, `padding` × height added
    on each side (none when 0), clipped to the page."""
    boxes: list[WordBox] = []
    for x0, y0, x1, y1 in (np.asarray(words, dtype=np.float64) / scale).tolist():
        pad = padding * (y1 - y0)
        if padding > 0:
            pad = max(1.0, pad)
        left = max(0, int(np.floor(x0 - pad)))
        top = max(0, int(np.floor(y0 - pad)))
        right = min(page_width, int(np.ceil(x1 + pad)))
        bottom = min(page_height, int(np.ceil(y1 + pad)))
        if right > left and bottom > top:
            boxes.append(WordBox(x=left, y=top, width=right - left, height=bottom - top))
    return boxes


def reading_order(boxes: list[WordBox]) -> list[WordBox]:
    """Lines top to bottom, words left to right within a line.

    Boxes are taken by their vertical centre; a box joins the open line whose middle
    half (the median top and bottom of its boxes, shrunk by a quarter of its height on
    each side) holds its centre, else it starts a line. Lines are ordered by their median
    centre, so one tall or low box does not reorder a line.
    """
    if not boxes:
        return []
    by_centre = sorted(boxes, key=lambda b: (b.y + b.height / 2, b.x))
    lines: list[list[WordBox]] = []
    spans: list[tuple[float, float]] = []  # each line's median top and bottom
    # Each line's tops and bottoms kept sorted, so that its medians cost no sort.
    tops: list[list[int]] = []
    bottoms: list[list[int]] = []
    for box in by_centre:
        centre = box.y + box.height / 2
        home = None
        # Only the last few lines can still take a box lower down the page.
        for index in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            top, bottom = spans[index]
            quarter = (bottom - top) / 4
            if top + quarter <= centre <= bottom - quarter:
                home = index
                break
        if home is None:
            lines.append([box])
            spans.append((float(box.y), float(box.bottom)))
            tops.append([box.y])
            bottoms.append([box.bottom])
        else:
            lines[home].append(box)
            bisect.insort(tops[home], box.y)
            bisect.insort(bottoms[home], box.bottom)
            spans[home] = (_median_of_sorted(tops[home]), _median_of_sorted(bottoms[home]))
    order = sorted(
        range(len(lines)),
        key=lambda i: _median_of_sorted(sorted(b.y + b.height / 2 for b in lines[i])),
    )
    return [box for i in order for box in sorted(lines[i], key=lambda b: b.x)]
