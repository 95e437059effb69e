"""Benchmark: our CRNN, Tesseract and RapidOCR on the same real word crops, in one run.

Crops come from the development data beside the checkout (`../shared/data`, or
$DROPTURK_SHARED_DATA): SROIE receipts' single-token segments and FUNSD forms' word
boxes (a seeded sample of `--limit` per set). Each engine × thread count runs in its own
fresh process, so that peak memory is the engine's own and no engine warms another's
caches. Printed: exact-match accuracy (strict and case-insensitive, whitespace-normalized),
CER, crops/s on 1 and 2 cores, and how much the engine adds to the process's peak RSS
while it loads and reads.

    make bench-ocr      # or: .venv/bin/python -m benchmarks.ocr_engines --limit 1000

"Two cores": torch and onnxruntime get two intra-op threads; Tesseract, whose own
threads do not help on word crops, gets two Python threads each with its own API
object (tesserocr releases the GIL while it reads). RapidOCR is the optional extra
`ocr-bench` (`pip install -e '.[ocr-bench]'`), recognition model only; it is skipped when
absent. `--write-crops DIR` also saves the crops as DIR/<set>/ with a labels.tsv, for
`python -m ocr.evaluate --crops`.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger("benchmarks.ocr_engines")

SETS = ("sroie-words", "funsd-words")
ENGINES = ("crnn", "tesseract", "rapidocr")
Reader = Callable[[Sequence[Image.Image]], list[str]]


def shared_data_dir() -> Path:
    override = os.environ.get("DROPTURK_SHARED_DATA")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_crops(name: str, data: Path, limit: int, seed: int) -> tuple[list[Image.Image], list[str]]:
    """The crops of one set: all SROIE single tokens, or a seeded sample, up to `limit`."""
    from ocr.recognition.crops import funsd_word_crops, sroie_word_crops

    if name == "sroie-words":
        crops = sroie_word_crops(data / "sroie-receipts")
    else:
        crops = funsd_word_crops(data / "funsd-forms")
    if len(crops) > limit:
        picks = sorted(np.random.default_rng(seed).choice(len(crops), limit, replace=False))
        crops = [crops[i] for i in picks]
    return [crop.image for crop in crops], [crop.text for crop in crops]


def _rapidocr_reader(threads: int) -> Reader:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)

    def read(crops: Sequence[Image.Image]) -> list[str]:
        images = [np.asarray(crop.convert("RGB"))[:, :, ::-1].copy() for crop in crops]
        results, _ = engine.text_rec(images)
        return [text for text, _ in results]

    return read


def _tesseract_reader(threads: int) -> Reader:
    from ocr_bridge.engines import TesseractEngine

    engine = TesseractEngine()
    pool = ThreadPoolExecutor(max_workers=threads)

    def read(crops: Sequence[Image.Image]) -> list[str]:
        chunks = [list(crops[i::threads]) for i in range(threads)]
        parts = list(pool.map(engine.recognize, chunks))
        texts = [""] * len(crops)
        for offset, part in enumerate(parts):
            texts[offset::threads] = [r.text for r in part]
        return texts

    return read


def _crnn_reader(threads: int) -> Reader:
    from ocr_bridge.engines import CrnnEngine

    engine = CrnnEngine(threads=threads)
    return lambda crops: [r.text for r in engine.recognize(crops)]


READERS: dict[str, Callable[[int], Reader]] = {
    "crnn": _crnn_reader,
    "tesseract": _tesseract_reader,
    "rapidocr": _rapidocr_reader,
}


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Starts the high-water mark (VmHWM) afresh, so the crops' unpickling is not counted."""
    Path("/proc/self/clear_refs").write_text("5")


def run_engine(engine: str, threads: int, crops: dict[str, tuple[list, list[str]]]) -> dict:
    """In a fresh process: build the engine, warm it, time each set.

    The crops arrive as arrays (cut once by the parent), so the process's peak memory
    before the engine loads is the crops' and the interpreter's alone.
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"
    sets = {
        name: ([Image.fromarray(array) for array in arrays], truths)
        for name, (arrays, truths) in crops.items()
    }
    _reset_peak()
    before = _status_mb("VmRSS")
    reader = READERS[engine](threads)
    reader(sets["sroie-words"][0][:16])  # first-call costs (allocations, lazy init)
    result: dict = {"engine": engine, "threads": threads, "sets": {}}
    for name, (images, truths) in sets.items():
        started = time.perf_counter()
        texts = reader(images)
        seconds = time.perf_counter() - started
        result["sets"][name] = {"texts": texts, "truths": truths, "seconds": seconds}
    result["peak_mb"] = _status_mb("VmHWM") - before
    return result


def _in_child(engine: str, threads: int, crops: dict) -> dict | None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        try:
            return pool.apply(run_engine, (engine, threads, crops))
        except ImportError as error:
            logger.warning("%s skipped: %s", engine, error)
            return None


def write_crops(folder: Path, data: Path, limit: int, seed: int) -> None:
    for name in SETS:
        images, truths = load_crops(name, data, limit, seed)
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        lines = []
        for index, (image, text) in enumerate(zip(images, truths, strict=True)):
            image.save(target / f"{index:05d}.png")
            lines.append(f"{index:05d}.png\t{text}\n")
        (target / "labels.tsv").write_text("".join(lines), encoding="utf-8")
        logger.info("wrote %d crops to %s", len(images), target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ocr_engines", description=__doc__)
    parser.add_argument("--data", type=Path, default=shared_data_dir())
    parser.add_argument("--limit", type=int, default=1000, help="crops per set at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--write-crops", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (args.data / "sroie-receipts").is_dir():
        logger.error("no development data at %s (set DROPTURK_SHARED_DATA)", args.data)
        return 2
    if args.write_crops is not None:
        write_crops(args.write_crops, args.data, args.limit, args.seed)

    from ocr.recognition import metrics

    crops = {}
    for name in SETS:
        images, truths = load_crops(name, args.data, args.limit, args.seed)
        crops[name] = ([np.asarray(image) for image in images], truths)
    rows = []
    for engine in args.engines:
        speeds: dict[str, dict[int, float]] = {name: {} for name in SETS}
        quality = None
        peak = 0.0
        for threads in args.threads:
            result = _in_child(engine, threads, crops)
            if result is None:
                break
            peak = max(peak, result["peak_mb"])
            for name, outcome in result["sets"].items():
                speeds[name][threads] = len(outcome["texts"]) / outcome["seconds"]
            if quality is None:
                quality = {
                    name: metrics.score(o["truths"], o["texts"], [0.0] * len(o["texts"]))
                    for name, o in result["sets"].items()
                }
            logger.info("%s on %d thread(s) done", engine, threads)
        if quality is None:
            continue
        for name in SETS:
            scores = quality[name]
            rows.append(
                {
                    "engine": engine,
                    "set": name,
                    "n": scores.n,
                    "accuracy": scores.accuracy,
                    "accuracy_nocase": scores.accuracy_nocase,
                    "cer": scores.cer,
                    "cer_nocase": scores.cer_nocase,
                    "crops_per_s": speeds[name],
                    "peak_mb": peak,
                }
            )
    header = "| engine | crops | n | exact | exact, any case | CER | CER, any case | "
    header += " | ".join(f"crops/s, {t} core{'s' if t > 1 else ''}" for t in args.threads)
    lines = [header + " | peak MB |", "|" + "---|" * (8 + len(args.threads))]
    for row in rows:
        speed = " | ".join(f"{row['crops_per_s'].get(t, float('nan')):.0f}" for t in args.threads)
        lines.append(
            f"| {row['engine']} | {row['set']} | {row['n']} | {row['accuracy']:.1%} | "
            f"{row['accuracy_nocase']:.1%} | {row['cer']:.1%} | {row['cer_nocase']:.1%} | "
            f"{speed} | {row['peak_mb']:.0f} |"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
