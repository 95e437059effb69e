"""Reads of the learning loop, with the access rule each one applies.

The frozen test split is `exports.selectors.split_of`'s "test": the same documents that
every export marks test, chosen by a stable hash of the donation, so one document's
crops stay together and are never trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db.models import QuerySet

from annotations import roles
from annotations.models import DonationStatus, TaskStatus, WordCrop
from exports.selectors import accepted_labels, split_of
from ocr_bridge.models import ModelStatus, ModelVersion

FROZEN_SPLIT = "test"


def can_view_models(user) -> bool:
    """ML engineers work with models; admins oversee what runs in production."""
    return roles.has_role(user, roles.ML_ENGINEER) or roles.has_role(user, roles.ADMIN)


def can_train_models(user) -> bool:
    return roles.has_role(user, roles.ML_ENGINEER)


def is_frozen(donation_id: object) -> bool:
    return split_of(donation_id) == FROZEN_SPLIT


@dataclass(frozen=True)
class LabelledCropRef:
    """An accepted label's crop, by reference: what training and evaluation read."""

    label_id: int
    crop_id: int
    donation_id: str
    kind: str
    image_name: str
    text: str
    rotated: bool


_REF_FIELDS = (
    "crop_id",
    "crop__donation_id",
    "crop__donation__kind",
    "crop__image_name",
    "text",
    "rotated",
)


def _refs(rows, *, label_ids: bool) -> list[LabelledCropRef]:
    """References from ``values_list(("id",) + _REF_FIELDS)`` rows."""
    return [
        LabelledCropRef(
            label_id=row_id if label_ids else 0,
            crop_id=crop_id,
            donation_id=str(donation_id),
            kind=kind,
            image_name=image_name,
            text=text,
            rotated=rotated,
        )
        for row_id, crop_id, donation_id, kind, image_name, text, rotated in rows.iterator(
            chunk_size=2000
        )
    ]


def _labelled_refs(labels: QuerySet) -> list[LabelledCropRef]:
    rows = labels.order_by("crop__donation_id", "crop__index").values_list("id", *_REF_FIELDS)
    return _refs(rows, label_ids=True)


def _readable(labels: QuerySet) -> QuerySet:
    """Labels with a text to learn: not unreadable, not another language, not empty."""
    return labels.filter(unreadable=False, non_english=False).exclude(text="")


def _gold_crop_ids() -> set[int]:
    from quality.selectors import gold_items

    return set(gold_items().values_list("crop_id", flat=True))


def training_set() -> list[LabelledCropRef]:
    """What a retraining learns from: accepted labels with text, outside the frozen test
    split, never a withdrawn donation (``accepted_labels`` excludes them), never a gold
    item (gold is measured, not learnt)."""
    gold = _gold_crop_ids()
    return [
        ref
        for ref in _labelled_refs(_readable(accepted_labels()))
        if not is_frozen(ref.donation_id) and ref.crop_id not in gold
    ]


def frozen_test_set() -> list[LabelledCropRef]:
    """The accepted, readable, upright labels of the frozen test split."""
    return [
        ref
        for ref in _labelled_refs(_readable(accepted_labels()).filter(rotated=False))
        if is_frozen(ref.donation_id)
    ]


def gold_set() -> list[LabelledCropRef]:
    """Gold items with a readable, upright answer, as references like the others."""
    from quality.selectors import gold_items

    items = (
        gold_items()
        .filter(unreadable=False, non_english=False, rotated=False)
        .exclude(text="")
        .exclude(crop__donation__status=DonationStatus.WITHDRAWN)
        .exclude(crop__donation__wrapped_key__isnull=True)
        .values_list("id", *_REF_FIELDS)
    )
    return _refs(items, label_ids=False)


def labels_digest(label_ids: list[int]) -> str:
    """The lineage hash: SHA-256 of the sorted label ids, one per line."""
    return hashlib.sha256("\n".join(str(i) for i in sorted(label_ids)).encode()).hexdigest()


def model_versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("parent", "created_by", "promoted_by").order_by(
        "-created_at", "-id"
    )


def model_get(*, version_id: int) -> ModelVersion | None:
    return model_versions().filter(pk=version_id).first()


def model_running() -> ModelVersion | None:
    return ModelVersion.objects.filter(
        status__in=(ModelStatus.TRAINING, ModelStatus.EVALUATING)
    ).first()


def crops_to_reprefill(*, engine_version: str, limit: int) -> list[WordCrop]:
    """Unlabeled crops of ready documents whose prefill is not by ``engine_version``,
    the least confident first (the order of the labeling queue)."""
    return list(
        WordCrop.objects.filter(
            task__status=TaskStatus.OPEN,
            labels__isnull=True,
            donation__status=DonationStatus.READY,
            donation__wrapped_key__isnull=False,
        )
        .exclude(prefill_engine_version=engine_version)
        .select_related("donation")
        .order_by("task__confidence", "id")[:limit]
    )
