"""How well a recognizer read a set of crops: exact match, CER, their uncertainty, calibration.

Texts are compared whitespace-normalized (runs of spaces are one space, ends trimmed);
"case-insensitive" figures also fold case, since SROIE's annotators wrote most words in
upper case whatever the print. CER is micro-averaged: all edits over all true characters.
Intervals are 95%: Wilson's for a proportion, a seeded bootstrap over crops for CER.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

Z95 = 1.959963984540054


def normalize_text(text: str, *, fold_case: bool = False) -> str:
    text = " ".join(text.split())
    return text.casefold() if fold_case else text


def wilson_interval(successes: int, total: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion; (0, 1) when there is nothing to count."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    denominator = 1 + Z95**2 / total
    centre = (p + Z95**2 / (2 * total)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Scores:
    """Per-crop outcomes of one engine on one set, and the figures drawn from them."""

    exact: np.ndarray  # bool per crop, whitespace-normalized
    exact_nocase: np.ndarray  # bool per crop, case folded too
    edits: np.ndarray  # edit distance per crop, whitespace-normalized
    edits_nocase: np.ndarray
    lengths: np.ndarray  # true characters per crop
    confidences: np.ndarray

    @property
    def n(self) -> int:
        return len(self.exact)

    @property
    def accuracy(self) -> float:
        return float(self.exact.mean()) if self.n else 0.0

    @property
    def accuracy_nocase(self) -> float:
        return float(self.exact_nocase.mean()) if self.n else 0.0

    @property
    def cer(self) -> float:
        return float(self.edits.sum() / max(1, self.lengths.sum()))

    @property
    def cer_nocase(self) -> float:
        return float(self.edits_nocase.sum() / max(1, self.lengths.sum()))

    def accuracy_interval(self) -> tuple[float, float]:
        return wilson_interval(int(self.exact.sum()), self.n)

    def cer_interval(self, *, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
        if self.n == 0:
            return 0.0, 1.0
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, self.n, (resamples, self.n))
        rates = self.edits[picks].sum(axis=1) / np.maximum(1, self.lengths[picks].sum(axis=1))
        low, high = np.percentile(rates, (2.5, 97.5))
        return float(low), float(high)


def score(truths: Sequence[str], readings: Sequence[str], confidences: Sequence[float]) -> Scores:
    """Compares what was read with the truth, crop by crop."""
    truth = [normalize_text(t) for t in truths]
    read = [normalize_text(r) for r in readings]
    truth_nocase = [t.casefold() for t in truth]
    read_nocase = [r.casefold() for r in read]
    return Scores(
        exact=np.array([t == r for t, r in zip(truth, read, strict=True)], dtype=bool),
        exact_nocase=np.array(
            [t == r for t, r in zip(truth_nocase, read_nocase, strict=True)], dtype=bool
        ),
        edits=np.array([Levenshtein.distance(t, r) for t, r in zip(truth, read, strict=True)]),
        edits_nocase=np.array(
            [Levenshtein.distance(t, r) for t, r in zip(truth_nocase, read_nocase, strict=True)]
        ),
        lengths=np.array([len(t) for t in truth]),
        confidences=np.asarray(confidences, dtype=float),
    )


def reliability_table(
    scores: Scores, *, bins: int = 10, fold_case: bool = True
) -> list[tuple[float, float, int, float, float]]:
    """(low, high, crops, mean confidence, accuracy) per confidence bin."""
    correct = scores.exact_nocase if fold_case else scores.exact
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        inside = (scores.confidences >= low) & (
            (scores.confidences < high) if high < 1.0 else (scores.confidences <= high)
        )
        count = int(inside.sum())
        if count:
            rows.append(
                (
                    float(low),
                    float(high),
                    count,
                    float(scores.confidences[inside].mean()),
                    float(correct[inside].mean()),
                )
            )
    return rows


def accept_curve(
    scores: Scores, thresholds: Sequence[float], *, fold_case: bool = True
) -> list[tuple[float, float, float]]:
    """(threshold, share of crops accepted, precision of the accepted) per threshold."""
    correct = scores.exact_nocase if fold_case else scores.exact
    rows = []
    for threshold in thresholds:
        accepted = scores.confidences >= threshold
        count = int(accepted.sum())
        precision = float(correct[accepted].mean()) if count else float("nan")
        rows.append((float(threshold), count / max(1, scores.n), precision))
    return rows


def threshold_for_precision(
    scores: Scores, precision: float, *, fold_case: bool = True
) -> tuple[float, float] | None:
    """The lowest confidence threshold whose accepted crops reach `precision`, and the
    share of crops it accepts; None when no threshold does."""
    correct = scores.exact_nocase if fold_case else scores.exact
    order = np.argsort(-scores.confidences, kind="stable")
    hits = np.cumsum(correct[order])
    counts = np.arange(1, len(order) + 1)
    good = np.flatnonzero(hits / counts >= precision)
    if len(good) == 0:
        return None
    last = int(good[-1])
    return float(scores.confidences[order][last]), (last + 1) / max(1, scores.n)
