"""OCR engines that prefill word crops, behind one small interface.

Django-free on purpose: the engines are unit-tested and benchmarked alone, and the
pipeline (`ocr_bridge.services`) picks one by name from settings. Each prefill is stored
with the engine's name and version so that a reviewer can tell which reader guessed it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

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


class OcrEngine(Protocol):
    """Reads single-line word crops; implementations must keep the batch's order."""

    name: str  # e.g. "tesseract"
    version: str  # e.g. "5.5.4/eng": what produced a prefill, recorded with it

    def recognize(self, crops: Sequence[Image.Image]) -> list[Recognition]: ...


# ------------------------------------------------------------------------------ tesseract

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


# ----------------------------------------------------------------------------------- crnn


class CrnnEngine:
    """Our CNN → BiLSTM → CTC word recognizer (`ocr.recognition`), batched on the CPU.

    The version names the weights file by the start of its SHA-256, so a prefill says
    exactly which model made it; the registry passes its own (`name/sha`) for weights it
    decrypted into memory (`ocr_bridge.weights`). One thread by default: Celery runs one
    worker process per core, and more threads per process would only fight over the
    same cores.
    """

    name = "crnn"

    def __init__(
        self, *, weights: Path | bytes | None = None, threads: int = 1, version: str = ""
    ) -> None:
        # Imported here so that a process reading with Tesseract never loads torch.
        from ocr.recognition.predictor import DEFAULT_WEIGHTS, Predictor

        self._predictor = Predictor(
            weights if weights is not None else DEFAULT_WEIGHTS, threads=threads
        )
        self.version = version or f"synth-1/{self._predictor.weights_sha256[:12]}"
        self._lock = threading.Lock()  # one batch at a time: torch's thread count is global

    def recognize(self, crops: Sequence[Image.Image]) -> list[Recognition]:
        if not crops:
            return []
        with self._lock:
            decoded = self._predictor.predict(crops)
        return [
            Recognition(text=d.text, confidence=d.confidence, char_confidences=d.char_confidences)
            if d.text
            else EMPTY
            for d in decoded
        ]


# ------------------------------------------------------------------------------ registry

ENGINE_FACTORIES: dict[str, Callable[[], OcrEngine]] = {
    "tesseract": TesseractEngine,
    "crnn": CrnnEngine,
}
_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


def get_engine(name: str) -> OcrEngine:
    """The process's engine of that name, created once (loading a model is slow)."""
    try:
        factory = ENGINE_FACTORIES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINE_FACTORIES))
        raise ValueError(f"unknown OCR engine {name!r}; known engines: {known}") from None
    with _engines_lock:
        engine = _engines.get(name)
        if engine is None:
            engine = factory()
            _engines[name] = engine
            logger.info("OCR engine %s %s ready", engine.name, engine.version)
        return engine
