"""Read a page image: `python -m ocr.read IMAGE [--json]`.

Prints the page's text (lines of words), or with --json the page reading
(`ocr.page.PageReading.to_json`: lines of words with boxes, confidences, per-character
confidences and the decision taken for each; rejected regions beside).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.read", description=__doc__)
    parser.add_argument("image", type=Path, help="a page image (JPEG, PNG, ...)")
    parser.add_argument("--json", action="store_true", help="the page reading as JSON")
    parser.add_argument("--weights", type=Path, default=None, help="recognizer weights file")
    parser.add_argument("--detector", default=None, help="a name of ocr.detector.DETECTORS")
    args = parser.parse_args(argv)
    from ocr.page import read_page

    with Image.open(args.image) as image:
        # A camera's EXIF orientation is honoured; pages turned without it are found by
        # the reader itself.
        pixels = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    predictor = None
    if args.weights is not None:
        from ocr.recognition.predictor import Predictor

        predictor = Predictor(args.weights)
    reading = read_page(pixels, predictor=predictor, detector=args.detector)
    if args.json:
        sys.stdout.write(json.dumps(reading.to_json(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(reading.text() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
