"""The queue read again by a promoted model, in batches, the least confident crops first."""

from __future__ import annotations

import io

from django.db import transaction
from django.utils import timezone
from PIL import Image

import audit
from annotations import blobs
from annotations.models import Task, TaskStatus, WordCrop
from ocr_bridge import selectors, weights
from ocr_bridge.models import ModelStatus, ModelVersion
from ocr_bridge.services import recognize_upright
from quality import selectors as quality_selectors
from quality import services as quality


def crops_reprefill_batch(*, version_id: int, batch_size: int) -> int:
    """Reads the next batch of unlabeled crops with the version, if it is still active;
    updates their prefill, and their open task's queue confidence and the labels it needs
    (the crop's confidence band may have changed with the model). Returns how many.

    The prefill fields are the crop's (annotations owns the model; this is its only
    writer outside ``donation_finish_prefill``); a task labeled meanwhile keeps its
    confidence and its k, since only open tasks without labels are touched.
    """
    version = ModelVersion.objects.filter(pk=version_id, status=ModelStatus.ACTIVE).first()
    if version is None:
        return 0  # promoted over meanwhile: the newer version's chain does the work
    crops = selectors.crops_to_reprefill(engine_version=version.engine_version, limit=batch_size)
    if not crops:
        return 0
    engine = weights.engine_for(version)
    orientation = weights.orientation_for(version)
    keys: dict[str, bytes] = {}
    images: list[Image.Image] = []
    readable: list[WordCrop] = []
    for crop in crops:
        donation_id = str(crop.donation_id)
        try:
            if donation_id not in keys:
                keys[donation_id] = blobs.data_key_for(crop.donation)
        except blobs.KeyDestroyed:
            continue
        plain = blobs.blob_get(
            donation=crop.donation, name=crop.image_name, data_key=keys[donation_id]
        )
        images.append(Image.open(io.BytesIO(plain)))
        readable.append(crop)
    results = recognize_upright(engine, orientation, images)
    now = timezone.now()
    with transaction.atomic():
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.crops_reprefill",
            target=version,
            data={"name": version.name, "count": len(readable), "documents": len(keys)},
        )
        for crop, result in zip(readable, results, strict=True):
            crop.prefill_text = result.text[:200]
            crop.prefill_confidence = result.confidence
            crop.prefill_char_confidences = list(result.char_confidences)
            crop.prefill_engine = engine.name
            crop.prefill_engine_version = engine.version
            crop.prefilled_at = now
        WordCrop.objects.bulk_update(
            readable,
            [
                "prefill_text",
                "prefill_confidence",
                "prefill_char_confidences",
                "prefill_engine",
                "prefill_engine_version",
                "prefilled_at",
            ],
        )
        qs = quality_selectors.quality_settings()
        for crop, result in zip(readable, results, strict=True):
            Task.objects.filter(crop_id=crop.pk, status=TaskStatus.OPEN, labels_count=0).update(
                confidence=result.confidence,
                labels_needed=quality.labels_needed_for(
                    crop_id=crop.pk, confidence=result.confidence, qs=qs
                ),
            )
    # Crops whose donation lost its key are not read; count them as done for the caller.
    return len(crops)
