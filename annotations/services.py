"""Writes of the labeling domain. Each function states what it assumes.

Access checks happen before these are called (``annotations/api``, ``roles``);
these functions keep the data consistent: row locks, state transitions, audit
events in the same transaction.
"""

import hashlib
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

import audit
from annotations import blobs, crypto, selectors, signals
from annotations.images import NormalizedImage
from annotations.models import (
    Donation,
    DonationStatus,
    Label,
    LabelKind,
    ServiceToken,
    Skip,
    Task,
    TaskStatus,
    WordCrop,
)
from dropturk import prepared
from dropturk.prepared import Prepared
from quality import selectors as quality_selectors
from quality import services as quality

TOKEN_PREFIX = "dt_"  # noqa: S105  a public prefix that marks our tokens, not a secret


class LabelConflict(Exception):
    """The task was labeled by someone else after this annotator lost its lease."""


# --- Service tokens -------------------------------------------------------------------


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no stretching needed).
    return hashlib.sha256(raw.encode()).hexdigest()


def service_token_create(*, name: str) -> tuple[ServiceToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ServiceToken.objects.create(name=name, prefix=raw[:10], token_hash=hash_token(raw))
        audit.record(
            actor=None, action="annotations.service_token_create", target=token, data={"name": name}
        )
    return token, raw


# --- Donations ------------------------------------------------------------------------


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
        WordCrop.objects.bulk_update(
            crops.values(),
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


# --- Labeling queue -------------------------------------------------------------------


def _lease_fresh(*, queue, user, now, expires, wanted: int, blind: bool) -> int:
    """Leases up to ``wanted`` tasks of ``queue`` to ``user`` in its order; returns how many.

    The portable path (SQLite); PostgreSQL leases in one statement, ``_LEASE``.
    """
    ids = list(queue.values_list("id", flat=True)[:wanted])
    # The availability condition again: without row locks (SQLite) this is what stops
    # two concurrent callers from both taking a task.
    return (
        Task.objects.filter(id__in=ids)
        .filter(selectors.task_available(now))
        .update(leased_to=user, lease_expires_at=expires, lease_blind=blind)
    )


def _gold_slots(*, wanted: int, rate: float) -> int:
    """How many of ``wanted`` fresh slots are gold items this time (each with ``rate``)."""
    if rate <= 0:
        return 0
    return sum(random.random() < rate for _ in range(wanted))  # noqa: S311  sampling, not security


_TASK = Task._meta.db_table
_CROP = WordCrop._meta.db_table
_SKIP = Skip._meta.db_table
_LABEL = Label._meta.db_table
# A task the caller may take: free (or its lease ran out), not skipped nor labeled by them,
# so the k labels of a crop come from k different people. Each NOT EXISTS is one index
# probe per candidate row: OFFSET 0 keeps PostgreSQL from turning it into an anti-join,
# which, planned on stale statistics, read every label the caller ever gave at every lease
# (4,000 labels: 3 ms a lease, growing with the person's history).
_FREE_FOR_USER = f"""
    (t.leased_to_id IS NULL OR t.lease_expires_at < %(now)s)
    AND NOT EXISTS (SELECT 1 FROM {_SKIP} s
                    WHERE s.task_id = t.id AND s.annotator_id = %(user)s OFFSET 0)
    AND NOT EXISTS (SELECT 1 FROM {_LABEL} l
                    WHERE l.task_id = t.id AND l.annotator_id = %(user)s OFFSET 0)
"""  # noqa: S608  our own table names
_RETURNED = "RETURNING id, crop_id, priority, confidence, lease_blind"


# How far down the pending queue (crops with labels that want more) a lease looks. Its
# head can hold many tasks the caller labeled (a lone annotator's low-band crops wait
# there for a second person): an unbounded walk would pass over all of them at every
# lease. Beyond the window a lease serves fresh crops; the pending ones are served as
# the window's head is labeled by others.
PENDING_WINDOW = 100


def _queue_order(alias: str) -> str:
    """The serving order (``task_queue_idx``, ``task_pending_idx``) of rows ``alias``."""
    return f"{alias}.priority DESC, {alias}.confidence, {alias}.id"


def _pending(alias: str) -> str:
    """Rows ``alias`` are begun crops that want more labels (``task_pending_idx``)."""
    return f"{alias}.status = 'open' AND {alias}.labels_count > 0"


def _take(*, where: str, limit: str, order: str = _queue_order("t"), window: str = "") -> str:
    """An UPDATE that leases the first ``limit`` free tasks matching ``where`` in ``order``
    (among the ``window`` of candidates when given)."""
    return f"""
    UPDATE {_TASK} SET leased_to_id = %(user)s, lease_expires_at = %(expires)s,
                       lease_blind = %(blind)s
    WHERE id = ANY(ARRAY(
        SELECT t.id FROM {_TASK} t
        WHERE {where} {window} AND {_FREE_FOR_USER}
        ORDER BY {order} LIMIT {limit}
        FOR UPDATE SKIP LOCKED
    ))
    {_RETURNED}"""  # noqa: S608  our own table names and constants


_HELD = "(SELECT count(*) FROM held)"
_GOLD = "(SELECT count(*) FROM gold)"
_PENDING = "(SELECT count(*) FROM pending)"
# The whole lease in one statement, one round trip, planned once per database session:
# renew what the user holds; take up to %(gold)s gold items they never answered (partial
# index task_gold_idx); then crops that have labels and want more, which the user did not
# label (task_pending_idx, a bounded window of its head); fill the rest from the head of
# the crops nobody labeled (task_queue_idx); each in order of priority, lowest prefill
# confidence, age; return all with their crops. FOR UPDATE SKIP LOCKED: concurrent
# callers never wait for each other nor get the same task. The CTEs share one snapshot
# (the rows come from RETURNING) and touch disjoint rows: held ones are not free, gold,
# pending and fresh ones differ in status or label count. ARRAY(...) makes each pick an
# init plan; without it the planner, not knowing the LIMIT, hashes the whole table.
_LEASE = Prepared(
    "dropturk_task_lease",
    f"""
WITH held AS (
    UPDATE {_TASK} SET lease_expires_at = %(expires)s
    WHERE status IN ('open', 'gold') AND leased_to_id = %(user)s
      AND lease_expires_at >= %(now)s
    {_RETURNED}
), gold AS ({
        _take(
            where="t.status = 'gold'",
            order="t.id",
            limit=f"LEAST(%(gold)s, GREATEST(%(count)s - {_HELD}, 0))",
        )
    }
), pending AS ({
        _take(
            where=_pending("t"),
            window=f"AND t.id = ANY(ARRAY(SELECT w.id FROM {_TASK} w WHERE {_pending('w')}"
            f" ORDER BY {_queue_order('w')} LIMIT {PENDING_WINDOW}))",
            limit=f"GREATEST(%(count)s - {_HELD} - {_GOLD}, 0)",
        )
    }
), fresh AS ({
        _take(
            where="t.status = 'open' AND t.labels_count = 0",
            limit=f"GREATEST(%(count)s - {_HELD} - {_GOLD} - {_PENDING}, 0)",
        )
    }
)
SELECT r.id, r.crop_id, r.lease_blind, c.prefill_text, c.prefill_confidence,
       c.prefill_char_confidences, c.width, c.height
FROM (SELECT * FROM held UNION ALL SELECT * FROM gold UNION ALL SELECT * FROM pending
      UNION ALL SELECT * FROM fresh) r
JOIN {_CROP} c ON c.id = r.crop_id
ORDER BY {_queue_order("r")}
LIMIT %(count)s
""",  # noqa: S608  our own table names; values are parameters
)


@dataclass(frozen=True)
class Lease:
    """A leased task, as the annotator page gets it. Gold items look like any other; a
    blind lease carries no prefill."""

    id: int
    crop_id: int
    blind: bool
    prefill_text: str
    prefill_confidence: float | None
    prefill_char_confidences: list[float]
    width: int
    height: int
    lease_expires_at: datetime

    @property
    def pk(self) -> int:  # the task's
        return self.id

    @classmethod
    def of(cls, *, task: Task, crop: WordCrop) -> "Lease":
        return cls(
            id=task.pk,
            crop_id=crop.pk,
            blind=task.lease_blind,
            prefill_text=crop.prefill_text,
            prefill_confidence=crop.prefill_confidence,
            prefill_char_confidences=crop.prefill_char_confidences,
            width=crop.width,
            height=crop.height,
            lease_expires_at=task.lease_expires_at,
        )


def task_lease_next(*, user, count: int = 1) -> list[Lease]:
    """Leases up to ``count`` tasks to ``user``; tasks the user still holds come first.

    Assumes the caller checked that ``user`` may label. Crops that have labels and want
    more (redundancy) come before crops nobody labeled yet, so begun crops are finished
    first; within each, the order (priority, then lowest prefill confidence, then age) is
    served by a partial index (``task_pending_idx``, ``task_queue_idx``); tasks the user
    labeled or skipped are passed over. Each fresh slot is a gold item
    with the project's ``gold_rate`` (one the user never answered), served like any
    task. In blind mode the lease is marked so (the payload then carries no prefill).
    """
    count = max(1, min(count, settings.TASK_LEASE_MAX_COUNT))
    now = timezone.now()
    expires = now + timedelta(seconds=settings.TASK_LEASE_SECONDS)
    qs = quality_selectors.quality_settings()
    gold = _gold_slots(wanted=count, rate=qs.gold_rate)
    # Not audited: a lease shows nothing; the image view that follows is.
    if connection.vendor == "postgresql":
        params = {"user": user.pk, "now": now, "expires": expires, "count": count}
        params.update(gold=gold, blind=qs.blind_mode)
        # One statement, so atomic by itself: no BEGIN and COMMIT round trips around it.
        with connection.cursor() as cursor:
            _LEASE.execute(cursor, params)
            rows = cursor.fetchall()
        # jsonb arrives as text through a Django cursor; the field decodes it.
        decode = WordCrop._meta.get_field("prefill_char_confidences").from_db_value
        return [
            Lease(*row[:5], decode(row[5], None, connection), *row[6:], lease_expires_at=expires)
            for row in rows
        ]
    with transaction.atomic():
        held = Task.objects.filter(
            status__in=selectors.LEASABLE, leased_to=user, lease_expires_at__gte=now
        ).update(lease_expires_at=expires)
        wanted = count - held
        lease = partial(_lease_fresh, user=user, now=now, expires=expires, blind=qs.blind_mode)
        if wanted > 0 and gold:
            wanted -= lease(queue=selectors.gold_queue(user=user, now=now), wanted=gold)
        if wanted > 0:
            wanted -= lease(queue=selectors.pending_queue(user=user, now=now), wanted=wanted)
        if wanted > 0:
            lease(queue=selectors.task_queue(user=user, now=now), wanted=wanted)
        tasks = (
            Task.objects.filter(
                status__in=selectors.LEASABLE, leased_to=user, lease_expires_at=expires
            )
            .select_related("crop")
            .order_by("-priority", "confidence", "id")[:count]
        )
        return [Lease.of(task=task, crop=task.crop) for task in tasks]


def _label_already_sent(*, user, client_key: uuid.UUID | None) -> Label | None:
    """The label a retried request already stored, found by its client-chosen key."""
    if client_key is None:
        return None
    return Label.objects.filter(annotator=user, client_key=client_key).first()


# Submit's first statement: lock the task, find the label a retried request already
# stored (same client key), and whether this person labeled the task before, in one
# round trip, planned once per database session.
_TASK_FOR_SUBMIT_FIELDS = [
    "id",
    "crop_id",
    "status",
    "priority",
    "confidence",
    "leased_to_id",
    "lease_expires_at",
    "lease_blind",
    "labels_needed",
    "labels_count",
    "created_at",
]
_TASK_FOR_SUBMIT = Prepared(
    "dropturk_task_for_submit",
    f"""
    SELECT {", ".join(f"task.{column}" for column in _TASK_FOR_SUBMIT_FIELDS)},
           (SELECT label.id FROM {_LABEL} label
            WHERE label.annotator_id = %(user)s AND label.client_key = %(client_key)s
           ) AS replayed_id,
           EXISTS (SELECT 1 FROM {_LABEL} mine
                   WHERE mine.task_id = task.id AND mine.annotator_id = %(user)s
           ) AS labeled_by_me
    FROM {_TASK} task
    WHERE task.id = %(task)s
""",  # noqa: S608  table names from our own models; values are parameters
    row_lock="FOR UPDATE OF task",
)


def _task_lock_for_submit(*, task_id: int, user, client_key: uuid.UUID | None) -> Task:
    """The task, row-locked, with ``replayed_id`` and ``labeled_by_me``; raises
    ``Task.DoesNotExist``."""
    with connection.cursor() as cursor:
        params = {"user": user.pk, "client_key": client_key, "task": task_id}
        _TASK_FOR_SUBMIT.execute(cursor, params)
        row = cursor.fetchone()
    if row is None:
        raise Task.DoesNotExist(f"no task {task_id}")
    task = Task.from_db(connection.alias, _TASK_FOR_SUBMIT_FIELDS, row[:-2])
    task.replayed_id, task.labeled_by_me = row[-2:]
    return task


# Submit's last write to the task: its lease ends, its counts and state as decided.
_TASK_AFTER_LABEL = Prepared(
    "dropturk_task_after_label",
    f"""
    UPDATE {_TASK} SET status = %(status)s, leased_to_id = NULL, lease_expires_at = NULL,
                       labels_count = %(labels_count)s, labels_needed = %(labels_needed)s
    WHERE id = %(task)s
""",  # noqa: S608  table names from our own models; values are parameters
)


def _taken_by_someone_else(*, task: Task, user, now) -> bool:
    """Done (or in review) already, or another annotator holds a lease not run out."""
    held_by_other = (
        task.leased_to_id not in (None, user.pk)
        and task.lease_expires_at is not None
        and task.lease_expires_at >= now
    )
    return task.status not in selectors.LEASABLE or held_by_other


def _label_create(*, unreadable: bool, text: str, **fields) -> Label:
    """The one place a Label row is written: an unreadable crop is stored with no text."""
    label = Label(unreadable=unreadable, text="" if unreadable else text, **fields)
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
    later, off this path) but never completes anything.
    """
    now = timezone.now()
    with transaction.atomic():
        # One round trip: lock the task and look for a label this request already stored.
        task = _task_lock_for_submit(task_id=task_id, user=user, client_key=client_key)
        if task.replayed_id is not None:
            return Label.objects.get(pk=task.replayed_id)
        if _taken_by_someone_else(task=task, user=user, now=now):
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
        with connection.cursor() as cursor:
            _TASK_AFTER_LABEL.execute(
                cursor,
                {
                    "status": task.status,
                    "labels_count": task.labels_count,
                    "labels_needed": task.labels_needed,
                    "task": task.pk,
                },
            )
        audit.record(
            actor=user,
            action="annotations.label_submit",
            target=label,
            data={"crop_id": task.crop_id, "task_id": task.pk},
            ip_address=ip_address,
        )
    return label


def task_skip(*, user, task_id: int) -> None:
    """Hands a task back to the queue; this annotator will not be offered it again.

    Assumes the caller checked that ``user`` may label.
    """
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task_id)
        Skip.objects.get_or_create(task=task, annotator=user)
        if task.leased_to_id == user.pk:
            task.leased_to = None
            task.lease_expires_at = None
            task.save(update_fields=["leased_to", "lease_expires_at"])
        audit.record(actor=user, action="annotations.task_skip", target=task)


def task_renew(*, user, task_id: int) -> Task:
    """Extends this annotator's lease; retakes an expired one nobody else took.

    Raises ``LabelConflict`` when the task is done or someone else holds it now.
    """
    now = timezone.now()
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task_id)
        if _taken_by_someone_else(task=task, user=user, now=now):
            raise LabelConflict("This word has been given to someone else meanwhile.")
        task.leased_to = user
        task.lease_expires_at = now + timedelta(seconds=settings.TASK_LEASE_SECONDS)
        task.save(update_fields=["leased_to", "lease_expires_at"])
    return task


def label_revise(
    *,
    user,
    label_id: int,
    text: str,
    rotated: bool = False,
    non_english: bool = False,
    unreadable: bool = False,
    elapsed_ms: int | None = None,
    client_key: uuid.UUID | None = None,
    ip_address: str | None = None,
) -> Label:
    """Stores an annotator's correction of their own label (undo); the old one is kept.

    Assumes the caller checked that ``user`` may label and owns the label. Raises
    ``LabelConflict`` if the label was revised already (only the newest can be).
    """
    with transaction.atomic():
        existing = _label_already_sent(user=user, client_key=client_key)
        if existing is not None:
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


def crop_image_read(*, user, crop: WordCrop, ip_address: str | None = None) -> bytes:
    """Decrypts a crop's PNG for a person and records that they saw it.

    Assumes access was checked (``selectors.crop_get_for_viewer``). The image is read
    first and handed out only once its view is on the trail; a read that fails records
    nothing. One statement: atomic by itself, no transaction around it.
    """
    image = blobs.blob_get(donation=crop.donation, name=crop.image_name)
    audit.record(
        actor=user, action="annotations.crop_image_view", target=crop, ip_address=ip_address
    )
    return image
