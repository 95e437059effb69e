"""The middle band's transformations: combine, split, read again; the most confident wins.

A first reading below `ReaderConfig.accept` is not trusted as it is. What usually went
wrong is the cut, not the reading: a price cut at its point ("3" + "98"), a word cut after
its capital ("B" + "read"), two words in one box ("THANKYOU"), a box that clips or crowds
its word. So for each such word the stage builds other crops of the same ink:

- **combine**: the word with its left or right neighbour on the same line, when the gap
  between them is at most `combine_gap` × their height, or at most `combine_dot_gap` ×
  their height with nothing in it but one small mark low on the line (a price's point);
  a pair closer than `combine_close_gap` × height is tried even when both are confident
  (a detector that cuts a word at a narrow gap cuts it into two plausible pieces); the
  combined reading must be one token (`joined_reading`);
- **split**: the box cut in two at each of its `split_tries` widest internal ink gaps
  (the columns with no ink), and into 3 … `split_max_parts` pieces at the widest, when
  it is at least `split_min_aspect` times as wide as high;
- **reread**: the box read again with `reread_padding` × its height of page around it,
  and binarized (Otsu) for a sharper contrast.

All candidate crops of a page are read in one more predictor call. Candidates are
compared by the geometric mean of their words' calibrated confidences (so that neither
one word nor two is favoured for its count); a transformation wins when it beats the
word's first reading by more than `margin`. A combination must read as one word (no
space in it) and is taken greedily, largest gain first, each word in at most one.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ocr.detector import WordBox
from ocr.page.marks import dot_between
from ocr.page.types import ReaderConfig


@dataclass(frozen=True)
class _Candidate:
    """Another way to read some of a page's words: crops to read and what they replace."""

    kind: str  # "reread", "split" or "combine"
    members: tuple[int, ...]  # indexes of the first readings it replaces
    boxes: tuple[WordBox, ...]
    crops: tuple[np.ndarray, ...]


def geometric_mean(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    return math.exp(sum(math.log(max(v, 1e-9)) for v in values) / len(values))


def union(a: WordBox, b: WordBox) -> WordBox:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.right, b.right), max(a.bottom, b.bottom)
    return WordBox(x0, y0, x1 - x0, y1 - y0)


def same_line_gap(a: WordBox, b: WordBox) -> float | None:
    """The horizontal gap from `a` to `b` (b to the right) in units of the taller one's
    height, when they share a line (vertical overlap ≥ half the shorter); else None."""
    overlap = min(a.bottom, b.bottom) - max(a.y, b.y)
    if overlap < 0.5 * min(a.height, b.height):
        return None
    if b.x < a.x:
        return None
    return (b.x - a.right) / max(a.height, b.height, 1)


def ink_gaps(gray: np.ndarray) -> list[tuple[int, int]]:
    """Internal runs of ink-free columns of a crop, as (start, end) column ranges, widest
    first (runs touching the crop's edges are not inside the word)."""
    if gray.size == 0 or gray.shape[1] < 4:
        return []
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if np.median(gray) < 128:  # light print on dark
        ink = 1 - ink
    columns = ink.sum(axis=0) > max(1, gray.shape[0] // 20)
    filled = np.flatnonzero(columns)
    if len(filled) < 2:
        return []
    first, last = int(filled[0]), int(filled[-1])
    gaps: list[tuple[int, int]] = []
    start = None
    for x in range(first, last + 1):
        if not columns[x] and start is None:
            start = x
        elif columns[x] and start is not None:
            gaps.append((start, x))
            start = None
    return sorted(gaps, key=lambda g: (-(g[1] - g[0]), g[0]))


def split_boxes(box: WordBox, gaps: Sequence[tuple[int, int]], parts: int) -> list[WordBox]:
    """The box cut at the middles of its `parts - 1` widest gaps (crop columns)."""
    cuts = sorted((start + end) // 2 for start, end in gaps[: parts - 1])
    edges = [0, *cuts, box.width]
    return [
        WordBox(box.x + left, box.y, right - left, box.height)
        for left, right in itertools.pairwise(edges)
        if right - left > 1
    ]


def improve(gray: np.ndarray, first: list, predictor, config: ReaderConfig) -> list:
    """The first readings with the middle band's transformations applied (see module)."""
    from ocr.page.reader import _Read, calibrated, char_calibrated, crop

    middle = [i for i, r in enumerate(first) if config.reject <= r.confidence < config.accept]
    if not middle and not config.combine:
        return list(first)
    candidates = _candidates(gray, first, set(middle), config, crop)
    if not candidates:
        return list(first)
    flat = [c for candidate in candidates for c in candidate.crops]
    decoded = predictor.predict(flat)
    readings: list[list[_Read]] = []
    position = 0
    for candidate in candidates:
        words = []
        for box in candidate.boxes:
            d = decoded[position]
            position += 1
            words.append(
                _Read(
                    box=box,
                    text=d.text,
                    confidence=calibrated(d, config),
                    char_confidences=char_calibrated(d, config),
                    decision=candidate.kind if candidate.kind != "combine" else "combined",
                    source_boxes=len(candidate.members) if candidate.kind == "combine" else 1,
                )
            )
        readings.append(words)
    return _choose(first, candidates, readings, config)


def _candidates(gray, first, middle, config, crop) -> list[_Candidate]:
    candidates: list[_Candidate] = []
    for i in sorted(middle):
        box = first[i].box
        if config.reread:
            candidates.append(
                _Candidate("reread", (i,), (box,), (crop(gray, box, pad=config.reread_padding),))
            )
            pixels = crop(gray, box)
            if pixels.size:
                _, sharp = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
                candidates.append(_Candidate("reread", (i,), (box,), (sharp,)))
        # A reading the lexicon knows is never split (`plausible_split`): not worth a read.
        if (
            config.split
            and box.width >= config.split_min_aspect * box.height
            and first[i].text not in _lexicon()
        ):
            gaps = [
                gap
                for gap in ink_gaps(crop(gray, box))
                if gap[1] - gap[0] >= config.split_min_gap * box.height
            ]
            # In two at each of the widest few gaps (a space between words can be
            # narrower than the gap a letter's shape leaves), in more at the widest.
            # (In three only where there are two gaps: fewer would be the box itself
            # again or a cut in two already tried.)
            cuts = [[gap] for gap in gaps[: config.split_tries]]
            cuts += [
                gaps[: parts - 1]
                for parts in range(3, config.split_max_parts + 1)
                if len(gaps) >= parts - 1
            ]
            for chosen in cuts:
                pieces = split_boxes(box, chosen, len(chosen) + 1)
                if len(pieces) == len(chosen) + 1:
                    candidates.append(
                        _Candidate(
                            "split", (i,), tuple(pieces), tuple(crop(gray, p) for p in pieces)
                        )
                    )
    if config.combine:
        for i, j in _neighbour_pairs(first):
            gap = same_line_gap(first[i].box, first[j].box)
            if gap is None or gap > config.combine_dot_gap:
                continue
            if gap > config.combine_gap and not dot_between(gray, first[i].box, first[j].box):
                continue
            if i not in middle and j not in middle and gap > config.combine_close_gap:
                continue
            if not worth_combining(first[i], first[j], config):
                continue
            joined = union(first[i].box, first[j].box)
            candidates.append(_Candidate("combine", (i, j), (joined,), (crop(gray, joined),)))
    return candidates


def worth_combining(left, right, config: ReaderConfig) -> bool:
    """Whether two neighbours' combination can be what wins: not when both are lexicon
    words of three letters or digits or more (their combination is one token only with
    punctuation inside: `joined_reading`), nor when both are that long and read at
    `combine_whole_below` or more (the pieces of a cut word are a fragment or unsure)."""
    from ocr.page.calibration import group_of

    if _marks_only(left.text) or _marks_only(right.text):
        return False
    groups = group_of(left.text, False), group_of(right.text, False)
    if "short" in groups:
        return True
    if groups == ("known", "known") and not config.combine_known_pairs:
        return False
    return min(left.confidence, right.confidence) < config.combine_whole_below


def _neighbour_pairs(first) -> list[tuple[int, int]]:
    """(left, right) index pairs of words next to each other on a line."""
    from ocr.page.lines import group_lines

    pairs = []
    for line in group_lines([r.box for r in first]):
        pairs.extend(itertools.pairwise(line))
    return pairs


def plausible_split(text: str, pieces: Sequence) -> bool:
    """Whether cutting a reading into `pieces` (readings) can be right: the whole is not
    a word the lexicon knows, and every piece is one (or a number), with no space in it.
    On receipts, splits at the widest gap otherwise cut right but unsure words into
    confident fragments ("TEBR" + "AU"), and page F1 fell (docs/adr/0011-page-reader.md)."""
    from ocr.page.calibration import group_of

    if text in _lexicon():
        return False
    return all(
        piece.text and " " not in piece.text and group_of(piece.text, False) in ("known", "number")
        for piece in pieces
    )


def joined_reading(text: str, pieces: Sequence[str]) -> bool:
    """Whether a combined reading is one token that the pieces are parts of: no space in
    it, and either punctuation inside it (a price's point, a date's slash, a code's
    hyphen: what a detector drops between two pieces) or a lexicon word that not every
    piece is ("B" + "read" → "Bread"). Two words read without their space ("20pockets",
    "taxcode") are neither.

    When the combination reads exactly the pieces' characters (only the space between
    them gone), nothing was found in the gap: it is one token only where the joint lies
    inside a number, a date or a time ("12." + "90", "rm41" + ".43", "12/0" + "2/2018")
    or it makes a lexicon word that not
    every piece is ("amou" + "nt"). Otherwise two right words were run together ("NO." +
    "53,", "GST" + "@6%", "X" + "3.00"; docs/adr/0011-page-reader.md)."""
    if not text or " " in text or any(_marks_only(piece) for piece in pieces):
        return False
    inner = text.strip(_EDGE_PUNCTUATION)
    lexicon = _lexicon()
    known = len(inner) >= 3 and text in lexicon and not all(p in lexicon for p in pieces)
    if text == "".join(pieces):
        return known or all(
            _number_joint(left, right) for left, right in itertools.pairwise(pieces)
        )
    return known or any(not char.isalnum() for char in inner)


def _number_joint(left: str, right: str) -> bool:
    """Whether the joint of two readings lies inside a number, a date or a time: the
    characters on either side of it digits or one of ". , / :", a digit on each side."""
    near = left[-2:] + right[:2]
    return (
        all(char.isdigit() or char in ".,/:" for char in near)
        and any(char.isdigit() for char in left[-2:])
        and any(char.isdigit() for char in right[:2])
    )


def _marks_only(text: str) -> bool:
    """A reading of punctuation alone ("&", "*", "("): joined to a neighbour it made the
    right word on the tuning receipts less often than it spoilt one."""
    return bool(text) and not any(char.isalnum() for char in text)


_EDGE_PUNCTUATION = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())


@functools.cache
def _lexicon():
    from ocr.recognition.lexicon import load

    return load()


def split_spaced(reading, gray: np.ndarray | None = None):
    """A reading with spaces in it as one reading per word (a page's words are words): its
    box cut at its widest ink gaps when it has enough, else in proportion to the
    characters; each word keeps the reading's confidence and its own characters'."""
    from dataclasses import replace

    words = reading.text.split()
    if len(words) < 2:
        return [reading]
    joined = "".join(words)
    if joined in _lexicon() and not all(word in _lexicon() for word in words):
        # A space read inside a word ("TOT AL"): the word, its characters' confidences.
        kept = [
            c
            for char, c in zip(reading.text, reading.char_confidences, strict=False)
            if char != " "
        ]
        return [replace(reading, text=joined, char_confidences=tuple(kept))]
    box = reading.box
    pieces: list[WordBox] = []
    if gray is not None:
        gaps = ink_gaps(gray[box.y : box.bottom, box.x : box.right])
        if len(gaps) >= len(words) - 1:
            pieces = split_boxes(box, gaps, len(words))
    spans = []
    position = 0
    for word in words:
        start = reading.text.index(word, position)
        position = start + len(word)
        spans.append((start, position))
    if len(pieces) != len(words):
        pitch = box.width / max(1, len(reading.text))
        pieces = [
            WordBox(box.x + round(a * pitch), box.y, max(1, round((b - a) * pitch)), box.height)
            for a, b in spans
        ]
    decision = reading.decision if reading.decision == "combined" else "split"
    return [
        replace(
            reading,
            box=piece,
            text=word,
            char_confidences=tuple(reading.char_confidences[a:b]),
            decision=decision,
        )
        for piece, word, (a, b) in zip(pieces, words, spans, strict=True)
    ]


def _choose(first, candidates, readings, config: ReaderConfig) -> list:
    # Per word: the best of its first reading, its re-reads and splits.
    best: dict[int, tuple[float, list]] = {i: (r.confidence, [r]) for i, r in enumerate(first)}
    combos = []
    for candidate, words in zip(candidates, readings, strict=True):
        if any(not w.text for w in words):
            continue
        score = geometric_mean([w.confidence for w in words])
        if candidate.kind == "combine":
            if joined_reading(words[0].text, [first[m].text for m in candidate.members]):
                combos.append((candidate, words, score))
            continue
        (i,) = candidate.members
        if candidate.kind == "split" and not plausible_split(first[i].text, words):
            continue
        if " ".join(w.text for w in words) == first[i].text:
            continue  # the same reading again: the first one stands
        margin = config.margin + (config.split_margin if candidate.kind == "split" else 0.0)
        if score > best[i][0] + margin or (score > best[i][0] and best[i][1][0] is not first[i]):
            best[i] = (score, words)
    # Combinations, largest gain first, each word in at most one.
    taken: set[int] = set()
    merged: dict[int, list] = {}
    gains = []
    for candidate, words, score in combos:
        i, j = candidate.members
        before = geometric_mean([best[i][0], best[j][0]])
        if score > before + config.margin:
            gains.append((score - before, candidate, words))
    for _gain, candidate, words in sorted(gains, key=lambda g: -g[0]):
        i, j = candidate.members
        if i in taken or j in taken:
            continue
        taken.update((i, j))
        merged[i] = words
    out = []
    for i in range(len(first)):
        if i in merged:
            out.extend(merged[i])
        elif i not in taken:
            out.extend(best[i][1])
    return out
