"""How good a detector's boxes are as word crops on receipts (SROIE layout).

SROIE's segments are lines and phrases, not words, so precision/recall of word boxes
cannot be read off them directly. Three figures stand in:

- `single_word_recall`: the share of true single-word segments (no space in the
  transcript: real word boxes) that a detected box matches at IoU >= 0.5;
- `word_recall_est`: the same over every word, each word of a multi-word segment placed
  by its characters' share of the segment's width (receipts are mostly monospaced, so the
  estimate is close; it is an estimate);
- `gap_span_rate`: the share of detected boxes on text that reach at least one
  character's width across a true word gap (a space inside a segment, placed as above, or
  the gap between two segments of one line): the boxes that make two-word crops;
- `off_text_rate`: the share of detected boxes that lie mostly outside every segment
  (noise, logos, separator lines; some are unlabelled print).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr.detection.boxes import WordBox

Matcher = Callable[[Sequence[WordBox], Sequence[WordBox]], list[tuple[int, int, float]]]


@dataclass(frozen=True)
class Segment:
    """One SROIE segment: its axis-aligned rectangle and transcript."""

    box: WordBox
    text: str


def load_sroie_segments(csv_path: Path) -> list[Segment]:
    """A receipt's segments (quadrilaterals made axis-aligned); empty ones left out."""
    segments: list[Segment] = []
    with csv_path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 9:
                continue
            try:
                coords = [int(float(v)) for v in row[:8]]
            except ValueError:
                continue
            text = ",".join(row[8:]).strip()
            xs, ys = coords[0::2], coords[1::2]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
            if not text or x1 <= x0 or y1 <= y0:
                continue
            segments.append(Segment(WordBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0), text))
    return segments


def sroie_pages(data_dir: Path) -> list[tuple[Path, Path]]:
    """(image, segments) path pairs of a SROIE folder, sorted by name."""
    return [
        (image, image.with_name(image.stem + ".box.csv"))
        for image in sorted(data_dir.glob("*.jpg"))
        if image.with_name(image.stem + ".box.csv").is_file()
    ]


def estimated_words(segment: Segment) -> list[WordBox]:
    """The segment's words, each placed by its characters' share of the segment width."""
    text, box = segment.text, segment.box
    step = box.width / len(text)
    words: list[WordBox] = []
    start = None
    for index, char in enumerate(text + " "):
        if char != " " and start is None:
            start = index
        elif char == " " and start is not None:
            x0 = box.x + round(start * step)
            x1 = box.x + round(index * step)
            words.append(WordBox(x=x0, y=box.y, width=max(1, x1 - x0), height=box.height))
            start = None
    return words


def _gaps(segments: Sequence[Segment]) -> list[tuple[float, float, float, float]]:
    """True word gaps as (x, half width, line top, line bottom)."""
    gaps = []
    for segment in segments:
        box, text = segment.box, segment.text
        step = box.width / len(text)
        for index, char in enumerate(text):
            if char == " " and 0 < index < len(text) - 1:
                gaps.append((box.x + (index + 0.5) * step, step, box.y, box.bottom))
    # Between two segments of one line (they overlap vertically by half the lower one).
    ordered = sorted(segments, key=lambda s: s.box.x)
    for i, left in enumerate(ordered):
        for right in ordered[i + 1 :]:
            a, b = left.box, right.box
            overlap = min(a.bottom, b.bottom) - max(a.y, b.y)
            if overlap < 0.5 * min(a.height, b.height) or b.x < a.right:
                continue
            step = min(a.width / len(left.text), b.width / len(right.text))
            gaps.append(((a.right + b.x) / 2, step + (b.x - a.right) / 2, a.y, a.bottom))
            break
    return gaps


@dataclass
class ReceiptScore:
    """Counts behind the receipt figures, summed over pages."""

    single_truth: int = 0
    single_found: int = 0
    words_truth: int = 0
    words_found: int = 0
    detected: int = 0
    on_text: int = 0
    spanning: int = 0

    def add(self, detected: Sequence[WordBox], segments: Sequence[Segment], match: Matcher):
        singles = [s.box for s in segments if " " not in s.text]
        self.single_truth += len(singles)
        self.single_found += len(match(detected, singles))
        words = [w for s in segments for w in estimated_words(s)]
        self.words_truth += len(words)
        self.words_found += len(match(detected, words))
        self.detected += len(detected)
        gaps = _gaps(segments)
        truth = np.asarray([[s.box.x, s.box.y, s.box.right, s.box.bottom] for s in segments])
        for box in detected:
            if len(truth):
                iw = np.minimum(truth[:, 2], box.right) - np.maximum(truth[:, 0], box.x)
                ih = np.minimum(truth[:, 3], box.bottom) - np.maximum(truth[:, 1], box.y)
                covered = (np.clip(iw, 0, None) * np.clip(ih, 0, None)).max()
            else:
                covered = 0
            if covered < 0.5 * box.width * box.height:
                continue
            self.on_text += 1
            centre = box.y + box.height / 2
            if any(
                top <= centre <= bottom and box.x <= x - half and box.right >= x + half
                for x, half, top, bottom in gaps
            ):
                self.spanning += 1

    def summary(self) -> dict[str, float]:
        def share(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0

        return {
            "single_word_recall": share(self.single_found, self.single_truth),
            "word_recall_est": share(self.words_found, self.words_truth),
            "gap_span_rate": share(self.spanning, self.on_text),
            "off_text_rate": share(self.detected - self.on_text, self.detected),
        }
