"""What reading a page returns (the contract PIPELINE and the CLI code against) and the
knobs of the reading stage.

`PageReading.words` are the kept words in reading order; `lines` index into them. Every
word says how it was decided (`decision`): "accepted" as first read, "reread" (a second
reading of the same box with other padding or contrast won), "combined" (two or more
detected boxes read as one word), "split" (one detected box cut into words), "rejected"
(noise: kept apart in `PageReading.rejected`, never in `words`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ocr.detector import WordBox

DECISIONS = ("accepted", "reread", "combined", "split", "rejected")


@dataclass(frozen=True)
class ReaderConfig:
    """Bands and transformations of `read_page`, chosen on the tuning half of the
    development receipts by `python -m ocr.page.tune` (docs/adr/0011-page-reader.md):
    combination pays most; splits are taken only at word-wide gaps; re-reads did not pay
    for their time, so they are off by default (there for other documents). The figures
    behind each choice are in the ADR. A reading with a space in it is always cut into its words.

    Confidences compared with the bands are calibrated (`ocr.page.calibration`): a word
    at 0.9 is right about nine times in ten on detected receipt words.
    """

    # At or above `accept`: kept as read. Below `reject`: noise, unless a transformation
    # lifts it. Between: the transformations below are tried and the most confident
    # reading is kept.
    accept: float = 0.95
    reject: float = 0.3
    # Combine a word with its left or right neighbour on the same line when the gap
    # between them is at most `combine_gap` × the taller one's height.
    combine: bool = True
    combine_gap: float = 0.4
    # ... or at most `combine_dot_gap` × height with only a point or comma in the gap.
    combine_dot_gap: float = 1.0
    # Pairs closer than `combine_close_gap` × height are tried even when both are
    # confident (a detector that cuts a word at a narrow gap, "80" + "91" for "80.91",
    # cuts it into two plausible pieces).
    combine_close_gap: float = 0.3
    # Two neighbours that are both lexicon words of three letters or digits or more are
    # tried together only when this is set: their combination is one token only with
    # punctuation inside (`joined_reading`), which such pairs seldom hide. Two that are
    # both that long (lexicon words or not) only when one reads below `combine_whole_below`.
    combine_known_pairs: bool = False
    combine_whole_below: float = 0.7
    # Split a box at its widest internal ink gaps (in two at each of the `split_tries`
    # widest, in up to `split_max_parts` at the widest) when it is at least
    # `split_min_aspect` times as wide as high.
    split: bool = True
    split_min_aspect: float = 2.0
    split_max_parts: int = 3
    split_tries: int = 3  # gaps tried one at a time for a cut in two
    split_min_gap: float = 0.3  # only at gaps at least this × the box's height wide
    # A split must beat the first reading by this much more than other transformations
    # (on receipts a confident fragment pair often outscores a right but unsure word).
    split_margin: float = 0.0
    # Read the box again with more padding and with stretched contrast.
    reread: bool = False
    reread_padding: float = 0.15  # of the box's height, on every side
    # A transformation wins only if its (geometric mean) confidence beats the first
    # reading's by at least this much.
    margin: float = 0.0
    # Look for colons the detector dropped between a line's words (`ocr.page.marks`).
    colons: bool = True
    # Find and undo a page turned by 90, 180 or 270 degrees before detection.
    orientation: bool = True
    # Calibrate confidences with the shipped table (False: raw CTC probabilities).
    calibrate: bool = True


@dataclass(frozen=True)
class WordReading:
    """One word of a page: where it is (upright-page pixels), what it says, how sure."""

    box: WordBox
    text: str
    confidence: float  # calibrated, in [0, 1]
    char_confidences: tuple[float, ...]  # one per character of text
    decision: str  # one of DECISIONS
    # Detected boxes it was made from: >1 when combined, 0 for a colon found in the gap
    # between two words (`ocr.page.marks`).
    source_boxes: int = 1
    line: int = 0  # 0-based line index
    order: int = 0  # 0-based reading order among the page's kept (or rejected) words

    def to_json(self) -> dict[str, Any]:
        return {
            "box": [self.box.x, self.box.y, self.box.width, self.box.height],
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "char_confidences": [round(float(c), 4) for c in self.char_confidences],
            "decision": self.decision,
            "source_boxes": self.source_boxes,
        }


@dataclass(frozen=True)
class PageReading:
    """A page read end to end: kept words grouped into lines, rejected regions beside."""

    rotation: int  # degrees the page was turned to make it upright: 0, 90, 180 or 270
    image: np.ndarray = field(repr=False, compare=False)  # the upright page
    width: int
    height: int
    words: tuple[WordReading, ...]
    rejected: tuple[WordReading, ...]
    lines: tuple[tuple[int, ...], ...]  # indexes into words, per line, in reading order
    detector_version: str
    recognizer_version: str

    def text(self) -> str:
        """Lines joined by newlines, the words of a line by single spaces."""
        return "\n".join(" ".join(self.words[i].text for i in line) for line in self.lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "rotation": self.rotation,
            "width": self.width,
            "height": self.height,
            "detector_version": self.detector_version,
            "recognizer_version": self.recognizer_version,
            "lines": [{"words": [self.words[i].to_json() for i in line]} for line in self.lines],
            "rejected": [word.to_json() for word in self.rejected],
        }
