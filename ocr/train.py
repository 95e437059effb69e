"""Trains the word recognizer (`make train` reproduces the shipped weights).

    python -m ocr.train --out var/train --export ocr/recognition/weights/crnn.pt
    python -m ocr.train --finetune crops/ --init ocr/recognition/weights/crnn.pt --steps 500
    python -m ocr.train --finetune crops/ --init ocr/recognition/weights/crnn.pt --steps 400 \
        --synthetic-share 0.25 --augment --freeze-features --learning-rate 1e-3

Every option is a field of `ocr.recognition.training.TrainConfig`; the defaults are the
shipped model's. Run it again with the same --out to resume from its last checkpoint.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from ocr.recognition.preprocess import UPSCALE
from ocr.recognition.training import TrainConfig, train


def _parser() -> argparse.ArgumentParser:
    """Options named after TrainConfig's fields (dest), so args map onto it one to one."""
    parser = argparse.ArgumentParser(prog="python -m ocr.train", description=__doc__)
    defaults = TrainConfig()
    parser.add_argument("--out", dest="out_dir", type=Path, default=defaults.out_dir)
    parser.add_argument("--export", type=Path, default=None, help="copy the final weights here")
    parser.add_argument("--finetune", dest="finetune_dir", type=Path, help="crops + labels.tsv")
    parser.add_argument("--init", dest="init_weights", type=Path, help="weights to start from")
    for name in ("seed", "steps", "batch_size", "log_every", "checkpoint_every", "workers"):
        flag = f"--{name.replace('_', '-')}"
        parser.add_argument(flag, type=int, default=getattr(defaults, name))
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--device", default=defaults.device, help='"auto", "cpu" or "cuda"')
    parser.add_argument("--no-resume", dest="resume", action="store_false")
    parser.add_argument(
        "--synthetic-share",
        type=float,
        default=defaults.synthetic_share,
        help="fine-tuning: share of each batch drawn from synthetic words, against forgetting",
    )
    parser.add_argument(
        "--freeze-features", action="store_true", help="fine-tuning: train the BiLSTM and head only"
    )
    parser.add_argument("--augment", action="store_true", help="fine-tuning: jitter real crops")
    parser.add_argument(
        "--cut-synthetic",
        action="store_true",
        help="cut synthetic words down to their ink, as reading cuts real crops",
    )
    parser.add_argument(
        "--upscale",
        choices=sorted(UPSCALE),
        help="how the model enlarges low crops (default: the initial weights' way, or linear)",
    )
    parser.add_argument(
        "--small-print-share",
        type=float,
        default=defaults.small_print_share,
        help="share of synthetic words shrunk to small scanned type (make train's 2nd stage)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    train(TrainConfig(**vars(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
