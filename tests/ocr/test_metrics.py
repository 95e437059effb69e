"""Accuracy, CER, their intervals and the accept curve."""

import numpy as np
import pytest

from ocr.recognition import metrics


def test_exact_match_normalizes_whitespace_and_optionally_case():
    scores = metrics.score(
        ["TOTAL", "6.69", "Thank you"], ["Total", "6.69", " Thank  you "], [0.1] * 3
    )

    assert scores.exact.tolist() == [False, True, True]
    assert scores.exact_nocase.tolist() == [True, True, True]


def test_cer_is_all_edits_over_all_true_characters():
    scores = metrics.score(["abcd", "xy"], ["abed", ""], [0.5, 0.5])

    assert scores.cer == pytest.approx((1 + 2) / 6)


def test_wilson_interval_brackets_the_proportion():
    low, high = metrics.wilson_interval(80, 100)

    assert low < 0.8 < high
    assert low == pytest.approx(0.7112, abs=1e-3)
    assert high == pytest.approx(0.8666, abs=1e-3)
    assert metrics.wilson_interval(0, 0) == (0.0, 1.0)


def test_cer_interval_is_seeded_and_contains_the_cer():
    scores = metrics.score(["abcd"] * 50 + ["wxyz"] * 50, ["abcd"] * 50 + ["wxy"] * 50, [1.0] * 100)

    interval = scores.cer_interval()

    assert interval == scores.cer_interval()
    assert interval[0] <= scores.cer <= interval[1]


def test_accept_curve_and_threshold_for_precision():
    # Given confidences that rank the right readings above the wrong ones
    truths = ["a", "b", "c", "d", "e"]
    readings = ["a", "b", "c", "x", "y"]
    scores = metrics.score(truths, readings, [0.99, 0.95, 0.9, 0.6, 0.2])

    curve = metrics.accept_curve(scores, [0.5, 0.9])
    threshold = metrics.threshold_for_precision(scores, 0.98)

    assert curve[0] == (0.5, 0.8, 0.75)
    assert curve[1] == (0.9, 0.6, 1.0)
    assert threshold == (0.9, 0.6)


def test_reliability_table_counts_every_crop_once():
    scores = metrics.score(["a"] * 4, ["a", "a", "b", "a"], [0.05, 0.55, 0.58, 1.0])

    rows = metrics.reliability_table(scores)

    assert sum(row[2] for row in rows) == 4
    assert [row[4] for row in rows] == [1.0, 0.5, 1.0]
    assert np.isclose(rows[1][3], 0.565)
