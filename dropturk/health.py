"""``GET /healthz``: is each backing service reachable? 200 only when all are."""

import logging
import time

from celery import current_app
from django.core.files.storage import storages
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_storage() -> None:
    # A lookup, not a write: for S3 this is one HEAD request.
    storages["donations"].exists("healthz-probe")


def _check_broker() -> None:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


CHECKS = {"database": _check_database, "storage": _check_storage, "broker": _check_broker}


@never_cache
def healthz(request):
    report: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, exc)
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            report[name] = {"ok": True}
        report[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(item["ok"] for item in report.values())
    return JsonResponse({"ok": healthy, "checks": report}, status=200 if healthy else 503)
