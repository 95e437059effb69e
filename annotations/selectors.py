"""Reads of the labeling domain, with the access rule each one applies."""

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from annotations import roles
from annotations.models import (
    Donation,
    Label,
    ServiceToken,
    Skip,
    Task,
    TaskStatus,
    WordCrop,
)


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


def crop_get_for_viewer(*, user, crop_id: int) -> WordCrop | None:
    """The holder of the crop's open task, its labeler (to undo), or a reviewer may see it."""
    crop = WordCrop.objects.select_related("donation", "task").filter(pk=crop_id).first()
    if crop is None:
        return None
    if roles.can_review(user):
        return crop
    task: Task | None = getattr(crop, "task", None)
    if (
        roles.can_label(user)
        and task is not None
        and task.status == TaskStatus.OPEN
        and task.leased_to_id == user.pk
    ):
        return crop
    if roles.can_label(user) and Label.objects.filter(crop=crop, annotator=user).exists():
        return crop
    return None


def labels_mine(*, user, limit: int) -> QuerySet[Label]:
    """The annotator's current labels (not those replaced by a correction), newest first."""
    return Label.objects.filter(annotator=user, revision__isnull=True).order_by(
        "-created_at", "-id"
    )[:limit]


def task_available(now: datetime) -> Q:
    """Nobody holds the task, or its holder's lease ran out."""
    return Q(leased_to__isnull=True) | Q(lease_expires_at__lt=now)


def task_queue(*, user, now: datetime) -> QuerySet[Task]:
    """Open tasks ``user`` may be offered, in serving order.

    Priority first, then the least confident prefill (the crops the model is least sure
    of teach it most), then age. Walks the partial index ``task_queue_idx`` in order and
    stops at the LIMIT the caller applies; it never scans all open rows.
    """
    return (
        Task.objects.filter(status=TaskStatus.OPEN)
        .filter(task_available(now))
        .filter(~Exists(Skip.objects.filter(task=OuterRef("pk"), annotator=user)))
        .order_by("-priority", "confidence", "id")
    )
