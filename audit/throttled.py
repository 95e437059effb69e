"""Refusals counted per address and minute, so a flood of bad requests is one event a minute.

Each refused attempt still counts (in the shared cache); the first attempt from an address
in a minute writes one event, which also carries how many attempts that address made in
the minute before. 300 requests with a fake token in 3 s are one row, not 300.
"""

from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from audit import context
from audit.models import Outcome

_KEY = "audit:refusals:{action}:{address}:{minute}"


def _key(action: str, address: str, minute) -> str:
    return _KEY.format(action=action, address=address, minute=minute.strftime("%Y%m%dT%H%M"))


def record_refusal(
    *,
    action: str,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
    outcome: str = Outcome.DENIED,
) -> bool:
    """Counts one refused attempt; writes the minute's event on the first. True if written."""
    from audit.services import record

    address = ip_address or context.current().ip_address or "unknown"
    minute = timezone.now().replace(second=0, microsecond=0)
    key = _key(action, address, minute)
    # Kept two minutes: the next minute's event reads this one's count.
    if not cache.add(key, 1, timeout=150):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=150)
        return False
    before = cache.get(_key(action, address, minute - timedelta(minutes=1)))
    record(
        actor=None,
        action=action,
        outcome=outcome,
        ip_address=address if address != "unknown" else None,
        data={
            **(data or {}),
            "minute": minute.isoformat(),
            "attempts_previous_minute": int(before or 0),
        },
    )
    return True
