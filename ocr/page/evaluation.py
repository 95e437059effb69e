"""Whole pages scored end to end: `python -m ocr.evaluate pages --data DIR ...`.

A folder in the SROIE layout (`NAME.jpg` + `NAME.box.csv`, one text segment per row:
`x1,y1,...,x4,y4,transcript`) is read page by page, by our reader (`ocr.page.read_page`),
by Tesseract's own full-page OCR (`--engine tesseract`) or by our recognizer on the true
word boxes (`--oracle-boxes`: the ceiling the recognizer sets; SROIE's boxes are of lines
and phrases, so each is cut into its words at its widest ink gaps, `word_boxes`). Each
page's words are compared with its transcripts as bags of whitespace-split words:

- a multiset match (a word found twice where the page has it once counts once),
  case-insensitive (`*_nocase`, the headline: SROIE's annotators wrote most text in upper
  case) and strict (case-sensitive) beside it;
- punctuation-only tokens ("-", ":", "*") are scored like any other word, and the F1
  without them is reported beside;
- precision, recall and F1 summed over all pages' words (micro average).

Seconds per page cover everything from the decoded image to the words (orientation,
detection, reading, re-reads) on one thread: wall time, and the process's CPU time beside
it (on a machine whose cores are shared, the wall time includes waiting for a core).
`--turned` reads every page also turned by 90, 180 and 270 degrees (counter-clockwise,
no EXIF) and reports each angle's F1.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.detection.measure import load_sroie_segments
from ocr.detector import WordBox
from ocr.devsplit import development_half

ANGLES = (0, 90, 180, 270)


@dataclass(frozen=True)
class BagScore:
    """Counts behind a bag-of-words precision / recall, summable over pages."""

    matched: int = 0
    found: int = 0
    truth: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __add__(self, other: BagScore) -> BagScore:
        return BagScore(
            self.matched + other.matched, self.found + other.found, self.truth + other.truth
        )


def tokens(texts: Iterable[str]) -> list[str]:
    """Whitespace-split words of some texts."""
    return [token for text in texts for token in text.split()]


def is_punctuation(token: str) -> bool:
    """A token without a letter or digit ("-", "**", ":")."""
    return not any(char.isalnum() for char in token)


def bag_score(found: Sequence[str], truth: Sequence[str], *, case: bool = False) -> BagScore:
    """Multiset match of two token lists (case-insensitive unless `case`)."""
    if not case:
        found = [token.lower() for token in found]
        truth = [token.lower() for token in truth]
    matched = sum((Counter(found) & Counter(truth)).values())
    return BagScore(matched=matched, found=len(found), truth=len(truth))


@dataclass
class PageScores:
    """The three bag scores of a run (summed over pages) and its seconds per page."""

    nocase: BagScore = field(default_factory=BagScore)
    strict: BagScore = field(default_factory=BagScore)
    words_only: BagScore = field(default_factory=BagScore)  # nocase, punctuation left out
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    def add(
        self, found: Sequence[str], truth: Sequence[str], seconds: float, cpu: float = 0.0
    ) -> None:
        self.nocase += bag_score(found, truth)
        self.strict += bag_score(found, truth, case=True)
        self.words_only += bag_score(
            [t for t in found if not is_punctuation(t)], [t for t in truth if not is_punctuation(t)]
        )
        self.seconds.append(seconds)
        self.cpu_seconds.append(cpu)

    def summary(self) -> dict[str, float | int]:
        seconds = self.seconds or [0.0]
        return {
            "pages": len(self.seconds),
            "word_f1_nocase": round(self.nocase.f1, 4),
            "precision_nocase": round(self.nocase.precision, 4),
            "recall_nocase": round(self.nocase.recall, 4),
            "word_f1": round(self.strict.f1, 4),
            "precision": round(self.strict.precision, 4),
            "recall": round(self.strict.recall, 4),
            "word_f1_nocase_no_punct": round(self.words_only.f1, 4),
            "s_per_page_median": round(statistics.median(seconds), 4),
            "s_per_page_mean": round(statistics.fmean(seconds), 4),
            # The process's CPU time: on one thread, the wall time an idle core would take
            # (the figures above include waiting for a shared machine's cores).
            "cpu_s_per_page_median": round(statistics.median(self.cpu_seconds or [0.0]), 4),
        }


# ------------------------------------------------------------------------------ the data


@dataclass(frozen=True)
class Segment:
    text: str
    box: WordBox


def load_segments(csv_path: Path) -> list[Segment]:
    """An SROIE `.box.csv`: each row's quadrilateral as its bounding rectangle, and text
    (read as the detector's measure reads it)."""
    return [Segment(s.text, s.box) for s in load_sroie_segments(csv_path)]


def word_boxes(segment: Segment, gray: np.ndarray | None = None) -> list[WordBox]:
    """The segment's box cut into one box per word: the true word boxes SROIE does not
    give, for `--oracle-boxes`. With the page, a segment of n words is cut at its n - 1
    widest ink gaps (`ocr.page.transform.ink_gaps`); without it, or when the ink has too
    few gaps, in proportion to the characters before and in each word."""
    text = segment.text
    box = segment.box
    words = text.split()
    if gray is not None and len(words) > 1:
        from ocr.page.transform import ink_gaps, split_boxes

        pixels = gray[box.y : box.bottom, box.x : box.right]
        gaps = ink_gaps(pixels)
        if len(gaps) >= len(words) - 1:
            pieces = split_boxes(box, gaps, len(words))
            if len(pieces) == len(words):
                return pieces
    pitch = box.width / max(1, len(text))
    boxes = []
    position = 0
    for word in words:
        start = text.index(word, position)
        position = start + len(word)
        left = box.x + round(start * pitch)
        right = box.x + round(position * pitch)
        if right > left:
            boxes.append(WordBox(left, box.y, right - left, box.height))
    return boxes


def sroie_pages(data: Path, *, half: str = "all", limit: int | None = None) -> list[Path]:
    """The images of a folder in the SROIE layout that have transcripts, of one half."""
    images = [p for p in data.glob("*.jpg") if p.with_name(p.stem + ".box.csv").is_file()]
    chosen = development_half(images, half)
    return chosen[:limit] if limit is not None else chosen


def load_page(image_path: Path) -> tuple[np.ndarray, list[Segment]]:
    with Image.open(image_path) as image:
        pixels = np.asarray(image.convert("RGB"))
    return pixels, load_segments(image_path.with_name(image_path.stem + ".box.csv"))


# ------------------------------------------------------------------------------ engines

PageReader = Callable[[np.ndarray, list[Segment]], list[str]]


def one_thread() -> None:
    """Torch and OpenCV on one thread each (the figures are per core)."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def make_page_reader(
    engine: str,
    *,
    weights: Path | None = None,
    detector: str | None = None,
    oracle_boxes: bool = False,
    config=None,
) -> PageReader:
    """(page, its true segments) → the words the engine reads on it."""
    if engine == "tesseract":
        from ocr.tesseract import TesseractPage

        tesseract = TesseractPage()
        return lambda page, _segments: [w.text for w in tesseract.read(page)]
    if engine != "crnn":
        raise ValueError(f"unknown page engine {engine!r}: crnn or tesseract")
    from ocr.detection.boxes import to_gray
    from ocr.page.reader import crop, read_page
    from ocr.recognition.predictor import DEFAULT_WEIGHTS, Predictor

    predictor = Predictor(weights or DEFAULT_WEIGHTS, threads=1)
    if oracle_boxes:

        def oracle(page: np.ndarray, segments: list[Segment]) -> list[str]:
            gray = to_gray(page)
            boxes = [box for s in segments for box in word_boxes(s, gray)]
            readings = predictor.predict([crop(gray, box) for box in boxes])
            return [r.text for r in readings]

        return oracle
    return lambda page, _segments: [
        w.text for w in read_page(page, predictor=predictor, detector=detector, config=config).words
    ]


def evaluate_pages(
    pages: Sequence[Path],
    reader: PageReader,
    *,
    angles: Sequence[int] = (0,),
    log=None,
) -> dict[int, PageScores]:
    """Scores per angle (counter-clockwise degrees the page is turned before reading)."""
    results = {angle: PageScores() for angle in angles}
    for image_path in pages:
        page, segments = load_page(image_path)
        truth = tokens(s.text for s in segments)
        for angle in angles:
            turned = np.ascontiguousarray(np.rot90(page, angle // 90)) if angle else page
            started, cpu_started = time.perf_counter(), time.process_time()
            found = tokens(reader(turned, segments))
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            results[angle].add(found, truth, seconds, cpu)
            if log is not None:
                score = bag_score(found, truth)
                log(f"{image_path.name}\t{angle}\t{score.f1:.3f}\t{seconds:.3f}")
    return results


def run(args) -> int:
    one_thread()
    pages = sroie_pages(args.data, half=args.half, limit=args.limit)
    if not pages:
        raise FileNotFoundError(f"no NAME.jpg with NAME.box.csv in {args.data} ({args.half})")
    engines = [name for value in args.engine for name in value.split(",") if name]
    angles = ANGLES if args.turned else (0,)
    log = (lambda line: sys.stderr.write(line + "\n")) if args.verbose else None
    summaries: dict[str, dict] = {}
    for engine in engines:
        label = engine + (" (oracle boxes)" if args.oracle_boxes and engine == "crnn" else "")
        reader = make_page_reader(
            engine, weights=args.weights, detector=args.detector, oracle_boxes=args.oracle_boxes
        )
        results = evaluate_pages(pages, reader, angles=angles, log=log)
        summary = results[0].summary()
        if args.turned:
            for angle in ANGLES:
                summary[f"word_f1_nocase_{angle}"] = round(results[angle].nocase.f1, 4)
            summary["s_per_page_median_turned"] = round(
                statistics.median(s for a in ANGLES[1:] for s in results[a].seconds), 4
            )
        summaries[label] = {"engine": engine, **summary}
    _print_table(summaries, args)
    first = next(iter(summaries.values()))
    line = {**first, "half": args.half, "oracle_boxes": bool(args.oracle_boxes)}
    if len(summaries) > 1:
        line["engines"] = summaries
    sys.stdout.write(json.dumps(line) + "\n")
    return 0


def _print_table(summaries: dict[str, dict], args) -> None:
    keys = [k for k in next(iter(summaries.values())) if k != "engine"]
    out = [f"pages of {args.data.name} ({args.half} half)\t" + "\t".join(summaries)]
    for key in keys:
        out.append(key + "\t" + "\t".join(str(s.get(key, "")) for s in summaries.values()))
    sys.stdout.write("\n".join(out) + "\n")


def add_arguments(parser) -> None:
    from ocr.devsplit import HALVES

    parser.add_argument(
        "--data", type=Path, required=True, help="a folder of NAME.jpg + NAME.box.csv"
    )
    parser.add_argument(
        "--engine",
        action="append",
        default=None,
        help="crnn (ours, default), tesseract, or both: crnn,tesseract (same run)",
    )
    parser.add_argument("--detector", default=None, help="a name of ocr.detector.DETECTORS")
    parser.add_argument(
        "--oracle-boxes", action="store_true", help="crnn reads the true segment boxes"
    )
    parser.add_argument("--turned", action="store_true", help="also read pages turned 90/180/270")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--half", choices=HALVES, default="all", help="development half")
    parser.add_argument("--weights", type=Path, default=None, help="recognizer weights file")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every page")
    parser.set_defaults(run=_run_with_defaults)


def _run_with_defaults(args) -> int:
    if not args.engine:
        args.engine = ["crnn"]
    return run(args)
