"""Leasing: handing tasks to annotators (the queue's head, gold interleaved), skipping,
renewing a lease.

Access checks happen before these are called (``annotations/api``, ``roles``).
"""

import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from annotations import loop_sql, queues
from annotations.loop_sql import Lease
from annotations.models import Skip, Task
from quality import selectors as quality_selectors


class LabelConflict(Exception):
    """The task was labeled by someone else after this annotator lost its lease."""


def _gold_slots(*, wanted: int, rate: float) -> int:
    """How many of ``wanted`` fresh slots are gold items this time (each with ``rate``)."""
    if rate <= 0:
        return 0
    return sum(random.random() < rate for _ in range(wanted))  # noqa: S311  sampling, not security


def task_lease_next(*, user, count: int = 1) -> list[Lease]:
    """Leases up to ``count`` tasks to ``user``; tasks the user still holds come first.

    Assumes the caller checked that ``user`` may label. Then gold items (each fresh slot
    one with the project's ``gold_rate``, one the user never answered), then begun crops
    that want more labels (redundancy), then crops nobody labeled, each in the queue's
    order (``queues``); tasks the user labeled or skipped are passed over. In blind mode
    the lease is marked so (the payload then carries no prefill). Not audited: a lease
    shows nothing; the image view that follows is.
    """
    count = max(1, min(count, settings.TASK_LEASE_MAX_COUNT))
    now = timezone.now()
    qs = quality_selectors.quality_settings()
    return loop_sql.task_lease(
        user_id=user.pk,
        now=now,
        expires=now + timedelta(seconds=settings.TASK_LEASE_SECONDS),
        count=count,
        gold=_gold_slots(wanted=count, rate=qs.gold_rate),
        blind=qs.blind_mode,
    )


def task_taken_by_someone_else(*, task: Task, user, now) -> bool:
    """Done (or in review) already, or another annotator holds a lease not run out."""
    held_by_other = (
        task.leased_to_id not in (None, user.pk)
        and task.lease_expires_at is not None
        and task.lease_expires_at >= now
    )
    return task.status not in queues.LEASABLE or held_by_other


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
        if task_taken_by_someone_else(task=task, user=user, now=now):
            raise LabelConflict("This word has been given to someone else meanwhile.")
        task.leased_to = user
        task.lease_expires_at = now + timedelta(seconds=settings.TASK_LEASE_SECONDS)
        task.save(update_fields=["leased_to", "lease_expires_at"])
    return task
