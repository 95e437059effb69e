"""The OCR pipeline's steps: read a donation's page into word crops, prefill them and open
their tasks; read a ready page again with a newer reader (recut); the stalled sweep.

A donation's crops are the words of its page reading (``ocr.page.read_page``: detection,
reading, the accept / reject / combine / split decisions, lines): rejected regions make
no crop and are counted on the donation, and a page makes at most
``OCR_MAX_CROPS_PER_PAGE`` crops (the most confident words). The page reading itself is
stored encrypted under the donation's key, like its images: it is the page's text.

Workers decrypt into memory only; nothing plain touches the disk (invariant 1).
Each step is safe to run twice: state lives in the donation's row, read under its lock.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

import audit
from annotations import blobs
from annotations.models import Donation, DonationStatus, WordCrop
from annotations.services.donations import (
    Prefill,
    donation_fail,
    donation_finish_prefill,
    donation_start_processing,
)
from ocr_bridge import weights
from ocr_bridge.engines import CrnnEngine, OcrEngine, Recognition, get_engine

if TYPE_CHECKING:
    from ocr.orientation.predictor import OrientationClassifier
    from ocr.page import PageReading, WordReading


logger = logging.getLogger(__name__)

RECOGNITION_BATCH = 64
# Readings less sure than this are checked for a turned crop (see recognize_upright).
ORIENTATION_CHECK_BELOW = 0.5
PREFILL_MAX_CHARS = 200  # WordCrop.prefill_text's length


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


# --- Reading a page ---------------------------------------------------------------------


def page_read(image: np.ndarray, *, engine: CrnnEngine) -> PageReading:
    """The page read end to end with the engine's recognizer (``ocr.page.read_page``)."""
    from ocr.page import read_page

    with engine.lock:
        return read_page(image, predictor=engine.predictor)


def reading_name(donation_id: object, reading: PageReading) -> str:
    """Where a page reading is stored: named by the reader's versions, so that a recut's
    reading never overwrites the one the donation's rows still point at."""
    return f"donations/{donation_id}/reading-{reading_tag(reading)}.json.enc"


def reading_tag(reading: PageReading) -> str:
    versions = f"{reading.detector_version}\n{reading.recognizer_version}"
    return hashlib.sha256(versions.encode()).hexdigest()[:10]


def words_within_cap(words: Sequence[WordReading], cap: int) -> list[WordReading]:
    """The words a page makes crops of: all of them, or the ``cap`` most confident (ties:
    the earlier word), in reading order."""
    if len(words) <= cap:
        return list(words)
    ranked = sorted(range(len(words)), key=lambda i: (-words[i].confidence, i))[:cap]
    return [words[i] for i in sorted(ranked)]


@dataclass(frozen=True)
class _Box:
    x: int
    y: int
    width: int
    height: int


def _clamped(box, width: int, height: int) -> _Box | None:
    """The box inside the page, or None if nothing of it is."""
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    x1 = min(width, int(box.x) + int(box.width))
    y1 = min(height, int(box.y) + int(box.height))
    if x1 <= x0 or y1 <= y0:
        return None
    return _Box(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True)
class WordCut:
    """A word of the reading made into a crop: its box and image, the reading itself."""

    box: _Box
    png: bytes
    word: WordReading


def cut_words(reading: PageReading, words: Iterable[WordReading]) -> list[WordCut]:
    upright = Image.fromarray(reading.image).convert("L")
    cuts = []
    for word in words:
        box = _clamped(word.box, upright.width, upright.height)
        if box is None:
            continue
        pixels = upright.crop((box.x, box.y, box.x + box.width, box.y + box.height))
        cuts.append(WordCut(box=box, png=_png(pixels), word=word))
    return cuts


def crop_row(
    *, donation: Donation, index: int, name: str, cut: WordCut, reading: PageReading, engine, now
) -> WordCrop:
    word = cut.word
    text = word.text[:PREFILL_MAX_CHARS]
    return WordCrop(
        donation=donation,
        index=index,
        line=word.line,
        x=cut.box.x,
        y=cut.box.y,
        width=cut.box.width,
        height=cut.box.height,
        image_name=name,
        decision=word.decision,
        source_boxes=word.source_boxes,
        detector_version=reading.detector_version[:64],
        # The reading that won is the prefill; another engine may read the crop again.
        prefill_text=text,
        prefill_confidence=float(word.confidence),
        prefill_char_confidences=[float(c) for c in word.char_confidences[: len(text)]],
        prefill_engine=engine.name,
        prefill_engine_version=engine.version,
        prefilled_at=now,
    )


def _plain_number(value: object) -> object:
    if hasattr(value, "item"):  # a NumPy scalar
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def reading_bytes(reading: PageReading) -> bytes:
    data = reading.to_json()
    return json.dumps(
        data, ensure_ascii=False, separators=(",", ":"), default=_plain_number
    ).encode()


def _page_pixels(donation: Donation) -> np.ndarray:
    plain = blobs.blob_get(donation=donation, name=donation.image_name)
    with Image.open(io.BytesIO(plain)) as page:
        return np.asarray(page.convert("RGB"))


def read_donation_page(donation: Donation, *, why: str) -> tuple[PageReading, CrnnEngine]:
    # The page reader decides with our recognizer's confidences, whichever engine
    # pre-fills: the active model version's.
    engine = weights.engine_for(weights.active_version())
    with transaction.atomic():
        audit.record(actor=None, action="ocr_bridge.document_read", target=donation, data=why)
    return page_read(_page_pixels(donation), engine=engine), engine


def donation_read_page(*, donation_id: str) -> bool:
    """Reads the donation's page and stores its words as crops, once. Returns whether the
    prefill step should follow."""
    donation = donation_start_processing(donation_id=donation_id)
    if donation is None:
        return False
    if donation.reading_name or donation.crops.exists():
        return True  # an earlier delivery stored the crops; only the prefill is missing
    reading, engine = read_donation_page(donation, why={"why": "read the page"})
    stored = donation_store_reading(donation=donation, reading=reading, engine=engine)
    logger.info(
        "donation %s: %d word crops, %d rejected", donation_id, stored, len(reading.rejected)
    )
    return True


def donation_store_reading(*, donation: Donation, reading: PageReading, engine: OcrEngine) -> int:
    """Stores the reading's words (within the cap) as encrypted crops with their rows, and
    the reading itself encrypted; once. Returns the number of crops the donation has.

    Assumes the donation is ``processing``. Blob names are deterministic, so a retry
    after a crash overwrites the blobs of the attempt that died; the rows and the
    reading's name are written in one transaction under the donation's row lock.
    """
    kept = words_within_cap(reading.words, settings.OCR_MAX_CROPS_PER_PAGE)
    cuts = cut_words(reading, kept)
    data_key = blobs.data_key_for(donation)
    names = [blobs.crop_name(donation.pk, index) for index in range(len(cuts))]
    for name, cut in zip(names, cuts, strict=True):
        blobs.blob_put(donation=donation, name=name, plaintext=cut.png, data_key=data_key)
    page_name = reading_name(donation.pk, reading)
    blobs.blob_put(
        donation=donation, name=page_name, plaintext=reading_bytes(reading), data_key=data_key
    )
    now = timezone.now()
    with transaction.atomic():
        locked = Donation.objects.select_for_update().get(pk=donation.pk)
        if locked.status == DonationStatus.WITHDRAWN:  # withdrawn while we read it
            transaction.on_commit(lambda: delete_blobs([*names, page_name]))
            return 0
        if locked.reading_name or locked.crops.exists():
            return locked.crops.count()
        WordCrop.objects.bulk_create(
            crop_row(
                donation=locked,
                index=index,
                name=name,
                cut=cut,
                reading=reading,
                engine=engine,
                now=now,
            )
            for index, (name, cut) in enumerate(zip(names, cuts, strict=True))
        )
        record_reading(
            locked, reading, page_name=page_name, over_cap=len(reading.words) - len(kept)
        )
    return len(cuts)


def record_reading(donation: Donation, reading: PageReading, *, page_name: str, over_cap: int):
    donation.rotation = reading.rotation
    donation.words_rejected = len(reading.rejected)
    donation.words_over_cap = over_cap
    donation.reading_name = page_name
    donation.save(
        update_fields=["rotation", "words_rejected", "words_over_cap", "reading_name", "updated_at"]
    )
    if donation.words_over_cap:
        logger.warning(
            "donation %s: %d words over the cap of %d crops a page, the least confident left out",
            donation.pk,
            donation.words_over_cap,
            settings.OCR_MAX_CROPS_PER_PAGE,
        )


def delete_blobs(names: Iterable[str]) -> None:
    for name in names:
        blobs.blob_delete(name=name)


# --- Prefilling -------------------------------------------------------------------------


def recognize_upright(
    engine: OcrEngine, orientation: OrientationClassifier | None, images: Sequence[Image.Image]
) -> list[Recognition]:
    """Reads the crops; those it is unsure of, and that the orientation classifier is sure
    are turned, are turned upright and read again, keeping the surer reading.

    Asking the classifier only about unsure readings spares its cost on most crops and
    never turns a crop that already reads well.
    """
    results = engine.recognize(images)
    unsure = [i for i, result in enumerate(results) if result.confidence < ORIENTATION_CHECK_BELOW]
    if orientation is None or not unsure:
        return results
    found = orientation.predict([images[i] for i in unsure])
    turned = [
        (i, orientation_found)
        for i, orientation_found in zip(unsure, found, strict=True)
        if orientation_found.angle
        and orientation_found.confidence >= settings.OCR_ORIENTATION_MIN_CONFIDENCE
    ]
    if not turned:
        return results
    again = engine.recognize([orientation.undo(images[i], how) for i, how in turned])
    for (i, _), result in zip(turned, again, strict=True):
        if result.confidence > results[i].confidence:
            results[i] = result
    return results


def prefill_readers() -> tuple[OcrEngine, OrientationClassifier | None]:
    """The engine that pre-fills (crnn: the active model version's) and the orientation
    classifier that turns crops upright before it reads them."""
    active = weights.active_version()
    if settings.OCR_ENGINE == "crnn":
        engine: OcrEngine = weights.engine_for(active)
    else:
        engine = get_engine(settings.OCR_ENGINE)
    return engine, weights.orientation_for(active)


def _needs_reading(crop: WordCrop, engine: OcrEngine, opened: set[int]) -> bool:
    """A crop without a task whose prefill is not this engine's (crops the page reading
    read carry its prefill; with another engine configured, that engine reads them)."""
    if crop.pk in opened:
        return False
    return (crop.prefill_engine, crop.prefill_engine_version) != (engine.name, engine.version)


def donation_prefill(*, donation_id: str) -> bool:
    """Has the configured engine read the crops the page reading did not already prefill
    for it (their prefill written), then opens the tasks and marks the donation ready."""
    donation = Donation.objects.filter(pk=donation_id, status=DonationStatus.PROCESSING).first()
    if donation is None:
        return False
    crops = list(donation.crops.order_by("index").select_related("task"))
    opened = {crop.pk for crop in crops if hasattr(crop, "task")}
    engine, orientation = prefill_readers()
    unread = [crop for crop in crops if _needs_reading(crop, engine, opened)]
    if unread:
        _read_crops(donation, unread, engine, orientation)
    return donation_finish_prefill(
        donation_id=donation_id,
        prefills=[
            Prefill(
                crop_id=crop.pk,
                text=crop.prefill_text,
                confidence=crop.prefill_confidence or 0.0,
                char_confidences=tuple(crop.prefill_char_confidences),
            )
            for crop in unread
        ],
        engine=engine.name,
        engine_version=engine.version,
    )


def _read_crops(donation: Donation, crops: list[WordCrop], engine, orientation) -> None:
    """Decrypts the crops and reads them with the engine; fills their prefill in memory."""
    data_key = blobs.data_key_for(donation)
    with transaction.atomic():
        audit.record(
            actor=None,
            action="ocr_bridge.crops_read",
            target=donation,
            data={"count": len(crops), "engine": engine.name},
        )
    for start in range(0, len(crops), RECOGNITION_BATCH):
        batch = crops[start : start + RECOGNITION_BATCH]
        images = [
            Image.open(
                io.BytesIO(
                    blobs.blob_get(donation=donation, name=crop.image_name, data_key=data_key)
                )
            )
            for crop in batch
        ]
        for crop, result in zip(batch, recognize_upright(engine, orientation, images), strict=True):
            crop.prefill_text = result.text[:PREFILL_MAX_CHARS]
            crop.prefill_confidence = result.confidence
            crop.prefill_char_confidences = list(result.char_confidences[:PREFILL_MAX_CHARS])


def donation_process(*, donation_id: str) -> bool:
    """The whole pipeline of one donation: its page read into crops (once), then prefilled
    and queued. Returns whether this call made it ready."""
    return donation_read_page(donation_id=donation_id) and donation_prefill(donation_id=donation_id)


# --- The stalled sweep ------------------------------------------------------------------


def stalled_donations_requeue(
    *, older_than_seconds: int, max_attempts: int, processing_older_than_seconds: int | None = None
) -> tuple[list[str], list[str]]:
    """Finds donations the pipeline lost (worker killed, broker down at enqueue).

    ``processing`` ones are lost sooner (``processing_older_than_seconds``: a worker took
    them and died) than ``received`` ones (still waiting in a queue, maybe a long one).
    Returns (ids to hand to the pipeline again, ids marked failed).
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    processing_cutoff = now - timedelta(
        seconds=processing_older_than_seconds
        if processing_older_than_seconds is not None
        else older_than_seconds
    )
    stalled = Donation.objects.filter(
        Q(status=DonationStatus.RECEIVED, updated_at__lt=cutoff)
        | Q(status=DonationStatus.PROCESSING, updated_at__lt=processing_cutoff)
    ).values_list("pk", "pipeline_attempts")
    retry, failed = [], []
    for pk, attempts in stalled:
        if attempts >= max_attempts:
            donation_fail(
                donation_id=pk,
                reason=f"Processing did not finish after {attempts} attempts; gave up.",
            )
            failed.append(str(pk))
        else:
            retry.append(str(pk))
    return retry, failed
