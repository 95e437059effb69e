"""Reads of the labeling domain, with the access rule each one applies."""

from django.db.models import QuerySet

from annotations import roles
from annotations.models import Donation, ServiceToken, Task, TaskStatus, WordCrop


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
    """The holder of the crop's open task, or a reviewer, may see a crop's image."""
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
    return None
