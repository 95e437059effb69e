"""Beat tasks of label quality: statistics and queue snapshots, off the annotator's path."""

from celery import shared_task

from quality import services


@shared_task(name="quality.refresh_stats")
def refresh_stats() -> int:
    return services.annotator_stats_refresh()


@shared_task(name="quality.snapshot_queue")
def snapshot_queue() -> int:
    return services.queue_snapshot_take().pk
