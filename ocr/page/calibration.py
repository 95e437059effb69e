"""Confidences that mean what they say, for the reading stage's bands.

The recognizer's word confidence is the probability of the text read under the CTC
posteriors. Two things keep it from being a probability of being right on detected
page words: a lexicon replacement carries its own (low, by construction) probability
("review" right at 6%), and detected boxes hold noise and fragments the network never
saw in training. So the raw figure is mapped through a monotone table, one per group of
readings:

- "lexicon": the lexicon replaced the network's reading;
- "short": one or two characters of letters and digits (digits, "RM", stray marks);
- "known": a word of the lexicon as read;
- "number": at least as many digits as letters (prices, dates, codes);
- "other": the rest (names, codes, misreadings, two words run together: "THANKYOU").

Each table is an isotonic (pool-adjacent-violators) fit of "the reading is right" on the
raw confidence, over the detected words of the TUNING half of the development receipts
(a reading is right when every token of it is, case-insensitively, a word of the true
segments the box lies in, that word without its surrounding punctuation, or adjacent
words run together: SROIE's annotators space "TOTAL :" and "TOTAL:" as they please),
interpolated linearly between block means. Character confidences
get one table of their own (a character is right when it lies in the longest common
blocks of its token and the nearest true word).

`python -m ocr.page.calibrate --data DIR` writes the tables (`calibration.json`, beside
this file) from the tuning half and prints the reliability table of the reporting half.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_TABLE = Path(__file__).with_name("calibration.json")
GROUPS = ("lexicon", "short", "known", "number", "other")


def group_of(text: str, lexicon: bool) -> str:
    """Which table calibrates a reading: "lexicon" (the lexicon replaced it), "short" (two
    letters or digits at most), "known" (a word of the lexicon), "number" (as many digits
    as letters, or more), "other" (codes, names, misreadings, words run together)."""
    if lexicon:
        return "lexicon"
    core = "".join(char for char in text if char.isalnum())
    if len(core) <= 2:
        return "short"
    if text in _lexicon():
        return "known"
    digits = sum(char.isdigit() for char in core)
    return "number" if digits * 2 >= len(core) else "other"


@functools.cache
def _lexicon():
    from ocr.recognition.lexicon import load

    return load()


def isotonic(x: Sequence[float], y: Sequence[float], *, bins: int = 40) -> list[list[float]]:
    """Monotone (non-decreasing) fit of y on x: [[x, y], ...] knots, x increasing.

    The points are first pooled into `bins` equal-count bins (a steadier fit than one
    block per sample), then adjacent violators are pooled.
    """
    order = np.argsort(np.asarray(x, dtype=np.float64), kind="stable")
    xs = np.asarray(x, dtype=np.float64)[order]
    ys = np.asarray(y, dtype=np.float64)[order]
    if len(xs) == 0:
        return [[0.0, 0.0], [1.0, 1.0]]
    blocks = [
        [float(cx.mean()), float(cy.mean()), float(len(cx))]
        for cx, cy in zip(
            np.array_split(xs, min(bins, len(xs))),
            np.array_split(ys, min(bins, len(xs))),
            strict=True,
        )
        if len(cx)
    ]
    pooled: list[list[float]] = []
    for block in blocks:
        pooled.append(block)
        while len(pooled) > 1 and pooled[-2][1] >= pooled[-1][1]:
            b = pooled.pop()
            a = pooled.pop()
            weight = a[2] + b[2]
            pooled.append(
                [
                    (a[0] * a[2] + b[0] * b[2]) / weight,
                    (a[1] * a[2] + b[1] * b[2]) / weight,
                    weight,
                ]
            )
    return [[round(px, 5), round(py, 5)] for px, py, _ in pooled]


def apply(knots: Sequence[Sequence[float]], value: float) -> float:
    xs = [k[0] for k in knots]
    ys = [k[1] for k in knots]
    return float(np.interp(value, xs, ys))


@dataclass(frozen=True)
class Calibration:
    """Monotone tables: raw confidence → probability of being right, per group."""

    words: dict[str, list[list[float]]]
    chars_table: list[list[float]]

    def word(self, decoded) -> float:
        if not decoded.text:
            return 0.0
        knots = self.words.get(group_of(decoded.text, getattr(decoded, "lexicon", False)))
        return float(decoded.confidence) if knots is None else apply(knots, decoded.confidence)

    def chars(self, decoded) -> tuple[float, ...]:
        if not self.chars_table:
            return tuple(float(c) for c in decoded.char_confidences)
        return tuple(apply(self.chars_table, c) for c in decoded.char_confidences)

    def to_json(self) -> dict:
        return {"words": self.words, "chars": self.chars_table}

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        return cls(words=dict(data.get("words", {})), chars_table=list(data.get("chars", [])))


IDENTITY = Calibration(words={}, chars_table=[])


@functools.cache
def default_calibration(path: Path = DEFAULT_TABLE) -> Calibration:
    """The shipped tables; the raw confidences when none are shipped."""
    if not path.is_file():
        return IDENTITY
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
