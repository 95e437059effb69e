"""The OCR engine interface, and Tesseract as the outside reference engine.

Django-free, so it can be tested alone; ``ocr_bridge.services`` picks the engine named by
``settings.OCR_ENGINE``. An engine takes a batch of word crops and returns, per crop, the
text, a word confidence and one confidence per character, all in [0, 1].
"""

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from PIL import Image, ImageOps

# Tesseract's OpenMP threads only slow it down on small crops (OCR-FACTS.md).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import tesserocr


@dataclass(frozen=True)
class Recognition:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]


class OcrEngine(Protocol):
    name: str
    version: str

    def recognize(self, crops: Sequence[Image.Image]) -> list[Recognition]: ...


def find_tessdata_dir() -> str | None:
    """TESSDATA_PREFIX, else the folder the installed ``tesseract`` reports."""
    if os.environ.get("TESSDATA_PREFIX"):
        return os.environ["TESSDATA_PREFIX"]
    binary = shutil.which("tesseract")
    if binary is None:
        return None
    listing = subprocess.run(  # noqa: S603  the installed tesseract, fixed arguments
        [binary, "--list-langs"], capture_output=True, text=True, check=False, timeout=20
    )
    match = re.search(r'List of available languages in "([^"]+)"', listing.stdout + listing.stderr)
    return match.group(1) if match else None


class TesseractEngine:
    """Tesseract through its C API (tesserocr), one line per crop (PSM 7).

    Crops are upscaled to at least 48 px high and padded white: Tesseract reads small
    crops far better that way (OCR-FACTS.md). One API handle per thread, because a
    handle is not thread-safe.
    """

    name = "tesseract"
    MIN_HEIGHT = 48
    PADDING = 10

    def __init__(self, *, lang: str = "eng", tessdata_dir: str | None = None) -> None:
        self.lang = lang
        self.tessdata_dir = tessdata_dir or find_tessdata_dir()
        if self.tessdata_dir is None:
            raise RuntimeError(
                "Tesseract's trained data was not found: install tesseract-ocr-eng "
                "(make system-deps) or set TESSDATA_PREFIX"
            )
        release = tesserocr.tesseract_version().split()[1]
        self.version = f"{release}/{lang}"
        self._local = threading.local()

    def _api(self) -> "tesserocr.PyTessBaseAPI":
        api = getattr(self._local, "api", None)
        if api is None:
            api = tesserocr.PyTessBaseAPI(
                path=self.tessdata_dir.rstrip("/") + "/",
                lang=self.lang,
                psm=tesserocr.PSM.SINGLE_LINE,
            )
            self._local.api = api
        return api

    def _prepare(self, crop: Image.Image) -> Image.Image:
        gray = crop.convert("L")
        if gray.height < self.MIN_HEIGHT:
            scale = self.MIN_HEIGHT / max(gray.height, 1)
            gray = gray.resize(
                (max(1, round(gray.width * scale)), self.MIN_HEIGHT), Image.Resampling.LANCZOS
            )
        return ImageOps.expand(gray, border=self.PADDING, fill=255)

    def _recognize_one(self, crop: Image.Image) -> Recognition:
        api = self._api()
        api.SetImage(self._prepare(crop))
        api.Recognize()
        words: list[list[tuple[str, float]]] = []
        word_confidences: list[float] = []
        iterator = api.GetIterator()
        level = tesserocr.RIL.SYMBOL
        current: list[tuple[str, float]] = []
        if iterator is not None:
            while True:
                if iterator.IsAtBeginningOf(tesserocr.RIL.WORD) and current:
                    words.append(current)
                    current = []
                if iterator.IsAtBeginningOf(tesserocr.RIL.WORD):
                    word_confidences.append(iterator.Confidence(tesserocr.RIL.WORD) / 100)
                try:
                    symbol = iterator.GetUTF8Text(level)
                except RuntimeError:  # tesserocr raises on a symbol with no text
                    symbol = ""
                if symbol:
                    confidence = min(max(iterator.Confidence(level) / 100, 0.0), 1.0)
                    current.extend((char, confidence) for char in symbol)
                if not iterator.Next(level):
                    break
        if current:
            words.append(current)
        words = [word for word in words if "".join(c for c, _ in word).strip()]
        if not words:
            return Recognition("", 0.0, ())
        chars: list[tuple[str, float]] = []
        for index, word in enumerate(words):
            if index:
                # A space between words gets the mean of its neighbours' confidences.
                chars.append((" ", (chars[-1][1] + word[0][1]) / 2))
            chars.extend(word)
        text = "".join(char for char, _ in chars)
        confidence = sum(word_confidences) / len(word_confidences) if word_confidences else 0.0
        return Recognition(
            text=text,
            confidence=min(max(confidence, 0.0), 1.0),
            char_confidences=tuple(conf for _, conf in chars),
        )

    def recognize(self, crops: Sequence[Image.Image]) -> list[Recognition]:
        return [self._recognize_one(crop) for crop in crops]


ENGINES: dict[str, Callable[[], OcrEngine]] = {"tesseract": TesseractEngine}


@cache
def get_engine(name: str) -> OcrEngine:
    """The process's engine of that name (created once; engines are thread-safe)."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise ValueError(
            f"Unknown OCR engine {name!r}; known engines: {', '.join(sorted(ENGINES))}"
        ) from None
    return factory()
