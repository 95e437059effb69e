"""Celery tasks of the exports domain: ids in, one service call, retries only."""

from celery import shared_task

from exports import services


@shared_task(name="exports.build", acks_late=True)
def build(export_id: str) -> None:
    # Idempotent: only a queued export is built; a redelivered message finds it running
    # or done and leaves it.
    services.export_build(export_id=export_id)


@shared_task(name="exports.expire")
def expire() -> int:
    return services.exports_expire()


@shared_task(name="exports.requeue_stalled")
def requeue_stalled() -> tuple[int, int]:
    return services.exports_requeue_stalled()
