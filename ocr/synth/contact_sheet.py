"""Renders a grid of synthetic crops with their labels, so a person can look at the data.

python -m ocr.synth.contact_sheet --out docs/synthetic-contact-sheet.png
python -m ocr.synth.contact_sheet --small-print-share 1 --out docs/synthetic-small-print.png
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ocr.synth.fonts import font_catalogue, load_font
from ocr.synth.render import render_sample, small_print_for

logger = logging.getLogger(__name__)

_TILE_WIDTH, _CROP_HEIGHT, _LABEL_HEIGHT = 240, 40, 18


def contact_sheet(
    *, count: int = 96, columns: int = 4, seed: int = 0, small_print_share: float = 0.0
) -> Image.Image:
    """`count` samples from seed `seed` on, each scaled to a fixed height (with nearest
    neighbours, so that small type shows its pixels), label below; `small_print_share` of
    them as the second training stage shrinks them."""
    rows = -(-count // columns)
    tile_height = _CROP_HEIGHT + _LABEL_HEIGHT + 6
    sheet = Image.new("RGB", (columns * _TILE_WIDTH, rows * tile_height), "white")
    draw = ImageDraw.Draw(sheet)
    sans = [c for c in font_catalogue() if c.path.stem.startswith("DejaVuSans")]
    label_font = load_font((sans or list(font_catalogue()))[0].path, 13)
    for index in range(count):
        sample = render_sample(seed + index)
        crop = Image.fromarray(small_print_for(seed + index, sample.image, small_print_share))
        scale = _CROP_HEIGHT / crop.height
        width = min(_TILE_WIDTH - 8, max(1, round(crop.width * scale)))
        crop = crop.resize((width, _CROP_HEIGHT), Image.Resampling.NEAREST)
        x = (index % columns) * _TILE_WIDTH + 4
        y = (index // columns) * tile_height + 2
        sheet.paste(crop.convert("RGB"), (x, y))
        label = repr(sample.text) if sample.text else "(empty: negative)"
        draw.text((x, y + _CROP_HEIGHT + 2), label, font=label_font, fill=(200, 0, 0))
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocr.synth.contact_sheet", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/synthetic-contact-sheet.png"))
    parser.add_argument("--count", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small-print-share", type=float, default=0.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sheet = contact_sheet(
        count=args.count, seed=args.seed, small_print_share=args.small_print_share
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    logger.info("wrote %s (%d samples, mean gray %.0f)", args.out, args.count, np.mean(sheet))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
