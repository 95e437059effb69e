"""The OCR pipeline's steps: detect words in a donation, then prefill its crops.

Workers decrypt into memory only; nothing plain touches the disk (invariant 1).
Each step is safe to run twice: state lives in the donation's row, read under its lock.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from PIL import Image

import audit
from annotations import blobs
from annotations.models import Donation, DonationStatus
from annotations.services import (
    CropInput,
    Prefill,
    donation_fail,
    donation_finish_prefill,
    donation_start_processing,
    donation_store_crops,
)
from ocr.detector import detect_words
from ocr_bridge import weights
from ocr_bridge.engines import OcrEngine, Recognition, get_engine

if TYPE_CHECKING:
    from ocr.orientation.predictor import OrientationClassifier


logger = logging.getLogger(__name__)

RECOGNITION_BATCH = 64
# Readings less sure than this are checked for a turned crop (see recognize_upright).
ORIENTATION_CHECK_BELOW = 0.5


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def donation_detect_words(*, donation_id: str) -> bool:
    """Cuts the donation into word crops. Returns whether the prefill step should follow."""
    donation = donation_start_processing(donation_id=donation_id)
    if donation is None:
        return False
    if donation.crops.exists():
        return True  # an earlier delivery stored the crops; only the prefill is missing
    with transaction.atomic():
        audit.record(actor=None, action="ocr_bridge.document_read", target=donation)
    page = Image.open(io.BytesIO(blobs.blob_get(donation=donation, name=donation.image_name)))
    page.load()
    gray = page.convert("L")
    boxes = detect_words(np.asarray(gray))
    crops = [
        CropInput(
            x=box.x,
            y=box.y,
            width=box.width,
            height=box.height,
            png=_png(gray.crop((box.x, box.y, box.x + box.width, box.y + box.height))),
        )
        for box in boxes
    ]
    stored = donation_store_crops(donation=donation, crops=crops)
    logger.info("donation %s: %d word crops", donation_id, stored)
    return True


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


def donation_prefill(*, donation_id: str) -> bool:
    """Runs the configured OCR engine over every crop and marks the donation ready."""
    donation = Donation.objects.filter(pk=donation_id, status=DonationStatus.PROCESSING).first()
    if donation is None:
        return False
    crops = list(donation.crops.order_by("index"))
    engine, orientation = prefill_readers()
    data_key = blobs.data_key_for(donation)
    with transaction.atomic():
        audit.record(
            actor=None,
            action="ocr_bridge.crops_read",
            target=donation,
            data={"count": len(crops), "engine": engine.name},
        )
    prefills: list[Prefill] = []
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
        results = recognize_upright(engine, orientation, images)
        for crop, result in zip(batch, results, strict=True):
            prefills.append(
                Prefill(
                    crop_id=crop.pk,
                    text=result.text,
                    confidence=result.confidence,
                    char_confidences=result.char_confidences,
                )
            )
    return donation_finish_prefill(
        donation_id=donation_id,
        prefills=prefills,
        engine=engine.name,
        engine_version=engine.version,
    )


def stalled_donations_requeue(
    *, older_than_seconds: int, max_attempts: int
) -> tuple[list[str], list[str]]:
    """Finds donations the pipeline lost (worker killed, broker down at enqueue).

    Returns (ids to hand to the pipeline again, ids marked failed).
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = Donation.objects.filter(
        status__in=(DonationStatus.RECEIVED, DonationStatus.PROCESSING), updated_at__lt=cutoff
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
