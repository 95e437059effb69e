"""Fit the reading stage's confidence tables on the tuning half, report on the other.

    python -m ocr.page.calibrate --data DIR [--out PATH] [--limit N] [--weights PATH]
        [--tuning-only]

Reads every page of both halves of a folder in the SROIE layout with the default
detector and the recognizer (first readings, no transformations), labels each detected
word right or wrong against the true segments it lies in (`label_reading`), fits the
tables on the TUNING half (`ocr.page.calibration`), writes them, and prints the
reliability table of the REPORTING half before and after calibration.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr.detector import WordBox
from ocr.page.calibration import DEFAULT_TABLE, GROUPS, Calibration, group_of, isotonic
from ocr.page.evaluation import Segment, load_page, one_thread, sroie_pages
from ocr.recognition.lexicon import word_core


def truth_words(box: WordBox, segments: Sequence[Segment]) -> list[str]:
    """Lower-case words of the true segments that hold at least half of the box, each
    also without its surrounding punctuation, and two or three adjacent words run
    together (how the transcripts space punctuation varies: "TOTAL :", "TOTAL:")."""
    area = max(1, box.width * box.height)
    words: list[str] = []
    for segment in segments:
        s = segment.box
        iw = min(box.right, s.right) - max(box.x, s.x)
        ih = min(box.bottom, s.bottom) - max(box.y, s.y)
        if iw > 0 and ih > 0 and iw * ih >= 0.5 * area:
            tokens = segment.text.lower().split()
            words.extend(tokens)
            words.extend(word_core(t) for t in tokens if word_core(t))
            for n in (2, 3):
                words.extend("".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return words


def label_reading(text: str, truth: Sequence[str]) -> bool:
    """Right when every token of the reading, or the token without its surrounding
    punctuation, is one of the true words there."""
    tokens = text.lower().split()
    return bool(tokens) and all(
        token in truth or (word_core(token) and word_core(token) in truth) for token in tokens
    )


def label_chars(text: str, truth: Sequence[str]) -> list[bool]:
    """Per character of `text`: inside a matching block of its token and the nearest
    true word (spaces: right)."""
    labels: list[bool] = []
    for index, token in enumerate(text.lower().split(" ")):
        if index:
            labels.append(True)
        if not token:
            continue
        best = max(
            truth,
            key=lambda word: difflib.SequenceMatcher(None, token, word).ratio(),
            default="",
        )
        marks = [False] * len(token)
        for block in difflib.SequenceMatcher(None, token, best).get_matching_blocks():
            for k in range(block.a, block.a + block.size):
                marks[k] = True
        labels.extend(marks)
    return labels


@dataclass(frozen=True)
class Sample:
    text: str
    confidence: float
    lexicon: bool
    right: bool
    char_confidences: tuple[float, ...]
    char_right: tuple[bool, ...]


def collect(pages: Sequence[Path], predictor) -> list[Sample]:
    from ocr.detection.boxes import to_gray
    from ocr.detector import detect_words
    from ocr.page.reader import crop

    samples: list[Sample] = []
    for image_path in pages:
        page, segments = load_page(image_path)
        gray = to_gray(page)
        boxes = detect_words(page)
        decoded = predictor.predict([crop(gray, box) for box in boxes]) if boxes else []
        for box, d in zip(boxes, decoded, strict=True):
            truth = truth_words(box, segments)
            chars = label_chars(d.text, truth) if d.text else []
            samples.append(
                Sample(
                    text=d.text,
                    confidence=d.confidence,
                    lexicon=d.lexicon,
                    right=label_reading(d.text, truth),
                    char_confidences=d.char_confidences,
                    char_right=tuple(chars[: len(d.char_confidences)]),
                )
            )
    return samples


def fit(samples: Sequence[Sample]) -> Calibration:
    words = {}
    for group in GROUPS:
        chosen = [s for s in samples if s.text and group_of(s.text, s.lexicon) == group]
        if len(chosen) >= 20:
            words[group] = isotonic(
                [s.confidence for s in chosen], [float(s.right) for s in chosen]
            )
    xs = [c for s in samples for c in s.char_confidences[: len(s.char_right)]]
    ys = [float(r) for s in samples for r in s.char_right[: len(s.char_confidences)]]
    return Calibration(words=words, chars_table=isotonic(xs, ys) if xs else [])


def reliability(
    confidences: Sequence[float], right: Sequence[bool], *, bins: int = 10
) -> list[tuple[float, float, int, float, float]]:
    """(low, high, count, mean confidence, share right) per confidence bin."""
    c = np.asarray(confidences, dtype=np.float64)
    r = np.asarray(right, dtype=np.float64)
    rows = []
    edges = np.linspace(0, 1, bins + 1)
    for k, (low, high) in enumerate(itertools.pairwise(edges)):
        inside = (c >= low) & ((c < high) if k < bins - 1 else (c <= high))
        if inside.any():
            rows.append(
                (low, high, int(inside.sum()), float(c[inside].mean()), float(r[inside].mean()))
            )
    return rows


def expected_calibration_error(confidences: Sequence[float], right: Sequence[bool]) -> float:
    rows = reliability(confidences, right)
    total = sum(row[2] for row in rows)
    return sum(row[2] * abs(row[3] - row[4]) for row in rows) / max(1, total)


def report(samples: Sequence[Sample], calibration: Calibration) -> str:
    from ocr.recognition.ctc import Decoded

    words = [s for s in samples if s.text]
    raw = [s.confidence for s in words]
    calibrated = [
        calibration.word(Decoded(s.text, s.confidence, s.char_confidences, s.lexicon))
        for s in words
    ]
    right = [s.right for s in words]
    lines = [
        f"detected words read: {len(samples)} ({len(samples) - len(words)} empty readings);"
        f" right: {sum(right) / max(1, len(right)):.3f}",
        "confidence bin\twords\tmean raw\tright (raw)\twords\tmean calibrated\tright (calibrated)",
    ]
    raw_rows = {row[0]: row for row in reliability(raw, right)}
    cal_rows = {row[0]: row for row in reliability(calibrated, right)}
    for low in sorted(set(raw_rows) | set(cal_rows)):
        a = raw_rows.get(low)
        b = cal_rows.get(low)
        cells = [f"[{low:.1f}, {low + 0.1:.1f})"]
        cells += [str(a[2]), f"{a[3]:.3f}", f"{a[4]:.3f}"] if a else ["0", "", ""]
        cells += [str(b[2]), f"{b[3]:.3f}", f"{b[4]:.3f}"] if b else ["0", "", ""]
        lines.append("\t".join(cells))
    lines.append(
        f"expected calibration error: raw {expected_calibration_error(raw, right):.3f},"
        f" calibrated {expected_calibration_error(calibrated, right):.3f}"
    )
    chars_raw = [c for s in words for c in s.char_confidences[: len(s.char_right)]]
    chars_right = [r for s in words for r in s.char_right[: len(s.char_confidences)]]
    chars_cal = (
        [float(np.interp(c, *zip(*calibration.chars_table, strict=True))) for c in chars_raw]
        if calibration.chars_table
        else chars_raw
    )
    lines.append(
        f"characters: {len(chars_raw)}; expected calibration error raw"
        f" {expected_calibration_error(chars_raw, chars_right):.3f}, calibrated"
        f" {expected_calibration_error(chars_cal, chars_right):.3f}"
    )
    for low, _high, count, mean, share in reliability(chars_cal, chars_right):
        lines.append(f"  chars [{low:.1f}, {low + 0.1:.1f})\t{count}\t{mean:.3f}\t{share:.3f}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.page.calibrate", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="folder in the SROIE layout")
    parser.add_argument("--out", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--limit", type=int, default=None, help="pages per half")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument(
        "--tuning-only",
        action="store_true",
        help="fit and report on the tuning half only (the reporting half left unread)",
    )
    args = parser.parse_args(argv)
    one_thread()
    from ocr.recognition.predictor import DEFAULT_WEIGHTS, Predictor

    predictor = Predictor(args.weights or DEFAULT_WEIGHTS)
    tuning = collect(sroie_pages(args.data, half="tuning", limit=args.limit), predictor)
    calibration = fit(tuning)
    args.out.write_text(json.dumps(calibration.to_json(), indent=1) + "\n", encoding="utf-8")
    sys.stdout.write(f"tables fitted on {len(tuning)} tuning-half words -> {args.out.name}\n")
    sys.stdout.write("tuning half:\n" + report(tuning, calibration))
    if args.tuning_only:
        return 0
    reporting = collect(sroie_pages(args.data, half="reporting", limit=args.limit), predictor)
    sys.stdout.write("reporting half:\n" + report(reporting, calibration))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
