"""Word crops with their true text, cut from the development data's real scans.

SROIE receipts: a segment whose transcript has no space is one word, and its quad's
axis-aligned rectangle is the crop. FUNSD forms: every word box with text. Only read
from the data folder; the crops are never written into the repository.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image


@dataclass(frozen=True)
class LabelledCrop:
    """One real word crop, its transcript and where it came from (page name)."""

    image: Image.Image
    text: str
    source: str


def _sroie_words(path: Path) -> Iterator[tuple[str, tuple[int, int, int, int]]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 9:
                continue
            text = ",".join(row[8:]).strip()
            if not text or " " in text:
                continue
            try:
                xs = [int(float(v)) for v in row[0:8:2]]
                ys = [int(float(v)) for v in row[1:8:2]]
            except ValueError:
                continue
            yield text, (min(xs), min(ys), max(xs) + 1, max(ys) + 1)


def _funsd_words(path: Path) -> Iterator[tuple[str, tuple[int, int, int, int]]]:
    for entity in json.loads(path.read_text(encoding="utf-8")).get("form", []):
        for word in entity.get("words", []):
            text = str(word.get("text", "")).strip()
            x0, y0, x1, y1 = (int(v) for v in word["box"])
            if text and x1 > x0 and y1 > y0:
                yield text, (x0, y0, x1, y1)


def _cut(pages: list[tuple[Path, Path]], words, limit: int | None) -> list[LabelledCrop]:
    crops: list[LabelledCrop] = []
    for image_path, truth_path in pages:
        with Image.open(image_path) as page:
            gray = page.convert("L")
        for text, (left, top, right, bottom) in words(truth_path):
            box = (max(0, left), max(0, top), min(gray.width, right), min(gray.height, bottom))
            if box[2] - box[0] < 2 or box[3] - box[1] < 4:
                continue
            crops.append(LabelledCrop(image=gray.crop(box), text=text, source=image_path.name))
            if limit is not None and len(crops) >= limit:
                return crops
    return crops


def sroie_word_crops(folder: Path, *, limit: int | None = None) -> list[LabelledCrop]:
    """Single-token segments of the SROIE receipts in `folder`, pages in name order."""
    pages = [
        (image, image.with_name(image.stem + ".box.csv"))
        for image in sorted(folder.glob("*.jpg"))
        if image.with_name(image.stem + ".box.csv").is_file()
    ]
    return _cut(pages, _sroie_words, limit)


def funsd_word_crops(folder: Path, *, limit: int | None = None) -> list[LabelledCrop]:
    """Word boxes of the FUNSD forms in `folder`, pages in name order."""
    pages = [
        (image, image.with_suffix(".json"))
        for image in sorted(folder.glob("*.png"))
        if image.with_suffix(".json").is_file()
    ]
    return _cut(pages, _funsd_words, limit)
