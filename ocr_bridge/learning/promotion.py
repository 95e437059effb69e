"""Promotion: a version becomes the active one, by an ML engineer or by itself when it
beats its parent by the set margin; the unlabeled crops are then read again with it."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from ocr_bridge.models import ModelStatus, ModelVersion


class PromotionRefused(Exception):
    """The version cannot be promoted (not evaluated, failed, already active)."""


def auto_promotion_due(version: ModelVersion) -> bool:
    """Better than its parent on the same frozen-split crops by the set margin (and the
    split has enough crops to tell)."""
    margin = settings.MODEL_AUTO_PROMOTE_MARGIN
    if margin is None or version.status != ModelStatus.READY:
        return False
    frozen = version.metrics.get("frozen", {})
    parent = version.metrics.get("parent", {}).get("frozen", {})
    if frozen.get("n", 0) < settings.MODEL_AUTO_PROMOTE_MIN_CROPS:
        return False
    return frozen["accuracy"] >= parent.get("accuracy", 1.0) + margin


def model_promote(*, version_id: int, user) -> ModelVersion:
    """Makes the version the active one (the previous one retires) and starts reading the
    unlabeled crops again with it. ``user`` None: promoted automatically.

    Assumes ``selectors.can_train_models(user)`` and a recent re-authentication.
    """
    with transaction.atomic():
        current = ModelVersion.objects.select_for_update().filter(status=ModelStatus.ACTIVE)
        previous = current.first()
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None:
            raise PromotionRefused("No such model.")
        if version.status == ModelStatus.ACTIVE:
            raise PromotionRefused(f"{version.name} is already the active model.")
        if version.status not in (ModelStatus.READY, ModelStatus.RETIRED):
            raise PromotionRefused(f"{version.name} is {version.status}; only a ready model.")
        if previous is not None:
            previous.status = ModelStatus.RETIRED
            previous.save(update_fields=["status"])
        version.status = ModelStatus.ACTIVE
        version.promoted_at = timezone.now()
        version.promoted_by = user
        version.save(update_fields=["status", "promoted_at", "promoted_by"])
        audit.record(
            actor=user,
            action="ocr_bridge.model_promote",
            target=version,
            data={
                "name": version.name,
                "previous": previous.name if previous is not None else "",
                "how": "by hand" if user is not None else "automatically, better by the margin",
            },
        )
        transaction.on_commit(
            lambda: current_app.send_task("ocr_bridge.reprefill_crops", args=(version.pk,)),
            robust=True,
        )
    return version
