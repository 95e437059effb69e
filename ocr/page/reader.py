"""`read_page`: a page image in, its words out (detected, read, decided, in lines).

1. The page is turned upright (`ocr.page.orientation`) and its words detected
   (`ocr.detector.detect_words` or the detector given).
2. Every detected box is read in one batched predictor call.
3. Each reading's confidence is calibrated (`ocr.page.calibration`) and decided by the
   bands of `ReaderConfig`: at or above `accept` it is kept as read; otherwise the
   transformations are tried (combine with a neighbour, split at ink gaps, read again with
   other padding and contrast; all candidate crops of a page in one more predictor call)
   and the most confident reading wins; what is still below `reject` is noise.
4. The kept words are grouped into lines in reading order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

import ocr.detector as detector_module
from ocr.detection.boxes import to_gray
from ocr.detector import WordBox
from ocr.page.lines import group_lines
from ocr.page.types import PageReading, ReaderConfig, WordReading

Detector = Callable[[np.ndarray], list[WordBox]]
DEFAULT_CONFIG = ReaderConfig()


@functools.cache
def default_predictor():
    """The shipped recognizer (weights and lexicon), loaded once per process."""
    from ocr.recognition.predictor import Predictor

    return Predictor(threads=1)


def recognizer_version(predictor) -> str:
    return f"crnn/{predictor.weights_sha256[:12]}"


def detector_version(detector: Detector | str | None) -> str:
    if detector is None:
        return str(getattr(detector_module, "DETECTOR_VERSION", "mser"))
    if isinstance(detector, str):
        return detector
    return str(getattr(detector, "version", getattr(detector, "__name__", "custom")))


def resolve_detector(detector: Detector | str | None) -> Detector:
    if detector is None:
        return detector_module.detect_words
    if isinstance(detector, str):
        registry = getattr(detector_module, "DETECTORS", {"mser": detector_module.detect_words})
        try:
            return registry[detector]
        except KeyError:
            known = ", ".join(sorted(registry))
            raise ValueError(f"unknown detector {detector!r}; known: {known}") from None
    return detector


@dataclass(frozen=True)
class _Read:
    """A candidate word before it is placed in lines."""

    box: WordBox
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    decision: str
    source_boxes: int = 1


def read_page(
    image: np.ndarray,
    *,
    predictor=None,
    config: ReaderConfig | None = None,
    detector: Detector | str | None = None,
) -> PageReading:
    """The page's words, decided and in reading order (see the module's docstring)."""
    config = config or DEFAULT_CONFIG
    predictor = predictor or default_predictor()
    detect = resolve_detector(detector)
    rotation = 0
    if config.orientation:
        from ocr.page.orientation import upright

        image, rotation, boxes = upright(image, detect=detect)
    else:
        boxes = list(detect(image))
    gray = to_gray(image)
    kept, rejected = decide(gray, boxes, predictor, config)
    return assemble(
        kept,
        rejected,
        image=image,
        rotation=rotation,
        detector_version=detector_version(detector),
        recognizer_version=recognizer_version(predictor),
    )


def read_boxes(
    gray: np.ndarray, boxes: Sequence[WordBox], predictor, config: ReaderConfig
) -> list[_Read]:
    """The first reading of every box, in one predictor call, confidences calibrated."""
    crops = [crop(gray, box) for box in boxes]
    decoded = predictor.predict(crops) if crops else []
    return [
        _Read(
            box=box,
            text=d.text,
            confidence=calibrated(d, config),
            char_confidences=char_calibrated(d, config),
            decision="accepted",
        )
        for box, d in zip(boxes, decoded, strict=True)
    ]


def decide(
    gray: np.ndarray, boxes: Sequence[WordBox], predictor, config: ReaderConfig
) -> tuple[list[_Read], list[_Read]]:
    """Kept and rejected words of a page's detected boxes."""
    first = read_boxes(gray, boxes, predictor, config)
    from ocr.page.transform import improve, split_spaced

    chosen = [
        word
        for reading in improve(gray, first, predictor, config)
        for word in split_spaced(reading, gray)
    ]
    confident = [r for r in chosen if r.text and r.confidence >= config.reject]
    kept = [r for r in confident if not lone_mark(r.text)]
    if config.colons:
        from ocr.page.marks import COLON_CONFIDENCE, colons

        # A lone mark's ink is no gap: colons are looked for between all confident boxes.
        boxes = [r.box for r in confident]
        kept += [
            _Read(
                box=box,
                text=":",
                confidence=COLON_CONFIDENCE,
                char_confidences=(COLON_CONFIDENCE,),
                decision="accepted",
                source_boxes=0,
            )
            for box in colons(gray, boxes, group_lines(boxes))
        ]
    rejected = [
        replace(r, decision="rejected")
        for r in chosen
        if not r.text or r.confidence < config.reject or lone_mark(r.text)
    ]
    return kept, rejected


# One character alone that is not a word on a page: a bracket (what it encloses is read
# with it; alone it is a letter's curve cut off, "(" of "GST" read "(ST") or a thin
# stroke (a cut letter's stem, a rule, a "|" read I, l or i). Figures: ADR 0011.
_LONE_MARKS = frozenset("()[]{}Ili")


def lone_mark(text: str) -> bool:
    """Whether a reading is a bracket or a thin stroke alone (`_LONE_MARKS`): noise."""
    return len(text) == 1 and text in _LONE_MARKS


def calibrated(decoded, config: ReaderConfig) -> float:
    if not config.calibrate:
        return float(decoded.confidence)
    from ocr.page.calibration import default_calibration

    return default_calibration().word(decoded)


def char_calibrated(decoded, config: ReaderConfig) -> tuple[float, ...]:
    if not config.calibrate:
        return tuple(float(c) for c in decoded.char_confidences)
    from ocr.page.calibration import default_calibration

    return default_calibration().chars(decoded)


def crop(gray: np.ndarray, box: WordBox, *, pad: float = 0.0) -> np.ndarray:
    """The box's pixels, grown by `pad` × its height on every side, clipped to the page."""
    grow = round(pad * box.height)
    height, width = gray.shape
    top, left = max(0, box.y - grow), max(0, box.x - grow)
    bottom, right = min(height, box.bottom + grow), min(width, box.right + grow)
    return gray[top:bottom, left:right]


def assemble(
    kept: Sequence[_Read],
    rejected: Sequence[_Read],
    *,
    image: np.ndarray,
    rotation: int,
    detector_version: str,
    recognizer_version: str,
) -> PageReading:
    lines = group_lines([r.box for r in kept])
    words: list[WordReading] = []
    line_indexes: list[tuple[int, ...]] = []
    for line_number, line in enumerate(lines):
        indexes = []
        for i in line:
            r = kept[i]
            indexes.append(len(words))
            words.append(
                WordReading(
                    box=r.box,
                    text=r.text,
                    confidence=r.confidence,
                    char_confidences=r.char_confidences,
                    decision=r.decision,
                    source_boxes=r.source_boxes,
                    line=line_number,
                    order=len(words),
                )
            )
        line_indexes.append(tuple(indexes))
    rejected_words = tuple(
        WordReading(
            box=r.box,
            text=r.text,
            confidence=r.confidence,
            char_confidences=r.char_confidences,
            decision="rejected",
            source_boxes=r.source_boxes,
            line=-1,
            order=order,
        )
        for order, r in enumerate(rejected)
    )
    return PageReading(
        rotation=rotation,
        image=image,
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        words=tuple(words),
        rejected=rejected_words,
        lines=tuple(line_indexes),
        detector_version=detector_version,
        recognizer_version=recognizer_version,
    )
