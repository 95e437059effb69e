"""Words grouped into lines, in reading order: lines top to bottom, words left to right.

A box joins a line while its vertical centre lies within the line's running extent (the
overlap of its members' vertical ranges, widened to at least a third of their median
height so that a lone dot or comma does not close it); a box lower down starts the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocr.detector import WordBox


def group_lines(boxes: Sequence[WordBox]) -> list[list[int]]:
    """Indexes of `boxes` per line, lines top to bottom, left to right within a line."""
    if not boxes:
        return []
    by_centre = sorted(
        range(len(boxes)), key=lambda i: (boxes[i].y + boxes[i].height / 2, boxes[i].x)
    )
    lines: list[list[int]] = []
    top = bottom = 0.0
    for index in by_centre:
        box = boxes[index]
        centre = box.y + box.height / 2
        if lines and top <= centre <= bottom:
            lines[-1].append(index)
            new_top, new_bottom = max(top, box.y), min(bottom, box.bottom)
            if new_bottom - new_top >= box.height / 3:
                top, bottom = new_top, new_bottom
        else:
            lines.append([index])
            top, bottom = float(box.y), float(box.bottom)
    return [sorted(line, key=lambda i: (boxes[i].x, boxes[i].y)) for line in lines]
