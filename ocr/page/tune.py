"""Choose the reading stage's bands on the TUNING half (even positions) of the receipts.

    python -m ocr.page.tune --data DIR [--limit N] [--budget 0.30]

The procedure (docs/adr, page reader): every configuration of a small grid (accept band,
reject band, the close-pair combination gap, each transformation on or off) reads the
same tuning-half pages; the configuration with the highest case-insensitive bag-of-words
F1 whose median CPU seconds per page stay within `--budget` wins (ties: the faster).
Orientation is off while tuning (the pages are upright); the reporting half is never
read here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from ocr.page.evaluation import PageScores, load_page, one_thread, sroie_pages, tokens
from ocr.page.types import ReaderConfig


def grid() -> list[ReaderConfig]:
    """The first reading alone, then the bands (accept × reject) with every
    transformation, then each transformation left out of the best guess."""
    base = ReaderConfig(orientation=False)
    configs = [replace(base, combine=False, split=False, reread=False, reject=0.0)]
    for accept, reject in itertools.product((0.85, 0.95), (0.1, 0.2)):
        configs.append(replace(base, accept=accept, reject=reject))
    best_guess = replace(base, accept=0.95, reject=0.1)
    configs += [
        replace(best_guess, reread=False),
        replace(best_guess, split=False),
        replace(best_guess, combine=False),
    ]
    return configs


def score(config: ReaderConfig, pages: Sequence, predictor) -> tuple[dict, Counter]:
    from ocr.page.reader import read_page

    scores = PageScores()
    decisions: Counter = Counter()
    for page, truth in pages:
        started, cpu = time.perf_counter(), time.process_time()
        reading = read_page(page, predictor=predictor, config=config)
        scores.add(
            tokens(w.text for w in reading.words),
            truth,
            time.perf_counter() - started,
            time.process_time() - cpu,
        )
        decisions.update(w.decision for w in (*reading.words, *reading.rejected))
    return scores.summary(), decisions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.page.tune", description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--budget", type=float, default=0.30, help="CPU s/page median")
    args = parser.parse_args(argv)
    one_thread()
    from ocr.recognition.predictor import Predictor

    predictor = Predictor()
    pages = []
    for path in sroie_pages(args.data, half="tuning", limit=args.limit):
        page, segments = load_page(path)
        pages.append((page, tokens(s.text for s in segments)))
    results = []
    for config in grid():
        summary, decisions = score(config, pages, predictor)
        row = {
            "accept": config.accept,
            "reject": config.reject,
            "close": config.combine_close_gap,
            "combine": config.combine,
            "split": config.split,
            "reread": config.reread,
            "f1": summary["word_f1_nocase"],
            "p": summary["precision_nocase"],
            "r": summary["recall_nocase"],
            "cpu_s": summary["cpu_s_per_page_median"],
            "decisions": dict(decisions),
        }
        results.append((config, row))
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
    within = [item for item in results if item[1]["cpu_s"] <= args.budget] or results
    best = max(within, key=lambda item: (item[1]["f1"], -item[1]["cpu_s"]))
    sys.stdout.write("chosen: " + json.dumps(asdict(best[0])) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
