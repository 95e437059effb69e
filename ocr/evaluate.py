"""Measures the OCR components on real, labelled pages and crops.

    python -m ocr.evaluate detector --data /path/to/funsd-forms [--detector NAME] [--half H]
    python -m ocr.evaluate detector --data /path/to/sroie-receipts [--detector NAME] [--half H]
    python -m ocr.evaluate pages --data DIR [--engine crnn|tesseract|crnn,tesseract]
        [--detector NAME] [--oracle-boxes] [--turned] [--limit N] [--half H] [--weights P]
    python -m ocr.evaluate --crops DIR [--engine crnn|tesseract|...] [--threads 1]

Pages are read end to end and scored as bags of words (`ocr.page.evaluation`).
The detector is scored on FUNSD forms (word-level boxes): a detected box counts when it
overlaps a true word with IoU >= 0.5, each true word matched at most once; the run ends
with one JSON line {"detector", "pages", "precision", "recall", "f1", "s_per_page"}. On a
SROIE folder (receipts, line-level segments) it reports how well the boxes serve as word
crops instead (`ocr.detection.measure`). `--half tuning|reporting|all` picks the
development data's half (`ocr.devsplit`).

A recognizer is scored on a folder of crops with a `labels.tsv` (file name TAB text):
exact-match accuracy and character error rate with 95% intervals, a reliability table
and the precision of accepted words per confidence threshold, then one JSON line:
{"engine", "n", "accuracy", "accuracy_ci", "cer", "cer_ci", "crops_per_s"} — accuracy
and CER whitespace-normalized and case-sensitive, `*_ci` their 95% intervals [low, high];
the case-insensitive figures come along as `accuracy_nocase` and `cer_nocase`.
`crnn` is ours; any other name is looked up in `ocr_bridge.engines` at run time (that
module is Django-free), so `ocr` itself imports nothing of ours.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.detector import DEFAULT_DETECTOR, DETECTORS, DetectorConfig, WordBox, detect_words
from ocr.devsplit import HALVES, development_half
from ocr.recognition import metrics
from ocr.recognition.data import read_labels

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


def funsd_pages(
    data_dir: Path, *, limit: int | None = None, half: str = "all"
) -> list[tuple[Path, Path]]:
    """(image, annotation) path pairs of a FUNSD folder, sorted by name for repeatability,
    of one half of the development split (`ocr.devsplit`), the first `limit` of them."""
    pages = [
        (image, image.with_suffix(".json"))
        for image in sorted(data_dir.glob("*.png"))
        if image.with_suffix(".json").is_file()
    ]
    pages = development_half(pages, half)
    return pages[:limit] if limit is not None else pages


def evaluate_detector(
    data_dir: Path,
    *,
    limit: int | None = None,
    config: DetectorConfig | None = None,
    detector: str | None = None,
    half: str = "all",
) -> tuple[DetectionScore, float]:
    """Summed detection score over FUNSD pages and the mean detection seconds per page
    (CPU seconds of this process: with OpenCV on one thread, one core's time, which a
    busy machine does not inflate as it does the wall clock).

    `detector` names one of `ocr.detector.DETECTORS` (its own defaults); otherwise the
    default detector runs with `config`.
    """
    pages = funsd_pages(data_dir, limit=limit, half=half)
    detect = (
        DETECTORS[detector]
        if detector is not None
        else lambda page: detect_words(page, config=config)
    )
    if not pages:
        raise FileNotFoundError(f"no FUNSD pages (*.png with *.json) in {data_dir}")
    total = DetectionScore(true_positives=0, detected=0, truth=0)
    seconds = 0.0
    for image_path, json_path in pages:
        with Image.open(image_path) as image:
            page = np.asarray(image.convert("L"))
        truth = [box for _, box in load_funsd_words(json_path)]
        started = time.process_time()
        detected = detect(page)
        seconds += time.process_time() - started
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


def evaluate_receipt_boxes(
    data_dir: Path, *, limit: int | None = None, detector: str | None = None, half: str = "all"
) -> tuple[dict[str, float], int, float]:
    """The receipt figures of `ocr.detection.measure` over a SROIE folder, the pages read
    and the mean detection CPU seconds per page (as `evaluate_detector`)."""
    from ocr.detection.measure import ReceiptScore, load_sroie_segments, sroie_pages

    pages = development_half(sroie_pages(data_dir), half)[:limit]
    if not pages:
        raise FileNotFoundError(f"no SROIE pages (*.jpg with *.box.csv) in {data_dir}")
    detect = DETECTORS[detector or DEFAULT_DETECTOR]
    total = ReceiptScore()
    seconds = 0.0
    for image_path, csv_path in pages:
        with Image.open(image_path) as image:
            page = np.asarray(image.convert("L"))
        started = time.process_time()
        detected = detect(page)
        seconds += time.process_time() - started
        total.add(detected, load_sroie_segments(csv_path), match_boxes)
    return total.summary(), len(pages), seconds / len(pages)


def _run_detector(args: argparse.Namespace) -> int:
    import cv2

    cv2.setNumThreads(1)  # s_per_page is one core's time
    name = args.detector or DEFAULT_DETECTOR
    if any(args.data.glob("*.box.csv")):
        figures, pages, seconds_per_page = evaluate_receipt_boxes(
            args.data, limit=args.limit, detector=name, half=args.half
        )
        sys.stdout.write(
            "metric\tvalue\n"
            f"detector\t{name}\npages\t{pages}\n"
            + "".join(f"{key}\t{value:.3f}\n" for key, value in figures.items())
            + f"seconds/page\t{seconds_per_page:.3f}\n"
        )
        summary = {"detector": name, "pages": pages, **figures}
        summary["s_per_page"] = round(seconds_per_page, 4)
        sys.stdout.write(json.dumps(summary) + "\n")
        return 0
    score, seconds_per_page = evaluate_detector(
        args.data, limit=args.limit, detector=name, half=args.half
    )
    pages = len(funsd_pages(args.data, limit=args.limit, half=args.half))
    sys.stdout.write(
        "metric\tvalue\n"
        f"detector\t{name}\n"
        f"pages\t{pages}\n"
        f"true words\t{score.truth}\n"
        f"detected\t{score.detected}\n"
        f"precision\t{score.precision:.3f}\n"
        f"recall\t{score.recall:.3f}\n"
        f"F1\t{score.f1:.3f}\n"
        f"seconds/page\t{seconds_per_page:.3f}\n"
    )
    summary = {
        "detector": name,
        "pages": pages,
        "precision": round(score.precision, 4),
        "recall": round(score.recall, 4),
        "f1": round(score.f1, 4),
        "s_per_page": round(seconds_per_page, 4),
    }
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


Reader = Callable[[Sequence[Image.Image]], list[tuple[str, float]]]
ACCEPT_THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def make_reader(
    engine: str, *, threads: int = 1, lexicon: bool = True, weights: Path | None = None
) -> Reader:
    """Crops → (text, word confidence) for the engine of that name (ours with or without
    its lexicon)."""
    if engine == "crnn":
        from ocr.recognition.predictor import DEFAULT_WEIGHTS, Predictor

        predictor = Predictor(weights or DEFAULT_WEIGHTS, threads=threads, lexicon=lexicon)
        return lambda crops: [(r.text, r.confidence) for r in predictor.predict(crops)]
    engines = importlib.import_module("ocr_bridge.engines")
    other = engines.get_engine(engine)
    return lambda crops: [(r.text, r.confidence) for r in other.recognize(crops)]


@dataclass(frozen=True)
class CropRun:
    """One engine's readings of a set of crops, scored, and how long reading took."""

    engine: str
    scores: metrics.Scores
    seconds: float

    @property
    def crops_per_s(self) -> float:
        return self.scores.n / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, object]:
        scores = self.scores
        return {
            "engine": self.engine,
            "n": scores.n,
            "accuracy": round(scores.accuracy, 4),
            "accuracy_ci": [round(v, 4) for v in scores.accuracy_interval()],
            "cer": round(scores.cer, 4),
            "cer_ci": [round(v, 4) for v in scores.cer_interval()],
            "crops_per_s": round(self.crops_per_s, 1),
            "accuracy_nocase": round(scores.accuracy_nocase, 4),
            "cer_nocase": round(scores.cer_nocase, 4),
        }


def read_and_score(
    reader: Reader, engine: str, images: Sequence[Image.Image], truths: Sequence[str]
) -> CropRun:
    """Reads all crops in one call (engines batch) and scores the result."""
    started = time.perf_counter()
    readings = reader(images)
    seconds = time.perf_counter() - started
    scores = metrics.score(truths, [t for t, _ in readings], [c for _, c in readings])
    return CropRun(engine=engine, scores=scores, seconds=seconds)


def calibration_report(scores: metrics.Scores) -> str:
    """The reliability table and the accept curve, as tab-separated text."""
    lines = ["confidence bin	crops	mean confidence	accuracy (case-insensitive)"]
    for low, high, count, mean, accuracy in metrics.reliability_table(scores):
        lines.append(f"[{low:.1f}, {high:.1f}]\t{count}\t{mean:.3f}\t{accuracy:.3f}")
    lines.append("accept if confidence >=\tshare accepted\tprecision (case-insensitive)")
    for threshold, share, precision in metrics.accept_curve(scores, ACCEPT_THRESHOLDS):
        lines.append(f"{threshold:.2f}\t{share:.3f}\t{precision:.3f}")
    return "\n".join(lines) + "\n"


def _run_crops(args: argparse.Namespace) -> int:
    rows = read_labels(args.crops)[: args.limit]
    if not rows:
        raise FileNotFoundError(f"no rows in {args.crops / 'labels.tsv'}")
    images = []
    for path, _ in rows:
        with Image.open(path) as image:
            image.load()
            images.append(image)
    reader = make_reader(
        args.engine, threads=args.threads, lexicon=not args.no_lexicon, weights=args.weights
    )
    run = read_and_score(reader, args.engine, images, [text for _, text in rows])
    scores = run.scores
    low, high = scores.accuracy_interval()
    cer_low, cer_high = scores.cer_interval()
    sys.stdout.write(
        "metric\tvalue\n"
        f"engine\t{args.engine}\ncrops\t{scores.n}\n"
        f"accuracy\t{scores.accuracy:.4f} [{low:.4f}, {high:.4f}]\n"
        f"accuracy, case-insensitive\t{scores.accuracy_nocase:.4f}\n"
        f"CER\t{scores.cer:.4f} [{cer_low:.4f}, {cer_high:.4f}]\n"
        f"CER, case-insensitive\t{scores.cer_nocase:.4f}\n"
        f"crops/s\t{run.crops_per_s:.1f}\n\n" + calibration_report(scores)
    )
    sys.stdout.write(json.dumps(run.summary()) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.evaluate", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every page")
    parser.add_argument("--crops", type=Path, help="a folder of crops with labels.tsv")
    parser.add_argument("--engine", default="crnn", help="crnn (ours), tesseract, …")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the engine")
    parser.add_argument(
        "--weights", type=Path, default=None, help="crnn: a recognizer weights file to read with"
    )
    parser.add_argument("--limit", type=int, default=None, help="read only the first N crops")
    parser.add_argument(
        "--no-lexicon", action="store_true", help="crnn: the network's readings alone"
    )
    parser.set_defaults(run=_run_crops)
    commands = parser.add_subparsers(dest="command")
    detector = commands.add_parser(
        "detector", help="word detector: precision/recall on FUNSD, word-crop figures on SROIE"
    )
    detector.add_argument(
        "--data", type=Path, required=True, help="a funsd-forms or sroie-receipts folder"
    )
    detector.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    detector.add_argument(
        "--detector", choices=sorted(DETECTORS), default=None, help="default: " + DEFAULT_DETECTOR
    )
    detector.add_argument(
        "--half", choices=HALVES, default="all", help="development split half (ocr.devsplit)"
    )
    detector.set_defaults(run=_run_detector)
    pages = commands.add_parser(
        "pages", help="whole pages read end to end: bag-of-words F1 (SROIE layout)"
    )
    from ocr.page.evaluation import add_arguments as add_page_arguments

    add_page_arguments(pages)
    args = parser.parse_args(argv)
    if args.command is None and args.crops is None:
        parser.error("give --crops DIR, or the detector command")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
