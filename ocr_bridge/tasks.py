"""Celery tasks of the OCR pipeline: each takes an id, calls one service, owns its retries."""

import logging

from botocore.exceptions import BotoCoreError
from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from annotations.services.donations import donation_fail
from ocr_bridge import learning, recut, services

logger = logging.getLogger(__name__)

# Worth another try: the service was unreachable, not the document at fault.
TRANSIENT_ERRORS = (OperationalError, ConnectionError, TimeoutError, BotoCoreError)
MAX_RETRIES = 3


def _run_step(task, step, donation_id: str) -> bool:
    try:
        return step(donation_id=donation_id)
    except TRANSIENT_ERRORS as exc:
        if task.request.retries < MAX_RETRIES:
            raise task.retry(exc=exc, countdown=5 * 2**task.request.retries) from exc
        reason = f"A service stayed unreachable: {type(exc).__name__}: {exc}"
    except Exception as exc:
        logger.exception("pipeline step %s failed for donation %s", task.name, donation_id)
        reason = f"{type(exc).__name__}: {exc}"
    donation_fail(donation_id=donation_id, reason=reason)
    return False


# The page reader decides each word with the recognizer's confidence, so detection and
# reading are one step: the donation's whole pipeline runs in this one task. Its name
# stays: annotations enqueues it by name on upload, the stalled sweep re-sends it.
@shared_task(name="ocr_bridge.detect_words", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def detect_words(self, donation_id: str) -> None:
    _run_step(self, services.donation_process, donation_id)


# What a donation cut before the page reader still waits for (an older release queued it
# after its own detection): the prefill and the tasks. Safe on any donation.
@shared_task(name="ocr_bridge.prefill_crops", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def prefill_crops(self, donation_id: str) -> None:
    _run_step(self, services.donation_process, donation_id)


@shared_task(name="ocr_bridge.recut_donation", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def recut_donation(self, donation_id: str) -> None:
    """A ready page read again with the current reader; labeled crops are kept."""
    try:
        recut.donation_recut(donation_id=donation_id)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
        raise


@shared_task(name="ocr_bridge.requeue_stalled_donations")
def requeue_stalled_donations() -> None:
    retry, failed = services.stalled_donations_requeue(
        older_than_seconds=settings.OCR_STALLED_AFTER_SECONDS,
        max_attempts=settings.OCR_MAX_ATTEMPTS,
        processing_older_than_seconds=settings.OCR_STALLED_PROCESSING_SECONDS,
    )
    for donation_id in retry:
        detect_words.delay(donation_id)
    if retry or failed:
        logger.warning("stalled donations: %d requeued, %d failed", len(retry), len(failed))


# --- The learning loop ------------------------------------------------------------------


# Retraining runs for minutes: late acks would let a lost worker's task be delivered
# again, and `learning.model_retrain` ignores a second delivery while the first is alive.
@shared_task(name="ocr_bridge.retrain", acks_late=True)
def retrain(version_id: int) -> None:
    learning.model_retrain(version_id=version_id)


@shared_task(name="ocr_bridge.reprefill_crops", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def reprefill_crops(self, version_id: int) -> None:
    """One batch of unlabeled crops read with the promoted model, then the next batch."""
    try:
        done = learning.crops_reprefill_batch(
            version_id=version_id, batch_size=settings.MODEL_REPREFILL_BATCH
        )
    except TRANSIENT_ERRORS as exc:
        raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
    if done >= settings.MODEL_REPREFILL_BATCH:
        reprefill_crops.delay(version_id)
