"""Trains the orientation classifier (`make train-orientation` reproduces the shipped weights).

    python -m ocr.orientation.train --export ocr/orientation/weights/orientation.pt
    python -m ocr.orientation.train --finetune crops/ --init ocr/orientation/weights/orientation.pt

A fine-tuning folder holds crops and a labels.tsv of file name TAB angle (0, 90, 180, 270:
how far each crop's content is turned counter-clockwise).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from ocr.orientation.training import OrientationTrainConfig, fit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ocr.orientation.train", description=__doc__)
    defaults = OrientationTrainConfig()
    parser.add_argument("--out", dest="out_dir", type=Path, default=defaults.out_dir)
    parser.add_argument("--export", type=Path, default=None, help="copy the final weights here")
    parser.add_argument("--finetune", dest="finetune_dir", type=Path, help="crops + labels.tsv")
    parser.add_argument("--init", dest="init_weights", type=Path, help="weights to start from")
    for name in (
        "seed",
        "steps",
        "batch_size",
        "workers",
        "threads",
        "validation_size",
        "log_every",
    ):
        flag = f"--{name.replace('_', '-')}"
        parser.add_argument(flag, type=int, default=getattr(defaults, name))
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--synthetic-share", type=float, default=defaults.synthetic_share)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    fit(OrientationTrainConfig(**vars(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
