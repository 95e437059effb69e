"""Asking for a retraining (one at a time), and failing one: a lost worker's, or one
whose run raised."""

from __future__ import annotations

import uuid
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone

import audit
from ocr_bridge import selectors, weights
from ocr_bridge.learning.options import RetrainOptions
from ocr_bridge.models import ModelStatus, ModelVersion

STALLED_AFTER = timedelta(minutes=30)  # a running version whose heartbeat stopped this long


class RetrainConflict(Exception):
    """A retraining is already running: one at a time."""


def model_versions_fail_stalled() -> list[int]:
    """Fails running versions whose worker was lost (no heartbeat for STALLED_AFTER)."""
    cutoff = timezone.now() - STALLED_AFTER
    stalled = ModelVersion.objects.filter(
        status__in=(ModelStatus.TRAINING, ModelStatus.EVALUATING), created_at__lt=cutoff
    ).exclude(heartbeat_at__gte=cutoff)
    failed = []
    for version_id in stalled.values_list("pk", flat=True):
        model_fail(version_id=version_id, reason="The training worker was lost (no progress).")
        failed.append(version_id)
    return failed


def model_retrain_request(*, user, options: RetrainOptions) -> ModelVersion:
    """Registers a version in training and queues its retraining on commit.

    Assumes ``selectors.can_train_models(user)``. One retraining at a time.
    """
    model_versions_fail_stalled()
    with transaction.atomic():
        # Serialises requests: the active row (or the shipped one) is the lock.
        weights.active_version()
        ModelVersion.objects.select_for_update().filter(status=ModelStatus.ACTIVE).first()
        if selectors.model_running() is not None:
            raise RetrainConflict("A retraining is already running; wait for it to finish.")
        version = ModelVersion.objects.create(
            name=f"pending-{uuid.uuid4().hex[:12]}",
            status=ModelStatus.TRAINING,
            config=options.as_dict(),
            created_by=user,
            stage="queued",
            total=options.steps,
        )
        version.name = f"ft-{version.pk}"
        version.save(update_fields=["name"])
        audit.record(
            actor=user,
            action="ocr_bridge.model_retrain_request",
            target=version,
            data={"name": version.name, "options": options.as_dict()},
        )
        transaction.on_commit(
            lambda: current_app.send_task("ocr_bridge.retrain", args=(version.pk,)), robust=True
        )
    return version


def model_fail(*, version_id: int, reason: str) -> None:
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None or not version.is_running:
            return
        version.status = ModelStatus.FAILED
        version.reason = reason[:2000]
        version.stage = ""
        version.eta_seconds = None
        version.finished_at = timezone.now()
        version.save(update_fields=["status", "reason", "stage", "eta_seconds", "finished_at"])
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.model_failed",
            target=version,
            data={"name": version.name, "reason": reason[:500]},
        )
