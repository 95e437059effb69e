"""Choose the reading stage's bands on the TUNING half (even positions) of the receipts.

    python -m ocr.page.tune --data DIR [--limit N] [--budget 0.30]

The procedure (docs/adr/0011-page-reader.md): every configuration of a small grid (reject
band, each transformation on or off, the split margin) reads the same tuning-half pages
in one process (so with one detector); the configuration with the highest
case-insensitive bag-of-words F1 wins, and among those within 0.003 of it the fastest
(`--budget` S: only configurations whose median CPU seconds per page stay within S).
Orientation is off while tuning (the pages are upright); the reporting half is never
read here.
"""

from __future__ import annotations

import argparse
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
    """The first reading alone; combination (the transformation that paid most) at two
    reject bands; with splits (any of the widest gaps at two margins; only gaps of 0.3 x
    height or wider); with re-reads; with colons; the combination's gap. Every comparison
    of the ADR, in one process."""
    base = ReaderConfig(orientation=False, colons=False)
    combine = replace(base, accept=0.95, reject=0.3, split=False, reread=False, combine_gap=1.0)
    return [
        replace(base, combine=False, split=False, reread=False, reject=0.0),
        replace(combine, reject=0.2),
        combine,
        replace(combine, split=True, split_min_gap=0.0, split_margin=0.1),
        replace(combine, split=True, split_min_gap=0.0, split_margin=0.2),
        replace(combine, split=True, split_min_gap=0.3, split_margin=0.0),
        replace(combine, reread=True),
        replace(combine, split=True, split_min_gap=0.3, split_margin=0.0, colons=True),
        *(
            replace(base, combine_gap=gap, combine_dot_gap=max(gap, 1.0), colons=True)
            for gap in (1.0, 0.6, 0.4)
        ),
        replace(base, colons=True),  # the defaults: 0.4, or 1.0 with a point in the gap
    ]


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
    parser.add_argument(
        "--budget", type=float, default=None, help="CPU s/page median a choice must keep"
    )
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
            "split_margin": config.split_margin,
            "split_min_gap": config.split_min_gap,
            "colons": config.colons,
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
    within = [
        item for item in results if args.budget is None or item[1]["cpu_s"] <= args.budget
    ] or results
    # The best F1; within 0.003 of it (noise on a few dozen pages), the fastest.
    top = max(item[1]["f1"] for item in within)
    best = min(
        (item for item in within if item[1]["f1"] >= top - 0.003),
        key=lambda item: item[1]["cpu_s"],
    )
    sys.stdout.write("chosen: " + json.dumps(asdict(best[0])) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
