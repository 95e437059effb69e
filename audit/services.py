"""Writing the audit trail.

``record`` must be called inside the transaction of the thing it records, so the
event and the change commit or roll back together (invariant 2).
"""

from typing import Any

from django.db import models

from audit.actions import ACTIONS
from audit.models import ActorType, AuditEvent

SYSTEM = object()  # the actor for work done by the pipeline itself


def _actor_fields(actor: Any) -> dict[str, str]:
    if actor is SYSTEM or actor is None:
        return {"actor_type": ActorType.SYSTEM, "actor_id": "", "actor_label": "system"}
    # A service token (annotations.ServiceToken) marks itself with this attribute,
    # so this app needs no import of annotations.
    if getattr(actor, "is_service_token", False):
        return {
            "actor_type": ActorType.SERVICE,
            "actor_id": str(actor.pk),
            "actor_label": f"service:{actor.name}",
        }
    return {
        "actor_type": ActorType.USER,
        "actor_id": str(actor.pk),
        "actor_label": actor.get_username(),
    }


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    if action not in ACTIONS:
        raise ValueError(f"Unregistered audit action {action!r}: add it to audit/actions.py")
    return AuditEvent.objects.create(
        **_actor_fields(actor),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
        ip_address=ip_address,
    )
