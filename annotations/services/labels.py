"""Labels: an annotator's submission of a leased task and their correction of it (undo).

A label and the crop's consensus are one transaction (``quality.services``); the label's
audit event is written in it too.
"""

import uuid

from django.db import transaction
from django.utils import timezone

import audit
from annotations import loop_sql
from annotations.models import Label, LabelKind, TaskStatus
from annotations.services.leasing import LabelConflict, task_taken_by_someone_else
from dbkit import prepared
from quality import services as quality


def _label_create(*, unreadable: bool, text: str, bad_reason: str = "", **fields) -> Label:
    """The one place a Label row is written: an unreadable crop, or one marked bad, is
    stored with no text (a mark carries no flags either)."""
    if bad_reason:
        unreadable, text = False, ""
        fields.update(rotated=False, non_english=False)
    label = Label(
        unreadable=unreadable,
        text="" if unreadable else text,
        bad_reason=bad_reason,
        **fields,
    )
    prepared.insert(label)  # as Label.objects.create, without its compile per call
    return label


def label_submit(
    *,
    user,
    task_id: int,
    text: str,
    rotated: bool = False,
    non_english: bool = False,
    unreadable: bool = False,
    bad_reason: str = "",
    elapsed_ms: int | None = None,
    client_key: uuid.UUID | None = None,
    ip_address: str | None = None,
) -> Label:
    """Stores a label; the task returns to the queue until it has its k labels, then the
    crop's consensus is decided (``quality.services.crop_consensus_decide``).

    Assumes the caller checked that ``user`` may label. A retried submission (same
    ``client_key``) returns the label already stored. A label whose lease expired is
    kept if nobody else labeled the task meanwhile; otherwise ``LabelConflict``, as for
    a second label of the same person. An answer to a gold item is stored (and scored
    later, off this path) but never completes anything. Raises ``Task.DoesNotExist``.
    """
    now = timezone.now()
    with transaction.atomic():
        task = loop_sql.task_lock_for_submit(
            task_id=task_id, user_id=user.pk, client_key=client_key
        )
        if task.replayed_id is not None:
            return Label.objects.get(pk=task.replayed_id)
        if task_taken_by_someone_else(task=task, user=user, now=now):
            raise LabelConflict(
                "Someone else has labeled or is labeling this word; your label was not stored."
            )
        if task.labeled_by_me:
            raise LabelConflict("You have labeled this word already; correct it under Undo.")
        gold = task.status == TaskStatus.GOLD
        label = _label_create(
            task_id=task.pk,
            crop_id=task.crop_id,
            annotator=user,
            text=text,
            rotated=rotated,
            non_english=non_english,
            unreadable=unreadable,
            bad_reason=bad_reason,
            elapsed_ms=elapsed_ms,
            client_key=client_key,
            kind=LabelKind.GOLD_ANSWER if gold else LabelKind.ANNOTATION,
            prefill_shown=None if task.leased_to_id != user.pk else not task.lease_blind,
        )
        task.leased_to = None
        task.lease_expires_at = None
        if not gold:
            task.labels_count += 1
            if task.labels_count >= task.labels_needed:
                labels = [label] if task.labels_count == 1 else None
                quality.crop_consensus_decide(task=task, labels=labels)
        loop_sql.task_after_label(task=task)
        audit.record(
            actor=user,
            action="annotations.label_submit",
            target=label,
            data={"crop_id": task.crop_id, "task_id": task.pk},
            ip_address=ip_address,
        )
    return label


def label_revise(
    *,
    user,
    label_id: int,
    text: str,
    rotated: bool = False,
    non_english: bool = False,
    unreadable: bool = False,
    bad_reason: str = "",
    elapsed_ms: int | None = None,
    client_key: uuid.UUID | None = None,
    ip_address: str | None = None,
) -> Label:
    """Stores an annotator's correction of their own label (undo); the old one is kept.

    Assumes the caller checked that ``user`` may label and owns the label. Raises
    ``LabelConflict`` if the label was revised already (only the newest can be).
    """
    with transaction.atomic():
        if client_key is not None:
            existing = Label.objects.filter(annotator=user, client_key=client_key).first()
            if existing is not None:  # a retried request: the label it stored
                return existing
        old = (
            Label.objects.select_for_update()
            .exclude(kind=LabelKind.REVIEW)
            .get(pk=label_id, annotator=user)
        )
        if Label.objects.filter(revises=old).exists():
            raise LabelConflict("This label was corrected already; correct the newest version.")
        # A correction stays what the label was (an annotation, or a gold answer).
        label = _label_create(
            task_id=old.task_id,
            crop_id=old.crop_id,
            annotator=user,
            text=text,
            rotated=rotated,
            non_english=non_english,
            unreadable=unreadable,
            bad_reason=bad_reason,
            elapsed_ms=elapsed_ms,
            client_key=client_key,
            revises=old,
            kind=old.kind,
            prefill_shown=old.prefill_shown,
        )
        quality.crop_consensus_after_revision(label=label)
        audit.record(
            actor=user,
            action="annotations.label_revise",
            target=label,
            data={"crop_id": old.crop_id, "revises": old.pk},
            ip_address=ip_address,
        )
    return label
