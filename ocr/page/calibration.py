"""Confidences that mean what they say (first version: the raw CTC probability)."""

from __future__ import annotations

import functools


class Calibration:
    def word(self, decoded) -> float:
        return float(decoded.confidence)

    def chars(self, decoded) -> tuple[float, ...]:
        return tuple(float(c) for c in decoded.char_confidences)


@functools.cache
def default_calibration() -> Calibration:
    return Calibration()
