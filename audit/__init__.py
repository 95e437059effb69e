"""The audit trail: one entry point, ``audit.record(...)``.

Imported lazily so that ``import audit`` works before the app registry is ready.
"""

from typing import Any

SYSTEM = None  # the actor for work the platform does by itself (pipeline, beat tasks)


def record(**kwargs: Any) -> Any:
    from audit.services import record as _record

    return _record(**kwargs)
