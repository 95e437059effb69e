"""Donations: storing one, the pipeline's state changes, its crops, withdrawal.

Each function states what it assumes; audit events are written in the same transaction.
"""

import uuid
from dataclasses import dataclass

from celery import current_app
from django.db import transaction
from django.utils import timezone

import audit
from annotations import blobs, crypto, signals
from annotations.images import NormalizedImage
from annotations.models import Donation, DonationStatus, Label, ServiceToken, Task, WordCrop
from quality import selectors as quality_selectors
from quality import services as quality


def _enqueue_on_commit(task_name: str, *args: object) -> None:
    # By name: annotations does not import ocr_bridge (dependencies point one way).
    # robust: a broker outage must not turn a committed donation into an error; the
    # periodic requeue_stalled_donations picks such a donation up.
    transaction.on_commit(lambda: current_app.send_task(task_name, args=args), robust=True)


def donation_create(
    *, source: ServiceToken, kind: str, image: NormalizedImage, ip_address: str | None = None
) -> Donation:
    """Stores the (already validated) image encrypted and queues word detection on commit.

    If anything fails, the transaction rolls back and the blob written so far is removed,
    so a rejected or failed donation leaves nothing behind.
    """
    donation_id = uuid.uuid4()
    data_key = crypto.new_data_key()
    image_name = blobs.document_name(donation_id, image.format)
    try:
        with transaction.atomic():
            donation = Donation.objects.create(
                id=donation_id,
                kind=kind,
                source=source,
                wrapped_key=crypto.wrap_data_key(data_key, donation_id=str(donation_id)),
                master_key_id=crypto.master_key_id(),
                image_name=image_name,
                image_format=image.format,
                width=image.width,
                height=image.height,
            )
            blobs.blob_put(
                donation=donation, name=image_name, plaintext=image.content, data_key=data_key
            )
            audit.record(
                actor=source,
                action="annotations.donation_create",
                target=donation,
                data={"kind": kind, "width": image.width, "height": image.height},
                ip_address=ip_address,
            )
            _enqueue_on_commit("ocr_bridge.detect_words", str(donation_id))
    except BaseException:
        blobs.blob_delete(name=image_name)
        raise
    return donation


_FINAL_STATUSES = (DonationStatus.READY, DonationStatus.FAILED, DonationStatus.WITHDRAWN)


def donation_start_processing(*, donation_id: str) -> Donation | None:
    """Moves a donation to ``processing``; returns None when there is nothing left to do.

    Takes the row lock so that two deliveries of the same message cannot both start.
    """
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None or donation.status in _FINAL_STATUSES:
            return None
        donation.status = DonationStatus.PROCESSING
        donation.pipeline_attempts += 1
        donation.save(update_fields=["status", "pipeline_attempts", "updated_at"])
        return donation


def donation_fail(*, donation_id: str, reason: str) -> None:
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None or donation.status in (DonationStatus.READY, DonationStatus.WITHDRAWN):
            return
        donation.status = DonationStatus.FAILED
        donation.failure_reason = reason[:2000]
        donation.save(update_fields=["status", "failure_reason", "updated_at"])
        audit.record(
            actor=None,
            action="ocr_bridge.donation_failed",
            target=donation,
            data={"reason": reason[:500]},
        )


@dataclass(frozen=True)
class CropInput:
    x: int
    y: int
    width: int
    height: int
    png: bytes


def donation_store_crops(*, donation: Donation, crops: list[CropInput]) -> int:
    """Stores encrypted crop images and their rows, once.

    Assumes the donation is ``processing``. Blob names are deterministic, so a retry
    after a crash overwrites the blobs of the attempt that died. Returns the number
    of crops the donation has.
    """
    data_key = blobs.data_key_for(donation)
    names = [blobs.crop_name(donation.pk, index) for index in range(len(crops))]
    for name, crop in zip(names, crops, strict=True):
        blobs.blob_put(donation=donation, name=name, plaintext=crop.png, data_key=data_key)
    with transaction.atomic():
        locked = Donation.objects.select_for_update().get(pk=donation.pk)
        if locked.status == DonationStatus.WITHDRAWN:  # withdrawn while we cut it
            transaction.on_commit(lambda: [blobs.blob_delete(name=name) for name in names])
            return 0
        if locked.crops.exists():
            return locked.crops.count()
        WordCrop.objects.bulk_create(
            WordCrop(
                donation=locked,
                index=index,
                x=crop.x,
                y=crop.y,
                width=crop.width,
                height=crop.height,
                image_name=name,
            )
            for index, (name, crop) in enumerate(zip(names, crops, strict=True))
        )
    return len(crops)


@dataclass(frozen=True)
class Prefill:
    crop_id: int
    text: str
    confidence: float
    char_confidences: tuple[float, ...]


def donation_finish_prefill(
    *, donation_id: str, prefills: list[Prefill], engine: str, engine_version: str
) -> bool:
    """Writes prefills, opens one labeling task per crop and marks the donation ready.

    All in one transaction under the donation's row lock; a second run finds the
    donation ready and changes nothing. Returns whether this call did the work. Each
    task asks for as many labels as the crop's confidence band needs (``quality``).
    """
    now = timezone.now()
    qs = quality_selectors.quality_settings()
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None or donation.status != DonationStatus.PROCESSING:
            return False
        crops = {crop.pk: crop for crop in donation.crops.all()}
        for prefill in prefills:
            crop = crops[prefill.crop_id]
            crop.prefill_text = prefill.text[:200]
            crop.prefill_confidence = prefill.confidence
            crop.prefill_char_confidences = list(prefill.char_confidences)
            crop.prefill_engine = engine
            crop.prefill_engine_version = engine_version
            crop.prefilled_at = now
        # Only the crops given a prefill here (those the page reading stored come with
        # theirs): updating every crop cost more CPU than the rest of the step.
        WordCrop.objects.bulk_update(
            [crops[prefill.crop_id] for prefill in prefills],
            [
                "prefill_text",
                "prefill_confidence",
                "prefill_char_confidences",
                "prefill_engine",
                "prefill_engine_version",
                "prefilled_at",
            ],
        )
        Task.objects.bulk_create(
            [
                Task(
                    crop=crop,
                    confidence=crop.prefill_confidence or 0.0,
                    labels_needed=quality.labels_needed_for(
                        crop_id=crop.pk, confidence=crop.prefill_confidence, qs=qs
                    ),
                )
                for crop in crops.values()
            ],
            ignore_conflicts=True,
        )
        donation.status = DonationStatus.READY
        donation.failure_reason = ""
        donation.save(update_fields=["status", "failure_reason", "updated_at"])
        audit.record(
            actor=audit.SYSTEM,
            action="annotations.donation_ready",
            target=donation,
            data={"crops": len(crops), "engine": engine},
        )
    return True


def donation_withdraw(*, source: ServiceToken, donation_id) -> Donation | None:
    """Withdraws a donation the token sent; None if there is no such donation of its.

    Destroys the donation's data key first (crypto-shredding: every copy of its blobs,
    backups included, becomes unreadable at once), then deletes its crops with their tasks
    and labels (transcriptions are personal data too), and removes the blobs after commit.
    The donation row stays as a tombstone, so the audit trail keeps pointing at something.
    Calling it again changes nothing.
    """
    with transaction.atomic():
        donation = (
            Donation.objects.select_for_update().filter(pk=donation_id, source=source).first()
        )
        if donation is None or donation.status == DonationStatus.WITHDRAWN:
            return donation
        names = [donation.image_name, *donation.crops.values_list("image_name", flat=True)]
        labels = Label.objects.filter(crop__donation=donation)
        labels.update(revises=None)
        label_count = labels.count()
        labels.delete()
        crop_count = donation.crops.count()
        donation.crops.all().delete()  # their tasks and skips with them
        donation.wrapped_key = None
        donation.status = DonationStatus.WITHDRAWN
        donation.save(update_fields=["wrapped_key", "status", "updated_at"])
        audit.record(
            actor=source,
            action="annotations.donation_withdraw",
            target=donation,
            data={"crops_deleted": crop_count, "labels_deleted": label_count},
        )
        signals.donation_withdrawn.send(sender=Donation, donation=donation)
        transaction.on_commit(lambda: [blobs.blob_delete(name=name) for name in names if name])
    return donation
