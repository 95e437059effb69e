"""The development data's fixed split: a tuning half and a reporting half.

Each collection's files are sorted by name; EVEN positions (0, 2, 4, ...) are the tuning
half (thresholds and rules are chosen there), ODD positions the reporting half (every
target is reported there). `all` keeps every file. Shared by every `ocr.evaluate`
command so that all figures come from the same halves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

HALVES = ("tuning", "reporting", "all")


def development_half(paths: Sequence[T], half: str) -> list[T]:
    """The items of `half` ("tuning", "reporting" or "all") of a list, sorted first.

    Items are sorted (paths by name, tuples by their first element) so the split does not
    depend on the order a directory listing returned them in.
    """
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {half!r}")
    ordered = sorted(paths)
    if half == "all":
        return ordered
    start = 0 if half == "tuning" else 1
    return ordered[start::2]
