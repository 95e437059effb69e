"""How well a recognizer reads a set of labelled crops, as the JSON a model version keeps.

Accuracy and CER case-insensitive (the figure the project reports: SROIE-style truth is
mostly upper case) and strict; per document kind; per confidence band (the share of
crops in each band, and how often they are right there); a reliability table (mean
confidence against accuracy per tenth) for the diagram on the model page.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ocr.recognition.metrics import Scores, reliability_table, score, wilson_interval

# Confidence bands: the labeling queue sends the low ones to more annotators.
BAND_EDGES = (0.0, 0.5, 0.8, 0.95, 1.0)


def _rounded(value: float) -> float:
    return round(float(value), 4)


def summary(scores: Scores) -> dict[str, Any]:
    low, high = wilson_interval(int(scores.exact_nocase.sum()), scores.n)
    return {
        "n": scores.n,
        "accuracy": _rounded(scores.accuracy_nocase),
        "accuracy_ci": [_rounded(low), _rounded(high)],
        "accuracy_strict": _rounded(scores.accuracy),
        "cer": _rounded(scores.cer_nocase),
        "cer_strict": _rounded(scores.cer),
    }


def _subset(scores: Scores, mask: np.ndarray) -> Scores:
    return Scores(
        exact=scores.exact[mask],
        exact_nocase=scores.exact_nocase[mask],
        edits=scores.edits[mask],
        edits_nocase=scores.edits_nocase[mask],
        lengths=scores.lengths[mask],
        confidences=scores.confidences[mask],
    )


def by_band(scores: Scores) -> list[dict[str, Any]]:
    rows = []
    for index, (low, high) in enumerate(itertools.pairwise(BAND_EDGES)):
        last = index == len(BAND_EDGES) - 2
        upper = scores.confidences <= high if last else scores.confidences < high
        mask = (scores.confidences >= low) & upper
        subset = _subset(scores, mask)
        rows.append(
            {
                "low": low,
                "high": high,
                "n": subset.n,
                "share": _rounded(subset.n / scores.n) if scores.n else 0.0,
                "accuracy": _rounded(subset.accuracy_nocase) if subset.n else None,
                "cer": _rounded(subset.cer_nocase) if subset.n else None,
            }
        )
    return rows


def measure(
    truths: Sequence[str],
    readings: Sequence[str],
    confidences: Sequence[float],
    kinds: Sequence[str],
) -> dict[str, Any]:
    """The metrics of one recognizer on one set of crops."""
    scores = score(truths, readings, confidences)
    result = summary(scores)
    kind_array = np.asarray(kinds)
    result["by_kind"] = {
        kind: summary(_subset(scores, kind_array == kind)) for kind in sorted(set(kinds))
    }
    result["by_band"] = by_band(scores)
    result["reliability"] = [
        {"low": low, "high": high, "n": n, "confidence": _rounded(conf), "accuracy": _rounded(acc)}
        for low, high, n, conf, acc in reliability_table(scores)
    ]
    return result
