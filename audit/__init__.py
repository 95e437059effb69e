"""The audit trail: one entry point, ``audit.record(...)``.

Imported lazily so that ``import audit`` works before the app registry is ready.
"""

from typing import Any


def record(**kwargs: Any) -> Any:
    from audit.services import record as _record

    return _record(**kwargs)
