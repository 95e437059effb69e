"""Writing the audit trail.

``record`` must be called inside the transaction of the thing it records, so the
event and the change commit or roll back together (invariant 2). It only inserts: the
event's place in the hash chain is given by the sealer (``audit.chain.seal``), so
concurrent writers never wait for each other on the chain's head.
"""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from audit import context
from audit.actions import ACTIONS
from audit.chain import content_hash
from audit.models import ActorType, AuditEvent, Outcome
from dbkit import prepared

# Keys whose values could carry a donation's text; personal data stays out of the trail.
FORBIDDEN_DATA_KEYS = frozenset({"text", "transcription", "prefill_text", "image", "password"})


def _actor_fields(actor: Any) -> dict[str, str]:
    if actor is None:  # audit.SYSTEM
        return {"actor_type": ActorType.SYSTEM, "actor_id": "", "actor_label": "system"}
    # A service token (annotations.ServiceToken) marks itself with this attribute,
    # so this app needs no import of annotations.
    if getattr(actor, "is_service_token", False):
        return {
            "actor_type": ActorType.SERVICE,
            "actor_id": str(actor.pk),
            "actor_label": f"service:{actor.name}",
        }
    if not getattr(actor, "is_authenticated", False):  # AnonymousUser: a failed sign-in
        return {"actor_type": ActorType.USER, "actor_id": "", "actor_label": "anonymous"}
    return {
        "actor_type": ActorType.USER,
        "actor_id": str(actor.pk),
        "actor_label": actor.get_username(),
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON that reads back identically from any database.

    Floats become strings: PostgreSQL's jsonb may print them differently (1e20 comes
    back as an integer), which would change the event's hash.
    """
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _details(data: dict[str, Any] | None) -> dict[str, Any]:
    if not data:
        return {}
    forbidden = FORBIDDEN_DATA_KEYS.intersection(data)
    if forbidden:
        raise ValueError(f"Audit details must not carry {sorted(forbidden)}: personal data")
    return _plain(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: Any = "",
    data: dict[str, Any] | None = None,
    outcome: str = Outcome.SUCCESS,
    ip_address: str | None = None,
) -> AuditEvent:
    """Appends one event. ``target`` (a model instance) or ``target_type`` + ``target_id``.

    The request id and, unless given, the client IP come from ``audit.context``.
    """
    if action not in ACTIONS:
        raise ValueError(f"Unregistered audit action {action!r}: add it to audit/actions.py")
    if outcome not in Outcome.values:
        raise ValueError(f"Unknown audit outcome {outcome!r}")
    if target is not None:
        target_type, target_id = target._meta.label_lower, target.pk
    now = context.current()
    ip_field = AuditEvent._meta.get_field("ip_address")
    event = AuditEvent(
        occurred_at=timezone.now(),
        **_actor_fields(actor),
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        outcome=outcome,
        ip_address=ip_field.to_python(ip_address or now.ip_address or None),
        request_id=now.request_id,
        data=_details(data),
    )
    event.content_hash = content_hash(event)
    # A statement prepared once per database session: events are written on every
    # request of the annotator loop, and the ORM's compile of the INSERT cost more than it.
    prepared.insert(event)
    return event
