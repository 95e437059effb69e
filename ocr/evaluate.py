"""Measures the OCR components on real, labelled pages.

    python -m ocr.evaluate detector --data /path/to/funsd-forms --limit 30

The detector is scored on FUNSD forms (word-level boxes): a detected box counts when it
overlaps a true word with IoU >= 0.5, each true word matched at most once.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.detector import DetectorConfig, WordBox, detect_words

logger = logging.getLogger(__name__)

IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class DetectionScore:
    """Counts behind precision and recall, summable over pages."""

    true_positives: int
    detected: int
    truth: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.detected if self.detected else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __add__(self, other: DetectionScore) -> DetectionScore:
        return DetectionScore(
            true_positives=self.true_positives + other.true_positives,
            detected=self.detected + other.detected,
            truth=self.truth + other.truth,
        )


def iou(a: WordBox, b: WordBox) -> float:
    """Intersection over union of two boxes; 0.0 when either is empty."""
    inter_w = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    inter_h = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    detected: Sequence[WordBox], truth: Sequence[WordBox], *, threshold: float = IOU_THRESHOLD
) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching, best IoU first: (detected index, truth index, IoU).

    Greedy rather than optimal assignment because at IoU >= 0.5 two boxes can match one
    true word only in degenerate cases, and greedy is what detection benchmarks report.
    """
    pairs = [
        (score, d, t)
        for d, found in enumerate(detected)
        for t, true in enumerate(truth)
        if (score := iou(found, true)) >= threshold
    ]
    pairs.sort(key=lambda pair: -pair[0])
    used_detected: set[int] = set()
    used_truth: set[int] = set()
    matches: list[tuple[int, int, float]] = []
    for score, d, t in pairs:
        if d in used_detected or t in used_truth:
            continue
        used_detected.add(d)
        used_truth.add(t)
        matches.append((d, t, score))
    return matches


def score_detection(
    detected: Sequence[WordBox], truth: Sequence[WordBox], *, threshold: float = IOU_THRESHOLD
) -> DetectionScore:
    """Precision/recall counts of one page's detections against its true word boxes."""
    matches = match_boxes(detected, truth, threshold=threshold)
    return DetectionScore(true_positives=len(matches), detected=len(detected), truth=len(truth))


def load_funsd_words(json_path: Path) -> list[tuple[str, WordBox]]:
    """FUNSD's word-level ground truth; words without text are left out, as nobody reads them."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    words: list[tuple[str, WordBox]] = []
    for entity in data.get("form", []):
        for word in entity.get("words", []):
            text = str(word.get("text", "")).strip()
            x0, y0, x1, y1 = (int(v) for v in word["box"])
            if not text or x1 <= x0 or y1 <= y0:
                continue
            words.append((text, WordBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0)))
    return words


def funsd_pages(data_dir: Path, *, limit: int | None = None) -> list[tuple[Path, Path]]:
    """(image, annotation) path pairs of a FUNSD folder, sorted by name for repeatability."""
    pages = [
        (image, image.with_suffix(".json"))
        for image in sorted(data_dir.glob("*.png"))
        if image.with_suffix(".json").is_file()
    ]
    return pages[:limit] if limit is not None else pages


def evaluate_detector(
    data_dir: Path, *, limit: int | None = None, config: DetectorConfig | None = None
) -> tuple[DetectionScore, float]:
    """Summed detection score over FUNSD pages and the mean detection seconds per page."""
    pages = funsd_pages(data_dir, limit=limit)
    if not pages:
        raise FileNotFoundError(f"no FUNSD pages (*.png with *.json) in {data_dir}")
    total = DetectionScore(true_positives=0, detected=0, truth=0)
    seconds = 0.0
    for image_path, json_path in pages:
        with Image.open(image_path) as image:
            page = np.asarray(image.convert("L"))
        truth = [box for _, box in load_funsd_words(json_path)]
        started = time.perf_counter()
        detected = detect_words(page, config=config)
        seconds += time.perf_counter() - started
        score = score_detection(detected, truth)
        logger.debug(
            "%s: precision %.3f recall %.3f (%d detected, %d true)",
            image_path.name,
            score.precision,
            score.recall,
            score.detected,
            score.truth,
        )
        total += score
    return total, seconds / len(pages)


def _run_detector(args: argparse.Namespace) -> int:
    score, seconds_per_page = evaluate_detector(args.data, limit=args.limit)
    logger.info(
        "detector on %s: precision %.3f recall %.3f F1 %.3f, %.3f s/page",
        args.data,
        score.precision,
        score.recall,
        score.f1,
        seconds_per_page,
    )
    sys.stdout.write(
        "metric\tvalue\n"
        f"pages\t{len(funsd_pages(args.data, limit=args.limit))}\n"
        f"true words\t{score.truth}\n"
        f"detected\t{score.detected}\n"
        f"precision\t{score.precision:.3f}\n"
        f"recall\t{score.recall:.3f}\n"
        f"F1\t{score.f1:.3f}\n"
        f"seconds/page\t{seconds_per_page:.3f}\n"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.evaluate", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every page")
    commands = parser.add_subparsers(dest="command", required=True)
    detector = commands.add_parser("detector", help="word detector precision/recall on FUNSD")
    detector.add_argument("--data", type=Path, required=True, help="the funsd-forms folder")
    detector.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    detector.set_defaults(run=_run_detector)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
