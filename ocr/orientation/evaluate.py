"""How well the orientation classifier tells which way up a crop is.

    python -m ocr.orientation.evaluate                       # synthetic held-out words
    python -m ocr.orientation.evaluate --sroie ../shared/data/sroie-receipts --limit 1000

Each crop is shown turned by 0, 90, 180 and 270 degrees. Prints the accuracy per angle,
and what the pipeline does with it: at the confidence threshold it acts on
(`--threshold`), the share of turned crops it turns back, the share it turns wrongly,
and the share of upright crops it would wrongly turn. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ocr.orientation.data import turn
from ocr.orientation.model import ANGLES
from ocr.orientation.predictor import DEFAULT_WEIGHTS, OrientationClassifier
from ocr.recognition.preprocess import to_gray

logger = logging.getLogger(__name__)


def measure(
    classifier: OrientationClassifier, uprights: Sequence[np.ndarray], *, threshold: float
) -> dict[str, float | int]:
    """Accuracy per angle and at the threshold, over every crop turned every way."""
    turned = [turn(image, k) for image in uprights for k in range(4)]
    truth = np.array([ANGLES[k] for _ in uprights for k in range(4)])
    found = classifier.predict(turned)
    angles = np.array([f.angle for f in found])
    sure = np.array([f.confidence >= threshold for f in found])
    result: dict[str, float | int] = {"crops": len(uprights)}
    for angle in ANGLES:
        mask = truth == angle
        result[f"accuracy_{angle}"] = round(float((angles[mask] == angle).mean()), 4)
    result["accuracy"] = round(float((angles == truth).mean()), 4)
    rotated = truth != 0
    # What the pipeline does: turn back only when sure and not upright.
    acts = sure & (angles != 0)
    result["turned_back"] = round(float((acts & (angles == truth))[rotated].mean()), 4)
    result["turned_wrongly"] = round(float((acts & (angles != truth))[rotated].mean()), 4)
    result["upright_turned"] = round(float(acts[~rotated].mean()), 4)
    return result


def _synthetic(count: int) -> list[np.ndarray]:
    from ocr.orientation.training import VALIDATION_FIRST_SEED
    from ocr.synth.render import render_sample

    images = []
    seed = VALIDATION_FIRST_SEED
    while len(images) < count:
        sample = render_sample(seed)
        seed += 1
        if sample.text.strip():
            images.append(sample.image)
    return images


def _sroie(folder: Path, limit: int | None, seed: int) -> list[np.ndarray]:
    from ocr.recognition.crops import sroie_word_crops

    crops = sroie_word_crops(folder)
    random.Random(seed).shuffle(crops)  # noqa: S311  a sample, not a secret
    return [to_gray(crop.image) for crop in crops[:limit]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.orientation.evaluate", description=__doc__)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--synthetic", type=int, default=1000, help="held-out synthetic words")
    parser.add_argument("--sroie", type=Path, help="SROIE receipts: their word crops")
    parser.add_argument("--limit", type=int, default=1000, help="real crops at most")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    classifier = OrientationClassifier(args.weights)
    results = {}
    if args.synthetic:
        results["synthetic"] = measure(
            classifier, _synthetic(args.synthetic), threshold=args.threshold
        )
    if args.sroie:
        results["sroie_words"] = measure(
            classifier, _sroie(args.sroie, args.limit, args.seed), threshold=args.threshold
        )
    for name, result in results.items():
        logger.info("%s: %s", name, result)
    print(json.dumps({"threshold": args.threshold, **results}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
