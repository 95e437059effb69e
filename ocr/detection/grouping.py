"""Character boxes grouped into words along lines, shared by the word detectors."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ocr.detection.boxes import median


class GroupingConfig(Protocol):
    """The knobs `group_words` reads (both detectors' configs have them)."""

    min_char_height: int
    max_char_height: int
    min_vertical_overlap: float
    phrase_gap: float
    max_gap: float
    min_gap: float
    gap_contrast: float
    max_height_ratio: float
    min_word_height: int
    min_word_width: int


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


def group_words(chars: np.ndarray, config: GroupingConfig) -> np.ndarray:
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
    # No partner is taller than the page's tallest box.
    tallest_partner = np.minimum(
        np.where(small, config.max_char_height, heights * config.max_height_ratio), heights.max()
    )
    reach = x1 + config.phrase_gap * tallest_partner
    sets = _UnionFind(len(order))
    for i, k in _joined_pairs(x0, y0, x1, y1, heights, small, reach, config):
        sets.union(i, k)
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
        height = median(heights[idx][~small[idx]])
        glyph_gaps = gaps[starts[1:] - 1]
        is_word_gap = _word_gaps(glyph_gaps, height, config)
        punctuation_gap = getattr(config, "punctuation_gap", 0.0)
        if punctuation_gap > 0 and len(glyph_gaps) >= 2:
            glyph_small = np.logical_and.reduceat(small[idx], starts)
            limit = np.full(len(glyph_gaps), punctuation_gap * height)
            point_gap = getattr(config, "point_gap", 0.0)
            low = np.zeros_like(glyph_small)
            if point_gap > 0 and glyph_small.any():
                # A point or comma low on the line (not a colon, whose upper dot sits at
                # the middle) may stand a fixed-width cell away from both neighbours.
                middle = median((y0[idx] + y1[idx])[~small[idx]]) / 2
                low = glyph_small & (np.minimum.reduceat(y0[idx], starts) >= middle)
                beside_low = low[:-1] | low[1:]
                limit[beside_low] = max(point_gap, punctuation_gap) * height
            inner = _inner_punctuation_gaps(glyph_gaps, glyph_small)
            if getattr(config, "spaced_marks", False) and inner.any() and len(glyph_gaps) >= 3:
                inner &= ~_spaced_marks(glyph_gaps, glyph_small & ~low, height, config)
            is_word_gap &= ~inner | (glyph_gaps > limit)
        pitch_share = getattr(config, "pitch_share", 0.0)
        if pitch_share > 0 and len(glyph_gaps) >= 3:
            lefts = x0[idx[starts]]
            rights = ends[np.concatenate((starts[1:], [len(idx)])) - 1]
            is_word_gap = _even_pitch_word_gaps(lefts, rights, is_word_gap, pitch_share, config)
        cuts = starts[1:][is_word_gap]
        speck_area = getattr(config, "end_speck_area", 0)
        for piece in np.split(idx, cuts):
            if np.all(small[piece]):
                continue  # a lone dot or comma cut off its word
            if speck_area > 0:
                piece = _trim_end_specks(
                    piece, x0, y0, x1, y1, small, speck_area, getattr(config, "speck_on_line", 0.0)
                )
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


def _trim_end_specks(
    piece: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    small: np.ndarray,
    speck_area: int,
    on_line: float = 0.0,
) -> np.ndarray:
    """The word's members less the specks (small boxes under `speck_area` px) at its
    left and right ends: kept inside a word (a decimal point), they only widen it at
    its ends, unless they stand on the line (bottom within `on_line` x the letters'
    height of their baseline: a full stop or colon of thin type)."""
    tiny = small[piece] & ((x1[piece] - x0[piece]) * (y1[piece] - y0[piece]) < speck_area)
    if not tiny.any() or tiny.all():
        return piece
    right = np.maximum.accumulate(x1[piece])
    # Specks reaching between the first letter's start and the last letter's end stay.
    letters = np.flatnonzero(~tiny)
    first, last = x0[piece[letters]].min(), right[letters].max()
    keep = ~tiny | ((x1[piece] > first) & (x0[piece] < last))
    if on_line > 0 and not keep.all():
        # A full stop or colon in thin type is a speck too: one standing on the letters'
        # baseline stays (with what stands above it: a colon's upper dot).
        full = piece[~small[piece]]
        if len(full) >= 2:
            base = median(y1[full])
            height = median(y1[full] - y0[full])
            dots = tiny & ~keep & (np.abs(y1[piece] - base) <= on_line * height)
            # Only the one nearest the letters on each side, close to them (not a row
            # of leader dots).
            after = np.flatnonzero(dots & (x0[piece] >= last))
            before = np.flatnonzero(dots & (x1[piece] <= first))
            nearest = []
            if len(after):
                k = after[np.argmin(x0[piece[after]])]
                if x0[piece[k]] - last <= _SPECK_REACH * height:
                    nearest.append(k)
            if len(before):
                k = before[np.argmax(x1[piece[before]])]
                if first - x1[piece[k]] <= _SPECK_REACH * height:
                    nearest.append(k)
            for k in nearest:
                keep |= tiny & (x0[piece] < x1[piece[k]]) & (x1[piece] > x0[piece[k]])
    return piece[keep]


def _spaced_marks(
    gaps: np.ndarray, marks: np.ndarray, height: float, config: GroupingConfig
) -> np.ndarray:
    """The gaps on either side of a mark that stands between two word spaces of its
    phrase ("TOTAL : 80.91", "TEL : 03-3271"): both gaps in the upper group of the
    phrase's own gap sizes (`_clustered_word_gaps`), whose spaces they are as wide as."""
    spaced = np.zeros(len(gaps), dtype=bool)
    upper = _clustered_word_gaps(
        gaps,
        height,
        getattr(config, "cluster_separation", 0.0),
        getattr(config, "cluster_ratio", 0.0),
    )
    if upper is None:
        return spaced
    between = np.flatnonzero(marks[1:-1] & upper[:-1] & upper[1:]) + 1
    spaced[between - 1] = True
    spaced[between] = True
    return spaced


def _inner_punctuation_gaps(gaps: np.ndarray, glyph_small: np.ndarray) -> np.ndarray:
    """The gaps on either side of a dot or comma standing midway between two glyphs
    ("33.70", "1,250", "12:30"): in fixed-width type they are as wide as a space between
    proportional letters, yet the point joins its neighbours. A full stop hugs the word
    before it ("Ms. Brock"), so its gaps are uneven and stay as they are."""
    inner = np.zeros(len(gaps), dtype=bool)
    middle = np.flatnonzero(glyph_small[1:-1]) + 1  # glyph k has gaps k-1 and k
    if len(middle) == 0:
        return inner
    left, right = gaps[middle - 1], gaps[middle]
    even = np.maximum(left, right) <= 2.0 * np.maximum(np.minimum(left, right), 1)
    inner[middle[even] - 1] = True
    inner[middle[even]] = True
    return inner


_PAIRS_PER_CHUNK = 200_000
# How far (x character height) from its word's letters a full stop may stand.
_SPECK_REACH = 0.4
# The least letter gap (x character height) a word space is compared with: touching or
# kerned letters have gaps near 0, and any gap is "many times" that.
_LEAST_LETTER_GAP = 0.05


def _joined_pairs(
    x0: np.ndarray,
    y0: np.ndarray,
    x1: np.ndarray,
    y1: np.ndarray,
    heights: np.ndarray,
    small: np.ndarray,
    reach: np.ndarray,
    config: GroupingConfig,
) -> list[tuple[int, int]]:
    """(i, j) for every box i and every later box j (sorted by x0) within its reach that
    chains to it: the pairs tested all at once in chunks rather than box by box."""
    # How much of a dot or comma must lie within its neighbour's height (a comma hangs
    # below the line; a speck above or below it does not belong to it).
    small_overlap = getattr(config, "small_overlap", 1.0)
    hang = getattr(config, "comma_hang", 0.0)
    count = len(x0)
    stops = np.maximum(np.searchsorted(x0, reach, side="right"), np.arange(1, count + 1))
    lengths = stops - np.arange(1, count + 1)
    pairs: list[tuple[int, int]] = []
    start = 0
    while start < count:
        # As many boxes as keep the chunk's candidate pairs within bounds (at least one).
        totals = np.cumsum(lengths[start:])
        end = start + max(1, int(np.searchsorted(totals, _PAIRS_PER_CHUNK, side="right")))
        chunk = lengths[start:end]
        if chunk.sum() > 0:
            i = np.repeat(np.arange(start, end), chunk)
            offsets = np.arange(len(i)) - np.repeat(np.cumsum(chunk) - chunk, chunk)
            j = i + 1 + offsets
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
                    | (either_small & (overlap >= small_overlap * shorter))
                )
            )
            if hang > 0:
                # Only pairs of a mark and a character not joined yet can hang.
                candidates = np.flatnonzero(
                    ~joins & (small[i] != small[j]) & (gap <= config.phrase_gap * taller)
                )
                if len(candidates):
                    hanging = _hanging(
                        i[candidates],
                        j[candidates],
                        y0,
                        y1,
                        heights,
                        small,
                        hang,
                        getattr(config, "comma_min_height", 1 / 3),
                    )
                    joins[candidates[hanging]] = True
            pairs.extend(zip(i[joins].tolist(), j[joins].tolist(), strict=True))
        start = end
    return pairs


def _even_pitch_word_gaps(
    lefts: np.ndarray,
    rights: np.ndarray,
    is_word_gap: np.ndarray,
    share: float,
    config: GroupingConfig,
) -> np.ndarray:
    """Word gaps of a phrase whose glyphs stand at an even pitch (fixed-width type).

    In fixed-width type a narrow letter ("r", "i", "1") or a point stands in the middle
    of a cell as wide as any other, so its gaps are wide while the distance between glyph
    centres stays one pitch; a space is a whole empty cell. When at least `share` of the
    centre distances are within `pitch_tolerance` of their median, a gap is a word gap
    when its centre distance is at least `pitch_space` x that median, or when the gap
    rule cut it and its centre distance is at least `pitch_cut` x the median (a space in
    proportional type whose letters happen to be evenly spaced).

    Faded or dot-matrix print breaks a glyph into pieces side by side (a "J"'s hook and
    stem, the halves of an "N"): their centres stand well under a pitch apart and their
    ink spans less than a cell. When the phrase is not even as it is, such neighbours
    are taken as one cell and the test is made again on the cells; the gaps inside a
    cell are then never word gaps."""
    centres = (lefts + rights) / 2.0
    steps = np.diff(centres)
    pitch = median(steps)
    if pitch <= 0:
        return is_word_gap
    even = np.abs(steps - pitch) <= config.pitch_tolerance * pitch
    if even.mean() >= share:
        return (steps >= config.pitch_space * pitch) | (
            is_word_gap & (steps >= config.pitch_cut * pitch)
        )
    fragment = getattr(config, "pitch_fragment", 0.0)
    if fragment <= 0:
        return is_word_gap
    # The pitch of the whole glyphs: the median of the steps that are not fragments.
    whole = steps[steps >= fragment * pitch]
    if len(whole) < 3:
        return is_word_gap
    pitch = median(whole)
    # Neighbours joined into one cell while the cell's ink spans under a pitch.
    cell = np.zeros(len(centres), dtype=np.int64)
    cell_left, cell_right = lefts[0], rights[0]
    for k in range(1, len(centres)):
        if (
            steps[k - 1] < fragment * pitch
            and max(cell_right, rights[k]) - min(cell_left, lefts[k]) <= pitch
        ):
            cell[k] = cell[k - 1]
            cell_right = max(cell_right, rights[k])
        else:
            cell[k] = cell[k - 1] + 1
            cell_left, cell_right = lefts[k], rights[k]
    count = int(cell[-1]) + 1
    if count == len(centres) or count < 4:
        return is_word_gap
    cell_starts = np.flatnonzero(np.diff(cell, prepend=-1))
    cell_lefts = np.minimum.reduceat(lefts, cell_starts)
    cell_rights = np.maximum.reduceat(rights, cell_starts)
    cell_steps = np.diff((cell_lefts + cell_rights) / 2.0)
    cell_pitch = median(cell_steps)
    if cell_pitch <= 0:
        return is_word_gap
    if (np.abs(cell_steps - cell_pitch) <= config.pitch_tolerance * cell_pitch).mean() < share:
        return is_word_gap
    # Fixed-width glyphs fit their cells; proportional print that looks even by chance
    # once narrow letters are paired has wider letters ("m", "W") than its pitch.
    if (cell_rights - cell_lefts).max() > cell_pitch:
        return is_word_gap
    between = np.diff(cell) > 0
    result = np.zeros(len(is_word_gap), dtype=bool)
    # Gap k lies between glyphs k and k + 1; between cells it is cell gap cell[k].
    at = np.flatnonzero(between)
    cell_gap = cell[at]
    result[at] = (cell_steps[cell_gap] >= config.pitch_space * cell_pitch) | (
        is_word_gap[at] & (cell_steps[cell_gap] >= config.pitch_cut * cell_pitch)
    )
    return result


def _hanging(
    i: np.ndarray,
    j: np.ndarray,
    y0: np.ndarray,
    y1: np.ndarray,
    heights: np.ndarray,
    small: np.ndarray,
    hang: float,
    least: float = 1 / 3,
) -> np.ndarray:
    """Which pairs (exactly one of each pair small) are a character and a comma beside it
    that hangs below its line ("1,250" in fixed-width type): the small one starts in the
    lower half of the other, reaches at most `hang` x its height below it, and is at least
    `least` x as tall as it (a comma, not a speck; thin receipt type's commas are short)."""
    mark = np.where(small[i], i, j)
    char = np.where(small[i], j, i)
    char_height = heights[char]
    return (
        (y0[mark] >= y0[char] + 0.5 * char_height)
        & (y0[mark] < y1[char])
        & (y1[mark] > y1[char])
        & (y1[mark] <= y1[char] + hang * char_height)
        & (heights[mark] >= least * char_height)
    )


def _word_gaps(gaps: np.ndarray, height: float, config: GroupingConfig) -> np.ndarray:
    """Which gaps inside a phrase separate words (a boolean per gap)."""
    if len(gaps) == 0:
        return np.zeros(0, dtype=bool)
    separation = getattr(config, "cluster_separation", 0.0)
    if separation > 0 and len(gaps) >= 3:
        ratio = getattr(config, "cluster_ratio", 0.0)
        cuts = _clustered_word_gaps(gaps, height, separation, ratio)
        if cuts is not None:
            return (gaps > config.max_gap * height) | (cuts & (gaps > config.min_gap * height))
    letter_gap = median(gaps)
    wide = gaps > config.max_gap * height
    relatively_wide = (gaps > config.min_gap * height) & (
        gaps > config.gap_contrast * max(letter_gap, 1.0)
    )
    return wide | relatively_wide


def _clustered_word_gaps(
    gaps: np.ndarray, height: float, separation: float, ratio: float = 0.0
) -> np.ndarray | None:
    """The gaps above the phrase's own threshold between letter and word gaps (Otsu's
    split of its gap sizes), or None when the two groups are less than `separation` ×
    the character height apart, or when the upper group's narrowest gap is less than
    `ratio` × the lower group's mean (a phrase of one word whose letters are unevenly
    spaced, as fixed-width type around "r", "i" or "1", or spacing too even to tell)."""
    ordered = np.sort(gaps.astype(np.float64))
    count = len(ordered)
    sums = np.cumsum(ordered)
    low_sizes = np.arange(1, count)
    mean_low = sums[:-1] / low_sizes
    mean_high = (sums[-1] - sums[:-1]) / (count - low_sizes)
    between = low_sizes * (count - low_sizes) * (mean_high - mean_low) ** 2
    best = int(np.argmax(between))
    if mean_high[best] - mean_low[best] < separation * height:
        return None
    # A word space is several letter gaps wide; one wider gap between letters is not.
    if ratio > 0 and ordered[best + 1] < ratio * max(mean_low[best], _LEAST_LETTER_GAP * height):
        return None
    threshold = (ordered[best] + ordered[best + 1]) / 2
    return gaps > threshold
