"""Reads of the labeling domain, with the access rule each one applies."""

from django.db.models import QuerySet

from accounts.models import ServiceToken
from annotations import loop_sql, roles
from annotations.models import Donation, Label, LabelKind, WordCrop
from annotations.queues import (  # noqa: F401  the queue's reads, where callers look for them
    LEASABLE,
    QUEUE_ORDER,
    gold_queue,
    pending_queue,
    task_available,
    task_queue,
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
    """The holder of the crop's open task, its labeler (to undo), or a reviewer may see it.

    The crop holds its id, donation id and image name, and ``crop.donation`` its id and
    wrapped key (other fields load on access): what reading the image needs.
    """
    found = loop_sql.crop_for_viewer(crop_id=crop_id)
    if found is None:
        return None
    if not _may_view_crop(
        user=user,
        crop_id=found.crop.pk,
        task_status=found.task_status,
        task_holder_id=found.task_holder_id,
    ):
        return None
    return found.crop


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
