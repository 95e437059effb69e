"""Tesseract 5, in-process through tesserocr: the crop reader (one line per crop, psm 7)
that prefills crops when settings name it, and full-page OCR (psm 3), the baseline that
`python -m ocr.evaluate pages --engine tesseract` measures our page reader against.

Django-free, like the rest of `ocr/`; `ocr_bridge.engines` re-exports the crop engine
under its old names. OpenMP threads are limited to one before the library loads
(OCR-FACTS: more threads do not help Tesseract and fight the other processes).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recognition:
    """What an engine read in one crop, with how sure it was."""

    text: str
    confidence: float  # word confidence in [0, 1]
    char_confidences: tuple[float, ...]  # one per character of text, each in [0, 1]


EMPTY = Recognition(text="", confidence=0.0, char_confidences=())


# --------------------------------------------------------------------------- word crops

# Tesseract reads small print badly: crops lower than this are scaled up (OCR-FACTS:
# form words 53% -> 75% exact) and framed in white, as its layout analysis expects margins.
MIN_CROP_HEIGHT = 48
BORDER = 10
# A crop whose darkest and lightest pixels differ by less than this holds no print.
_BLANK_CONTRAST = 16
_LIST_LANGS = re.compile(r'List of available languages in "(?P<dir>[^"]+)"')


def find_tessdata_dir() -> str | None:
    """Where Tesseract's language files are: $TESSDATA_PREFIX, else what the CLI reports.

    The tesserocr wheel bundles its own libtesseract, whose compiled-in data path does
    not point at the system's language files, so it must be told where they are.
    """
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        return prefix
    executable = shutil.which("tesseract")
    if executable is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603  fixed arguments, executable found on PATH
            [executable, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        logger.warning("could not run %s --list-langs", executable, exc_info=True)
        return None
    match = _LIST_LANGS.search(result.stdout + result.stderr)
    if match is None:
        return None
    return match.group("dir").rstrip("/\\") or None


def _import_tesserocr() -> ModuleType:
    # OpenMP reads its thread limit when the library loads; more threads only slow
    # Tesseract down on word crops (OCR-FACTS) and fight the Celery worker's processes.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    import tesserocr

    return tesserocr


def _tesseract_version(tesserocr: ModuleType) -> str:
    first_line = tesserocr.tesseract_version().splitlines()[0]
    match = re.search(r"tesseract\s+(\S+)", first_line)
    return match.group(1) if match else first_line.strip()


def prepare_crop(crop: Image.Image) -> Image.Image | None:
    """The crop as Tesseract reads it best: dark on white, ≥ 48 px high, white margin.

    None when the crop is blank, so that no time is spent reading nothing.
    """
    if crop.mode in ("RGBA", "LA", "PA") or (crop.mode == "P" and "transparency" in crop.info):
        rgba = crop.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        crop = Image.alpha_composite(white, rgba)
    gray = crop.convert("L")
    if gray.width == 0 or gray.height == 0:
        return None
    pixels = np.asarray(gray)
    if int(pixels.max()) - int(pixels.min()) < _BLANK_CONTRAST:
        return None
    # Light print on a dark band: the white frame added below would otherwise be the
    # darkest-contrast edge in the picture.
    edge = np.concatenate((pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]))
    if float(np.median(edge)) < 128:
        gray = ImageOps.invert(gray)
    if gray.height < MIN_CROP_HEIGHT:
        scale = MIN_CROP_HEIGHT / gray.height
        gray = gray.resize(
            (max(1, round(gray.width * scale)), MIN_CROP_HEIGHT), Image.Resampling.LANCZOS
        )
    return ImageOps.expand(gray, border=BORDER, fill=255)


class TesseractEngine:
    """Tesseract 5 in-process through tesserocr, one line per crop (psm 7).

    The C API object is not thread-safe, so each thread gets its own, created on first
    use; an engine instance can therefore be shared across a worker's threads.
    """

    name = "tesseract"

    def __init__(self, *, lang: str = "eng", tessdata_dir: str | None = None) -> None:
        self._tesserocr = _import_tesserocr()
        self.lang = lang
        self.tessdata_dir = tessdata_dir if tessdata_dir is not None else find_tessdata_dir()
        self.version = f"{_tesseract_version(self._tesserocr)}/{lang}"
        self._local = threading.local()
        self._api()  # fail here, not on the first crop, when the language is missing

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            tesserocr = self._tesserocr
            kwargs: dict[str, Any] = {"lang": self.lang, "psm": tesserocr.PSM.SINGLE_LINE}
            if self.tessdata_dir is not None:
                kwargs["path"] = self.tessdata_dir.rstrip("/\\") + os.sep
            try:
                api = tesserocr.PyTessBaseAPI(**kwargs)
            except RuntimeError as error:
                raise RuntimeError(
                    f"Tesseract could not load language {self.lang!r} from "
                    f"{self.tessdata_dir or 'its default path'}; install its traineddata or "
                    "set TESSDATA_PREFIX to the tessdata folder"
                ) from error
            self._local.api = api
        return api

    def recognize(self, crops: Sequence[Image.Image]) -> list[Recognition]:
        api = self._api()
        return [self._read(api, crop) for crop in crops]

    def _read(self, api: Any, crop: Image.Image) -> Recognition:
        prepared = prepare_crop(crop)
        if prepared is None:
            return EMPTY
        api.SetImage(prepared)
        api.Recognize()
        words = self._symbols_by_word(api)
        word_confidences = [c for c in api.AllWordConfidences() if c >= 0]
        api.Clear()
        return _assemble(words, word_confidences)

    def _symbols_by_word(self, api: Any) -> list[list[tuple[str, float]]]:
        """Each word's symbols with their confidences, from Tesseract's result iterator."""
        ril = self._tesserocr.RIL
        iterator = api.GetIterator()
        words: list[list[tuple[str, float]]] = []
        if iterator is None:
            return words
        iterator.Begin()
        while True:
            try:
                symbol = iterator.GetUTF8Text(ril.SYMBOL)
            except RuntimeError:  # tesserocr raises on a symbol without text
                symbol = None
            if symbol:
                if iterator.IsAtBeginningOf(ril.WORD) or not words:
                    words.append([])
                confidence = min(1.0, max(0.0, iterator.Confidence(ril.SYMBOL) / 100.0))
                words[-1].extend((char, confidence) for char in symbol if not char.isspace())
            if not iterator.Next(ril.SYMBOL):
                break
        return [word for word in words if word]


def _assemble(
    words: list[list[tuple[str, float]]], word_confidences: Sequence[float]
) -> Recognition:
    """Joins words with single spaces; a space's confidence is its neighbours' mean."""
    if not words:
        return EMPTY
    text: list[str] = []
    confidences: list[float] = []
    for word in words:
        if text:
            text.append(" ")
            confidences.append((confidences[-1] + word[0][1]) / 2)
        for char, confidence in word:
            text.append(char)
            confidences.append(confidence)
    if word_confidences:
        confidence = float(np.mean(word_confidences)) / 100.0
    else:
        confidence = float(np.mean(confidences))
    return Recognition(
        text="".join(text),
        confidence=min(1.0, max(0.0, confidence)),
        char_confidences=tuple(confidences),
    )


# ---------------------------------------------------------------------------- full page


@dataclass(frozen=True)
class PageWord:
    """A word Tesseract found on a page: its box (x, y, width, height), text, confidence."""

    box: tuple[int, int, int, int]
    text: str
    confidence: float


class TesseractPage:
    """Tesseract's own full-page OCR (layout analysis and all, psm 3), one thread.

    Not thread-safe: one instance per thread.
    """

    name = "tesseract"

    def __init__(self, *, lang: str = "eng", tessdata_dir: str | None = None) -> None:
        self._tesserocr = _import_tesserocr()
        self.lang = lang
        self.tessdata_dir = tessdata_dir if tessdata_dir is not None else find_tessdata_dir()
        self.version = f"{_tesseract_version(self._tesserocr)}/{lang}"
        kwargs: dict[str, Any] = {"lang": lang, "psm": self._tesserocr.PSM.AUTO}
        if self.tessdata_dir is not None:
            kwargs["path"] = self.tessdata_dir.rstrip("/\\") + os.sep
        self._api = self._tesserocr.PyTessBaseAPI(**kwargs)

    def read(self, image: np.ndarray | Image.Image) -> list[PageWord]:
        """The page's words in Tesseract's reading order."""
        picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
        api = self._api
        api.SetImage(picture)
        api.Recognize()
        words: list[PageWord] = []
        iterator = api.GetIterator()
        level = self._tesserocr.RIL.WORD
        if iterator is not None:
            iterator.Begin()
            while True:
                try:
                    text = iterator.GetUTF8Text(level)
                except RuntimeError:  # an empty word
                    text = None
                if text and text.strip():
                    x0, y0, x1, y1 = iterator.BoundingBox(level)
                    words.append(
                        PageWord(
                            box=(x0, y0, x1 - x0, y1 - y0),
                            text=text.strip(),
                            confidence=min(1.0, max(0.0, iterator.Confidence(level) / 100.0)),
                        )
                    )
                if not iterator.Next(level):
                    break
        api.Clear()
        return words

    def text(self, image: np.ndarray | Image.Image) -> str:
        return " ".join(word.text for word in self.read(image))
