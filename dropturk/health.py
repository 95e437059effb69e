"""``GET /healthz``: is each backing service reachable, and is the background work alive?

200 only when every check passes. Besides the database, storage and broker it reports:

- ``beat``: beat sends ``dropturk.heartbeat`` every ``HEALTH_HEARTBEAT_SECONDS`` and a
  worker stamps the time in the shared cache; older than ``HEALTH_BEAT_STALE_SECONDS``
  means beat (or every worker of the default queue) is dead, and with it sealing,
  anchors and both stalled-work sweeps.
- ``audit_chain``: the oldest event not yet sealed is younger than
  ``HEALTH_UNSEALED_MAX_SECONDS`` (the sealer runs every 10 s), and no sealed event older
  than ``AUDIT_ANCHOR_WINDOW_SECONDS`` lies past the last anchor the sealer wrote.
- ``pipeline``: no donation is stuck: ``processing`` past what the stalled sweep allows
  (``OCR_STALLED_PROCESSING_SECONDS`` plus two sweeps), or ``received`` past twice
  ``OCR_STALLED_AFTER_SECONDS``.
"""

import logging
import time
from datetime import timedelta

from celery import current_app, shared_task
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import storages
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "dropturk:beat:heartbeat"
_STARTED = time.time()  # a fresh process gives beat one stale period to be heard


class Unhealthy(Exception):
    pass


@shared_task(name="dropturk.heartbeat", ignore_result=True)
def heartbeat() -> None:
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_storage() -> None:
    # A lookup, not a write: for S3 this is one HEAD request.
    storages["donations"].exists("healthz-probe")


def _check_broker() -> None:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


def _check_beat() -> None:
    stale_after = settings.HEALTH_BEAT_STALE_SECONDS
    last = cache.get(HEARTBEAT_KEY)
    if last is None:
        if time.time() - _STARTED > stale_after:
            raise Unhealthy(f"no heartbeat from beat in {stale_after} s: beat is not running")
        return
    age = time.time() - float(last)
    if age > stale_after:
        raise Unhealthy(
            f"beat's last heartbeat is {age:.0f} s old (limit {stale_after} s): beat or "
            "the default queue's workers are dead; sealing, anchors and sweeps have stopped"
        )


def _check_audit_chain() -> None:
    from audit import anchors
    from audit.models import AuditEvent

    # The sealer's own partial index (unsealed events, by id): the oldest is the first.
    oldest = (
        AuditEvent.objects.filter(seq__isnull=True)
        .order_by("id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if oldest is not None:
        age = (timezone.now() - oldest).total_seconds()
        if age > settings.HEALTH_UNSEALED_MAX_SECONDS:
            raise Unhealthy(
                f"an audit event has waited {age:.0f} s to be sealed "
                f"(limit {settings.HEALTH_UNSEALED_MAX_SECONDS} s): the sealer is not running"
            )
    since = anchors.unanchored_since()
    window = settings.AUDIT_ANCHOR_WINDOW_SECONDS
    if since is not None and (timezone.now() - since).total_seconds() > window:
        raise Unhealthy(
            f"audit events older than the anchor window ({window} s) are not anchored: "
            "anchors are not being written (their storage, or the sealer)"
        )


def _check_pipeline() -> None:
    from annotations.models import Donation, DonationStatus

    now = timezone.now()
    sweep = settings.OCR_STALLED_SWEEP_SECONDS
    processing_limit = settings.OCR_STALLED_PROCESSING_SECONDS + 2 * sweep
    received_limit = 2 * settings.OCR_STALLED_AFTER_SECONDS
    stuck_processing = Donation.objects.filter(
        status=DonationStatus.PROCESSING, updated_at__lt=now - timedelta(seconds=processing_limit)
    ).count()
    stuck_received = Donation.objects.filter(
        status=DonationStatus.RECEIVED, updated_at__lt=now - timedelta(seconds=received_limit)
    ).count()
    if stuck_processing or stuck_received:
        raise Unhealthy(
            f"{stuck_processing} donation(s) processing for over {processing_limit} s and "
            f"{stuck_received} waiting for over {received_limit} s: no worker takes them"
        )


CHECKS = {
    "database": _check_database,
    "storage": _check_storage,
    "broker": _check_broker,
    "beat": _check_beat,
    "audit_chain": _check_audit_chain,
    "pipeline": _check_pipeline,
}


@never_cache
def healthz(request):
    report: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Unhealthy as exc:
            logger.warning("health check %s: %s", name, exc)
            report[name] = {"ok": False, "error": str(exc)[:300]}
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, exc)
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            report[name] = {"ok": True}
        report[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(item["ok"] for item in report.values())
    return JsonResponse({"ok": healthy, "checks": report}, status=200 if healthy else 503)
