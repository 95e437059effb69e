"""The default word detector ("components"): binarized ink, connected components, words.

Classical, no weights, about a tenth of a CPU second per receipt page on one core
(ADR 0014 has the method's reasons and figures):

1. The print's size is found on a reduced page, the page is read at the scale that
   brings its median character to `char_height` px, and binarized twice with Sauvola's
   local threshold: dark print on light paper everywhere, and light print on dark bands
   where the wide surroundings are dark.
2. Long thin horizontal and vertical strokes (form rules, cell borders, underlines) are
   taken out of the ink, so a rule that touches a descender does not swallow the word.
3. Connected components of the ink are the character candidates; specks, blobs taller
   than any character and hollow frames (check boxes, table cells) are dropped, and two
   lines whose letters touch are cut apart.
4. Characters that sit side by side on one line are chained into phrases, and phrases are
   cut into words at gaps that are wide for their character height (`ocr.detection.grouping`);
   a point or colon midway between two glyphs ("33.70", "12:30") keeps them together
   (unless both its gaps are as wide as the phrase's word spaces: "TEL : 03-3271"), a
   comma hanging below the line joins its digits ("1,250"), and a phrase whose glyphs
   stand at an even pitch (fixed-width type) is cut only where a whole cell is empty;
   pieces of one broken glyph (faded or dot-matrix print) count as one cell there.
5. Neighbouring words whose gap holds a point too faint to be ink are joined (a price
   whose point faded on thermal paper), and boxes whose ink is not print (too thin or too
   solid for their box, or one big shape) are dropped.
6. A column of turned letters, each alone on its line a letter gap below the one above
   (a form's document number printed up its margin), is one word; a glyph-wide box
   alone on its line and of another height than the print (a dot of a dotted border, a
   speck, a tick) is not a word.

Word boxes are padded by `padding` (0.15) x their height on each side: FUNSD's word boxes
keep a few pixels' margin around the ink (0.15 measured best on the tuning half), and a
crop for reading needs the same margin so that no edge stroke is clipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from ocr.detection.boxes import (
    WordBox,
    dedupe,
    median,
    reading_order,
    scale_down,
    to_gray,
    to_page,
)
from ocr.detection.grouping import _UnionFind, group_words

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComponentConfig:
    """Tuning knobs of the components detector; chosen on the tuning half of the
    development data (even positions of the sorted file lists).

    Sizes in pixels refer to the working image (the page at the scale that makes its
    median character `char_height` px); fractions are relative to a character's height.
    """

    # The first look (finding the print's size) is at most this long side (px).
    probe_side: int = 1200
    # The page is read at the scale that makes its median character this tall (px), which
    # makes every other size here relative to the print: small print is enlarged (letters
    # that blur together at 8 px separate when binarized at 16 px), big print reduced.
    # The scale stays within [min_scale, max_scale] of the original and the working
    # image under `max_pixels`.
    char_height: float = 20.0
    min_scale: float = 0.25
    max_scale: float = 2.5
    max_pixels: int = 6_000_000
    rescale_tolerance: float = 0.15
    # Sauvola binarization: window (px, odd), k, and the least darkening below the local
    # mean that counts as ink (grey levels), which keeps flat paper and smooth shading out.
    window: int = 69
    sauvola_k: float = 0.2
    min_contrast: int = 30
    # Light print is looked for only where the median over `background_window` px is
    # below this grey level (dark bands, negative pages), dark print everywhere else.
    dark_background: int = 110
    background_window: int = 61
    # Straight ink runs at least this long (px), across gaps up to `rule_gap` px and at
    # most `rule_max_thickness` px thick, are rules and are taken out; 0 keeps them.
    rule_min_length: int = 67
    rule_gap: int = 3
    rule_max_thickness: int = 8
    # Components: least area (px) kept; a hollow component (ink / box area below
    # `min_fill`) bigger than `hollow_min_side` is a frame, not a character.
    min_area: int = 2
    min_fill: float = 0.12
    hollow_min_side: int = 20
    # Grouping (see ocr.detection.grouping).
    min_char_height: int = 12
    max_char_height: int = 167
    min_vertical_overlap: float = 0.5
    phrase_gap: float = 0.8
    max_gap: float = 0.45
    min_gap: float = 0.2
    gap_contrast: float = 3.0
    # A phrase's gaps are split in two by Otsu's method; when the groups' means are this
    # far apart (× character height), the wider group are word gaps (0: off).
    cluster_separation: float = 0.2
    # ... and only when the upper group's narrowest gap is at least this many times the
    # lower group's mean (0: off).
    cluster_ratio: float = 2.5
    max_height_ratio: float = 2.5
    # Gaps beside a dot, comma or colon midway between glyphs are cut only when wider
    # than this (x character height; a fixed-width point's gaps reach ~0.5; 0: off).
    punctuation_gap: float = 0.45
    # ... and beside a point or comma low on the line (0: as `punctuation_gap`).
    point_gap: float = 0.8
    # A mark not low on the line (a colon) whose gaps are both word spaces by the
    # phrase's own gap sizes stands apart ("TOTAL : 80.91"): its gaps are cut.
    spaced_marks: bool = True
    # Fixed-width phrases: when at least `pitch_share` of a phrase's glyph centre
    # distances are within `pitch_tolerance` of their median (the pitch), a gap is a word
    # gap at `pitch_space` pitches, or when cut by the gap rules at `pitch_cut` (0: off).
    pitch_share: float = 0.85
    pitch_tolerance: float = 0.12
    pitch_space: float = 1.7
    pitch_cut: float = 1.2
    # ... and when the phrase is not even as it is: neighbours whose centres stand under
    # `pitch_fragment` x the pitch apart and whose ink spans under a pitch are pieces of
    # one glyph (faded or dot-matrix print) and make one cell (0: off).
    pitch_fragment: float = 0.6
    # Two words at most `faint_point_gap` x their height apart on one line are joined
    # when their gap holds a point fainter than ink: `faint_point_contrast` grey levels
    # below the gap's paper in its lowest `faint_point_low` of the line, nothing above
    # (0: off).
    faint_point_contrast: int = 20
    faint_point_gap: float = 1.2
    faint_point_low: float = 0.3
    # The share of a dot's or comma's height that must lie within its neighbour's.
    small_overlap: float = 0.7
    # A comma may hang below its neighbour's line by this x the neighbour's height (0: off).
    comma_hang: float = 0.5
    # ... when at least this x the neighbour's height tall (a comma, not a speck).
    comma_min_height: float = 0.25
    # Components taller than this x the median character, with ordinary characters
    # beside their upper and lower halves, are two touching lines and are cut (0: never).
    split_tall: float = 1.6
    # Specks (box area below this, px) at either end of a word are left out of its box.
    end_speck_area: int = 16
    # ... unless they stand on the line: bottom within this x the letters' height of their
    # baseline (0: every end speck is left out).
    speck_on_line: float = 0.15
    min_word_height: int = 14
    min_word_width: int = 5
    # Word boxes whose ink covers less than `min_word_fill` of them, or more than
    # `max_word_fill` when taller than `block_min_height` x the median character, are
    # not print; nor are words of at most `max_shape_parts` components taller than
    # `max_shape_height` x the median character (0 / 1 / 0: off).
    min_word_fill: float = 0.2
    max_word_fill: float = 0.8
    block_min_height: float = 0.9
    max_shape_height: float = 2.0
    max_shape_parts: int = 2
    # A lone mark: a box at most `lone_width` x as wide as tall (a glyph or two) whose
    # nearest word on its line is at least `lone_gap` x its height away, and whose height
    # is not the print's (outside `lone_heights` x the page's median word height), is not
    # print (dots of a dotted border, specks and ticks of the scan, check marks;
    # 0: off).
    lone_gap: float = 3.0
    lone_width: float = 1.6
    lone_heights: tuple[float, float] = (0.7, 1.3)
    # Vertical print (a document number along a form's margin, its letters turned a
    # quarter): at least `vertical_min_glyphs` boxes wider than tall, stacked in one
    # column (edges within `vertical_align` x their width) with vertical gaps of at most
    # `vertical_gap` x their height (a turned letter's width), are one word (0: off).
    vertical_min_glyphs: int = 3
    vertical_align: float = 0.25
    vertical_gap: float = 0.4
    # Padding on each side of a word box, as a share of its height (0: tight boxes).
    padding: float = 0.15
    dedupe_overlap: float = 0.7


_DEFAULT_CONFIG = ComponentConfig()


def detect_words(image: np.ndarray, *, config: ComponentConfig | None = None) -> list[WordBox]:
    """Word boxes on a page (HxW grayscale or HxWx3 RGB, uint8), in reading order."""
    config = config or _DEFAULT_CONFIG
    gray = to_gray(image)
    page_height, page_width = gray.shape
    if page_height == 0 or page_width == 0:
        return []
    # A first look at a reduced page finds the print's size; the page is then read at
    # the scale that brings its median character to `char_height` px.
    work, scale = scale_down(gray, config.probe_side)
    chars, ink = _components(work, config)
    if config.char_height > 0 and len(chars):
        target = _print_scale(chars, scale, gray.shape, config)
        # Print already near its working size is not binarized a second time.
        if abs(target / scale - 1.0) > config.rescale_tolerance:
            size = (max(1, round(page_width * target)), max(1, round(page_height * target)))
            interpolation = cv2.INTER_AREA if target < 1.0 else cv2.INTER_CUBIC
            work, scale = cv2.resize(gray, size, interpolation=interpolation), target
            chars, ink = _components(work, config)
    words = group_words(chars, config)
    words = _join_faint_points(words, work, config)
    words = _drop_non_text(words, chars, ink, config)
    words, vertical = _vertical_words(words, chars, config)
    words = _drop_lone_marks(words, chars, config)
    words = dedupe(words, config.dedupe_overlap)
    boxes = to_page(words, scale, page_width, page_height, config.padding)
    if len(vertical):
        # Padded by their width (the turned letters' height): boxed with x and y swapped.
        turned = to_page(vertical[:, [1, 0, 3, 2]], scale, page_height, page_width, config.padding)
        boxes += [WordBox(x=b.y, y=b.x, width=b.height, height=b.width) for b in turned]
    ordered = reading_order(boxes)
    logger.debug("detected %d words from %d components", len(ordered), len(chars))
    return ordered


def _join_faint_points(words: np.ndarray, gray: np.ndarray, config: ComponentConfig) -> np.ndarray:
    """Neighbouring words of one line joined where the gap between them holds a point too
    faint to be ink: a price whose point faded on thermal paper ("7 00" -> "7.00").

    Two words of about the same height, side by side on one line at most `faint_point_gap` x
    their height apart, are joined when, in the gap's middle, the lowest `faint_point_low`
    of the line holds pixels `faint_point_contrast` grey levels darker than the gap's
    paper while the rest of the gap is clean.
    """
    if config.faint_point_contrast <= 0 or len(words) < 2:
        return words
    words = words[np.argsort(words[:, 0], kind="stable")]
    x0, y0, x1, y1 = (words[:, k] for k in range(4))
    height = y1 - y0
    # Candidates: words starting within the gap limit to the right of each word.
    firsts = np.searchsorted(x0, x1, side="right")
    lasts = np.searchsorted(x0, x1 + config.faint_point_gap * height, side="right")
    joined: dict[int, int] = {}
    for a in np.flatnonzero(lasts > firsts).tolist():
        others = np.arange(firsts[a], lasts[a])
        shorter = np.minimum(height[others], height[a])
        # ... on the same line, of about the same height.
        near = others[
            (np.minimum(y1[others], y1[a]) - np.maximum(y0[others], y0[a]) >= 0.7 * shorter)
            & (np.maximum(height[others], height[a]) <= 1.3 * shorter)
        ]
        if len(near) != 1:
            continue
        b = int(near[0])
        left, right = int(x1[a]), int(x0[b])
        top, bottom = int(max(y0[a], y0[b])), int(min(y1[a], y1[b]))
        width = right - left
        if width < 3 or bottom - top < 6:
            continue
        gap = gray[top:bottom, left + width // 5 : right - width // 5]
        if gap.size == 0:
            continue
        paper = float(np.percentile(gap, 90))
        dark = gap < paper - config.faint_point_contrast
        low = round((bottom - top) * (1 - config.faint_point_low))
        if dark[low:].sum() < 2 or dark[: low - 1].any():
            continue
        # A point, not a rule or underline along the line: clean columns on both sides.
        columns = np.flatnonzero(dark[low:].any(axis=0))
        if (
            columns[0] > 0
            and columns[-1] < dark.shape[1] - 1
            and columns[-1] - columns[0] < 0.25 * (bottom - top)
        ):
            joined[a] = b
    if not joined:
        return words
    # Chains of joins (a number with several faint points) become one box each.
    sets = _UnionFind(len(words))
    for a, b in joined.items():
        sets.union(a, b)
    merged: dict[int, np.ndarray] = {}
    for k in range(len(words)):
        root = sets.find(k)
        box = merged.get(root)
        merged[root] = (
            words[k].copy()
            if box is None
            else np.concatenate(
                (np.minimum(box[:2], words[k][:2]), np.maximum(box[2:], words[k][2:]))
            )
        )
    return np.asarray(list(merged.values()), dtype=words.dtype)


def _drop_non_text(
    words: np.ndarray, chars: np.ndarray, ink: np.ndarray, config: ComponentConfig
) -> np.ndarray:
    """The word boxes less those whose ink is not print: too little ink for their box
    (what is left of frames and box corners, check marks, handwritten strokes), a solid
    block (filled squares, dark cells), or one or two shapes much taller than the page's
    characters (logos, big marks)."""
    if len(words) == 0 or (
        config.min_word_fill <= 0 and config.max_word_fill >= 1 and config.max_shape_height <= 0
    ):
        return words
    heights = chars[:, 3]
    ordinary = heights[heights >= config.min_char_height]
    if len(ordinary) < 5:
        return words
    median = float(np.median(ordinary))
    sums = cv2.integral(ink, sdepth=cv2.CV_32S)
    x0, y0, x1, y1 = (words[:, k] for k in range(4))
    area = np.maximum((x1 - x0) * (y1 - y0), 1)
    fill = (sums[y1, x1] - sums[y0, x1] - sums[y1, x0] + sums[y0, x0]) / 255.0 / area
    height = y1 - y0
    drop = (fill < config.min_word_fill) | (
        (fill > config.max_word_fill) & (height > config.block_min_height * median)
    )
    tall = np.flatnonzero(~drop & (height > config.max_shape_height * median))
    if len(tall):
        centre_x = chars[:, 0] + chars[:, 2] / 2
        centre_y = chars[:, 1] + heights / 2
        for k in tall.tolist():
            inside = (
                (centre_x >= x0[k]) & (centre_x < x1[k]) & (centre_y >= y0[k]) & (centre_y < y1[k])
            )
            drop[k] = int(inside.sum()) <= config.max_shape_parts
    return words[~drop]


# A turned letter's box is wider than tall, up to this many times (a word is wider).
_TURNED_GLYPH = 2.0
# ... and a turned "1" lies within this many times the box height below the box above it.
_TURNED_BAR_GAP = 1.5


def _vertical_words(
    words: np.ndarray, chars: np.ndarray, config: ComponentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The word boxes less those of vertical print, and the vertical words they make.

    A line of print turned a quarter (the document number printed up a form's margin)
    gives one box per letter: wider than tall, stacked in one column with about a
    letter's spacing between them, each alone on its line. At least `vertical_min_glyphs` such boxes
    whose left and right edges agree within `vertical_align` x their width, each at most
    `vertical_gap` x the height of the one above below it (a letter gap of turned print),
    are one word. Upright print is not stacked so: a column of short words, each alone on
    its line (a receipt's prices), has a line's spacing between them, about half their
    height, and upright letters are taller than wide.
    """
    empty = np.zeros((0, 4), dtype=words.dtype)
    if config.vertical_min_glyphs <= 0 or len(words) < config.vertical_min_glyphs:
        return words, empty
    x0, y0, x1, y1 = (words[:, k] for k in range(4))
    width, height = x1 - x0, y1 - y0
    turned = np.flatnonzero((width > height) & (width <= _TURNED_GLYPH * height))
    if len(turned) < config.vertical_min_glyphs:
        return words, empty
    # ... each alone: no other word beside it on its line within its width (initials in
    # a column of names have the names beside them).
    turned = turned[_alone_on_line(words, turned, width[turned])]
    if len(turned) < config.vertical_min_glyphs:
        return words, empty
    turned = turned[np.argsort(y0[turned], kind="stable")]
    sets = _UnionFind(len(words))
    char_x0, char_y0 = chars[:, 0], chars[:, 1]
    char_x1, char_y1 = char_x0 + chars[:, 2], char_y0 + chars[:, 3]
    for position, a in enumerate(turned.tolist()):
        below = turned[position + 1 :]
        reach = y1[a] + config.vertical_gap * height[a]
        # A turned "1" is a bar too thin to be a word: the gap it leaves (a letter's
        # advance) is bridged when such a bar across the column lies in it.
        bars = np.flatnonzero(
            (char_y0 >= y1[a])
            & (char_y1 <= y1[a] + _TURNED_BAR_GAP * height[a])
            & (char_x0 >= x0[a] - config.vertical_align * width[a])
            & (char_x1 <= x1[a] + config.vertical_align * width[a])
            & (char_x1 - char_x0 >= 0.6 * width[a])
        )
        if len(bars):
            reach = max(reach, char_y1[bars].max() + config.vertical_gap * height[a])
        below = below[y0[below] <= reach]
        aligned = below[
            (np.abs(x0[below] - x0[a]) <= config.vertical_align * width[a])
            & (np.abs(x1[below] - x1[a]) <= config.vertical_align * width[a])
            & (y0[below] >= y1[a] - 0.2 * height[a])
        ]
        if len(aligned):
            sets.union(a, int(aligned[0]))
    stacks: dict[int, list[int]] = {}
    for k in turned.tolist():
        stacks.setdefault(sets.find(k), []).append(k)
    members = [np.asarray(m) for m in stacks.values() if len(m) >= config.vertical_min_glyphs]
    if not members:
        return words, empty
    vertical = np.asarray(
        [[x0[m].min(), y0[m].min(), x1[m].max(), y1[m].max()] for m in members],
        dtype=words.dtype,
    )
    keep = np.ones(len(words), dtype=bool)
    keep[np.concatenate(members)] = False
    return words[keep], vertical


def _alone_on_line(words: np.ndarray, rows: np.ndarray, within: np.ndarray) -> np.ndarray:
    """For each of the word boxes `rows`: whether no other box on its line (overlapping it
    by half the lower one's height) stands within `within` (one figure per row) of it."""
    x0, y0, x1, y1 = (words[:, k].astype(np.float64) for k in range(4))
    height = y1 - y0
    overlap = np.minimum(y1[rows, None], y1[None, :]) - np.maximum(y0[rows, None], y0[None, :])
    same_line = overlap >= 0.5 * np.minimum(height[rows, None], height[None, :])
    same_line[np.arange(len(rows)), rows] = False
    gap = np.maximum(x0[None, :] - x1[rows, None], x0[rows, None] - x1[None, :])
    return ~(same_line & (gap < np.asarray(within)[:, None])).any(axis=1)


def _drop_lone_marks(words: np.ndarray, chars: np.ndarray, config: ComponentConfig) -> np.ndarray:
    """The word boxes less lone marks: a box about one glyph wide (at most `lone_width` x
    its height) with no word beside it on its line within `lone_gap` x its height, whose
    height is not the print's (outside `lone_heights` x the page's median word height).

    On forms such boxes are the dots of a dotted border, specks and ticks of the scan,
    check marks and handwritten strokes; a lone character of the print (an item number,
    an "X" in a box) has the print's height and stays. A tall one goes only when it is
    one or two shapes (`max_shape_parts`): a word of double-height receipt print
    ("TOTAL", "71.00" in tall narrow letters) is several.
    """
    if config.lone_gap <= 0 or len(words) < 5:
        return words
    x0, y0, x1, y1 = (words[:, k].astype(np.float64) for k in range(4))
    height = y1 - y0
    narrow = np.flatnonzero((x1 - x0) <= config.lone_width * height)
    if len(narrow) == 0:
        return words
    # The print's height: the page's median word height.
    print_height = median(height)
    low, high = config.lone_heights
    is_odd = (height[narrow] < low * print_height) | (height[narrow] > high * print_height)
    odd = narrow[is_odd]
    if len(odd) == 0:
        return words
    lone = odd[_alone_on_line(words, odd, config.lone_gap * height[odd])]
    tall = lone[height[lone] > high * print_height]
    if len(tall):
        glyph_x = chars[:, 0] + chars[:, 2] / 2
        glyph_y = chars[:, 1] + chars[:, 3] / 2
        inside = (
            (glyph_x[None, :] >= x0[tall, None])
            & (glyph_x[None, :] < x1[tall, None])
            & (glyph_y[None, :] >= y0[tall, None])
            & (glyph_y[None, :] < y1[tall, None])
        )
        several = tall[inside.sum(axis=1) > config.max_shape_parts]
        lone = np.setdiff1d(lone, several)
    drop = np.zeros(len(words), dtype=bool)
    drop[lone] = True
    return words[~drop]


def _print_scale(chars: np.ndarray, scale: float, shape: tuple[int, int], config) -> float:
    """The scale of the page at which its median character is `char_height` px tall
    (`chars` found at `scale`), within the config's limits."""
    heights = chars[:, 3]
    plausible = heights[(heights >= 4) & (chars[:, 2] <= 3 * heights)]
    if len(plausible) < 5:
        return scale
    target = scale * config.char_height / float(np.median(plausible))
    target = min(target, float(np.sqrt(config.max_pixels / (shape[0] * shape[1]))))
    return float(np.clip(target, config.min_scale, config.max_scale))


def ink_masks(gray: np.ndarray, config: ComponentConfig) -> list[np.ndarray]:
    """Binary ink (uint8 0/255) of dark print, and of light print on dark ground if any.

    Sauvola's threshold mean x (1 + k x (std / 128 - 1)), and its mirror for light print,
    with the least contrast `min_contrast` to the local mean. The local statistics are
    smooth over a window several characters wide, so they are computed on the page
    reduced 4x and the two threshold maps enlarged back: one comparison per pixel at
    full size.
    """
    height, width = gray.shape
    reduce = 4 if min(height, width) >= 64 else 1
    small = cv2.resize(
        gray, (max(1, width // reduce), max(1, height // reduce)), interpolation=cv2.INTER_AREA
    ).astype(np.float32)
    side = max(3, round(config.window / reduce)) | 1
    mean = cv2.boxFilter(small, cv2.CV_32F, (side, side), borderType=cv2.BORDER_REFLECT)
    square = cv2.sqrBoxFilter(small, cv2.CV_32F, (side, side), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(square - mean * mean, 0.0))
    k = config.sauvola_k
    factor = 1.0 + k * (std / 128.0 - 1.0)
    dark_limit = np.minimum(mean * factor, mean - config.min_contrast)
    light_limit = np.maximum(255.0 - (255.0 - mean) * factor, mean + config.min_contrast)
    # The surroundings decide the polarity, each place has one: on dark ground the dark
    # "ink" is the ground around light letters, on paper the light "ink" is paper. The
    # ground is the median over a few characters: paper under dark print, however bold.
    wide = max(3, round(config.background_window / reduce)) | 1
    ground = _median_below(np.clip(small, 0, 255).astype(np.uint8), wide, config.dark_background)
    full = (width, height)
    # Dark print not near dark ground either: its edge would be a dark strip of "ink".
    near_ground = cv2.dilate(ground.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    dark_limit[near_ground] = -1.0
    dark_limit = np.clip(np.ceil(dark_limit), 0, 255).astype(np.uint8)
    dark = cv2.compare(
        gray, cv2.resize(dark_limit, full, interpolation=cv2.INTER_LINEAR), cv2.CMP_LT
    )
    masks = [_without_rules(dark, config)]
    if ground.any():
        # Light print only well inside the dark ground: along its edge the paper itself
        # is lighter than the local mean and would join the letters into one strip.
        inside = cv2.erode(ground.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        light_limit[~inside] = 256.0
        light_limit = np.clip(np.floor(light_limit), 0, 255).astype(np.uint8)
        light = cv2.compare(
            gray, cv2.resize(light_limit, full, interpolation=cv2.INTER_LINEAR), cv2.CMP_GT
        )
        if light.any():
            masks.append(_without_rules(light, config))
    return masks


def _median_below(gray: np.ndarray, side: int, level: int) -> np.ndarray:
    """Where the median over a `side` x `side` window (edges replicated) is below `level`:
    the same as `cv2.medianBlur(gray, side) < level`, counted with a box filter (the
    median is below the level where more than half the window is)."""
    below = (gray < level).astype(np.float32)
    counts = cv2.boxFilter(
        below, cv2.CV_32F, (side, side), normalize=False, borderType=cv2.BORDER_REPLICATE
    )
    return counts >= (side * side + 1) // 2


def _without_rules(ink: np.ndarray, config: ComponentConfig) -> np.ndarray:
    """The ink less its long horizontal and vertical runs (rules, borders, underlines,
    and dashed or dotted lines: gaps up to `rule_gap` px along a run are bridged)."""
    if config.rule_min_length <= 0:
        return ink
    length = config.rule_min_length
    rules = None
    for along, bridge, across in (
        ((length, 1), (config.rule_gap, 1), (1, config.rule_max_thickness + 1)),
        ((1, length), (1, config.rule_gap), (config.rule_max_thickness + 1, 1)),
    ):
        runs = ink
        if config.rule_gap > 1:
            runs = cv2.morphologyEx(
                ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, bridge)
            )
        found = cv2.morphologyEx(
            runs, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along)
        )
        if not found.any():
            continue
        # Thick stretches are not rules but dark bands and blocks: left whole, they make
        # one component too big to be a character.
        thick = cv2.morphologyEx(
            found, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, across)
        )
        found = cv2.subtract(found, cv2.dilate(thick, np.ones((3, 3), np.uint8)))
        rules = found if rules is None else rules | found
    if rules is None or not rules.any():
        return ink
    return cv2.subtract(ink, rules)


def character_boxes(gray: np.ndarray, config: ComponentConfig) -> np.ndarray:
    """Candidate character rectangles (N×4 int array of x, y, w, h), both polarities."""
    return _components(gray, config)[0]


def _components(gray: np.ndarray, config: ComponentConfig) -> tuple[np.ndarray, np.ndarray]:
    """`character_boxes`, and the ink they were found in (both polarities, uint8 0/255)."""
    found = []
    masks = ink_masks(gray, config)
    every = masks[0] if len(masks) == 1 else cv2.bitwise_or(masks[0], masks[1])
    for ink in masks:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        stats = stats[1:count]
        if len(stats) == 0:
            continue
        widths, heights, areas = stats[:, 2], stats[:, 3], stats[:, 4]
        fill = areas / np.maximum(widths * heights, 1)
        hollow = (fill < config.min_fill) & (np.maximum(widths, heights) >= config.hollow_min_side)
        keep = (areas >= config.min_area) & (heights <= config.max_char_height) & ~hollow
        boxes = stats[keep, :4]
        labels_kept = np.flatnonzero(keep) + 1
        if config.split_tall > 0:
            boxes = _split_touching_lines(boxes, labels_kept, labels, config)
        found.append(boxes)
    if not found:
        return np.zeros((0, 4), dtype=np.int32), every
    return np.concatenate(found).astype(np.int32), every


def _split_touching_lines(
    boxes: np.ndarray, label_ids: np.ndarray, labels: np.ndarray, config: ComponentConfig
) -> np.ndarray:
    """Components where a letter's descender touches one of the line below, cut apart.

    A component over `split_tall` times the median character height, with ordinary
    characters beside both its upper and its lower part (so not a big heading letter or a
    bracket), is cut at its thinnest row between a quarter and three quarters of its
    height; each part keeps the box of its own ink.
    """
    heights = boxes[:, 3]
    ordinary = heights >= config.min_char_height
    if ordinary.sum() < 5:
        return boxes
    median = float(np.median(heights[ordinary]))
    tall = np.flatnonzero(ordinary & (heights > config.split_tall * median))
    if len(tall) == 0:
        return boxes
    centres_y = boxes[:, 1] + heights / 2.0
    normal = ordinary & (heights <= 1.3 * median)
    parts: list[np.ndarray] = []
    cut: list[int] = []
    for k in tall[:2000].tolist():
        x, y, w, h = boxes[k].tolist()
        near = normal & (np.abs(boxes[:, 0] - x) < 4 * median)
        above = near & (centres_y > y) & (centres_y < y + h / 2)
        below = near & (centres_y >= y + h / 2) & (centres_y < y + h)
        if not above.any() or not below.any():
            continue
        mask = labels[y : y + h, x : x + w] == label_ids[k]
        profile = mask.sum(axis=1)
        low, high = h // 4, max(h // 4 + 1, (3 * h) // 4)
        row = low + int(np.argmin(profile[low:high]))
        pieces = []
        for part, offset in ((mask[:row], 0), (mask[row + 1 :], row + 1)):
            ys, xs = np.nonzero(part)
            if len(ys):
                pieces.append(
                    [
                        x + xs.min(),
                        y + offset + ys.min(),
                        xs.max() - xs.min() + 1,
                        ys.max() - ys.min() + 1,
                    ]
                )
        if len(pieces) == 2:
            cut.append(k)
            parts.append(np.asarray(pieces, dtype=boxes.dtype))
    if not cut:
        return boxes
    return np.concatenate([np.delete(boxes, cut, axis=0), *parts])
