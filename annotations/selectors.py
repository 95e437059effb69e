"""Reads of the labeling domain, with the access rule each one applies."""

from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from annotations import roles
from annotations.models import (
    Donation,
    Label,
    LabelKind,
    ServiceToken,
    Skip,
    Task,
    TaskStatus,
    WordCrop,
)
from dropturk.prepared import Prepared


def donation_get_for(*, principal, donation_id) -> Donation | None:
    """A service token sees the donations it sent; staff roles see all; nobody else any."""
    queryset = Donation.objects.all()
    if isinstance(principal, ServiceToken):
        queryset = queryset.filter(source=principal)
    elif not roles.can_read_all_donations(principal):
        return None
    return queryset.filter(pk=donation_id).first()


def donation_crops(*, donation: Donation) -> QuerySet[WordCrop]:
    return donation.crops.order_by("index")


# The image route's one query: the crop, its task's state and its donation's key. Prepared
# on a plain cursor, not the ORM: compiling the equivalent select_related() cost 5x the
# query, and raw()'s per-row column mapping still half of it.
_CROP_FOR_VIEWER = Prepared(
    "dropturk_crop_for_viewer",
    f"""
    SELECT crop.id, crop.donation_id, crop.image_name, donation.wrapped_key,
           task.status, task.leased_to_id
    FROM {WordCrop._meta.db_table} crop
    JOIN {Donation._meta.db_table} donation ON donation.id = crop.donation_id
    LEFT JOIN {Task._meta.db_table} task ON task.crop_id = crop.id
    WHERE crop.id = %(crop)s
    """,  # noqa: S608  table names from our own models; the id is a parameter
)


def crop_get_for_viewer(*, user, crop_id: int) -> WordCrop | None:
    """The holder of the crop's open task, its labeler (to undo), or a reviewer may see it.

    The crop holds its id, donation id and image name, and ``crop.donation`` its id and
    wrapped key (other fields load on access): what reading the image needs.
    """
    with connection.cursor() as cursor:
        _CROP_FOR_VIEWER.execute(cursor, {"crop": crop_id})
        row = cursor.fetchone()
    if row is None:
        return None
    crop_pk, donation_id, image_name, wrapped_key, task_status, task_holder_id = row
    if not _may_view_crop(
        user=user, crop_id=crop_pk, task_status=task_status, task_holder_id=task_holder_id
    ):
        return None
    # A plain cursor does not convert: SQLite stores a UUID as 32 hex digits.
    donation_id = Donation._meta.pk.to_python(donation_id)
    crop = WordCrop.from_db(
        "default", ["id", "donation_id", "image_name"], [crop_pk, donation_id, image_name]
    )
    crop.donation = Donation.from_db("default", ["id", "wrapped_key"], [donation_id, wrapped_key])
    return crop


def _may_view_crop(*, user, crop_id: int, task_status: str | None, task_holder_id) -> bool:
    if roles.can_review(user):
        return True
    if not roles.can_label(user):
        return False
    if task_status in LEASABLE and task_holder_id == user.pk:
        return True
    return Label.objects.filter(crop_id=crop_id, annotator=user).exists()


def labels_mine(*, user, limit: int) -> QuerySet[Label]:
    """The annotator's current labels (not those replaced by a correction), newest first.

    A reviewer's decisions are not among them: they are corrected in review, not by undo.
    """
    return (
        Label.objects.filter(annotator=user, revision__isnull=True)
        .exclude(kind=LabelKind.REVIEW)
        .order_by("-created_at", "-id")[:limit]
    )


# Task states an annotator can hold a lease on: open tasks and gold items.
LEASABLE = (TaskStatus.OPEN, TaskStatus.GOLD)


def task_available(now: datetime) -> Q:
    """Nobody holds the task, or its holder's lease ran out."""
    return Q(leased_to__isnull=True) | Q(lease_expires_at__lt=now)


def task_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Open tasks nobody labeled yet that ``user`` may be offered, in serving order.

    Priority first, then the least confident prefill (the crops the model is least sure
    of teach it most), then age. Walks the partial index ``task_queue_idx`` in order and
    stops at the LIMIT the caller applies; it never scans all open rows. A task the user
    skipped is passed over (an anti-join, an index probe of ``skip_unique_task_annotator``;
    the label probe, ``label_task_annotator_idx``, matters for ``pending_queue``).
    """
    return (
        Task.objects.filter(status=TaskStatus.OPEN, labels_count=0)
        .filter(task_available(now))
        .filter(_not_passed_by(user))
        .order_by("-priority", "confidence", "id")
    )


def pending_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Open tasks that have labels and want more (redundancy), which ``user`` neither
    labeled nor skipped, in the same order (partial index ``task_pending_idx``): the k
    labels of a crop come from k different people. These are served before fresh ones,
    so that begun crops are finished first.
    """
    return (
        Task.objects.filter(status=TaskStatus.OPEN, labels_count__gt=0)
        .filter(task_available(now))
        .filter(_not_passed_by(user))
        .order_by("-priority", "confidence", "id")
    )


def gold_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Gold items ``user`` has never answered (nor labeled, nor skipped), free to lease.

    Walks the partial index ``task_gold_idx``: as many rows as there are gold items at
    most, whatever the length of the labeling queue.
    """
    return (
        Task.objects.filter(status=TaskStatus.GOLD)
        .filter(task_available(now))
        .filter(_not_passed_by(user))
        .order_by("id")
    )


def _not_passed_by(user) -> Q:
    """Neither skipped nor labeled by ``user``: per candidate row, a probe of
    ``skip_unique_task_annotator`` and one of ``label_task_annotator_idx``."""
    return ~Exists(Skip.objects.filter(task=OuterRef("pk"), annotator=user)) & ~Exists(
        Label.objects.filter(task=OuterRef("pk"), annotator=user)
    )
