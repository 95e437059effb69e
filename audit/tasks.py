"""Celery beat's audit work: seal the chain, copy its head out, archive old events."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from audit import anchors, archive, chain


@shared_task(name="audit.seal_chain", ignore_result=True)
def seal_chain() -> int:
    return chain.seal()


@shared_task(name="audit.write_anchor", ignore_result=True)
def write_anchor() -> None:
    chain.seal()
    anchors.write_anchor()
    anchors.note_anchored()


@shared_task(name="audit.archive_old_events", ignore_result=True)
def archive_old_events() -> int:
    """Archives events older than AUDIT_RETENTION_DAYS (nothing when it is 0)."""
    if not settings.AUDIT_RETENTION_DAYS:
        return 0
    created = archive.archive_older_than(timedelta(days=settings.AUDIT_RETENTION_DAYS))
    return sum(item.events for item in created)
