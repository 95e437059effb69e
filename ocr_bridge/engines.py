"""OCR engines that prefill word crops, behind one small interface.

Django-free on purpose: the engines are unit-tested and benchmarked alone, and the
pipeline (`ocr_bridge.services`) picks one by name from settings. Each prefill is stored
with the engine's name and version so that a reviewer can tell which reader guessed it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from PIL import Image

# The Tesseract adapter lives in ocr.tesseract (Django-free, beside its full-page OCR);
# its names stay importable from here.
from ocr.tesseract import (  # noqa: F401
    BORDER,
    EMPTY,
    MIN_CROP_HEIGHT,
    Recognition,
    TesseractEngine,
    _assemble,
    find_tessdata_dir,
    prepare_crop,
)

logger = logging.getLogger(__name__)


class OcrEngine(Protocol):
    """Reads single-line word crops; implementations must keep the batch's order."""

    name: str  # e.g. "tesseract"
    version: str  # e.g. "5.5.4/eng": what produced a prefill, recorded with it

    def recognize(self, crops: Sequence[Image.Image]) -> list[Recognition]: ...


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

    @property
    def predictor(self):
        """The predictor itself, for readers that batch on their own (``ocr.page``);
        hold ``lock`` while using it."""
        return self._predictor

    @property
    def lock(self) -> threading.Lock:
        return self._lock

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
