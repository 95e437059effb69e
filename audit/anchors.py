"""Chain heads copied out of the database, so that a chain rewritten from scratch is caught.

Every minute (Celery beat, ``AUDIT_ANCHOR_SECONDS``) the sealer seals what is pending and
copies the head of the chain, when it moved, as a small JSON object to the ``audit``
storage: a folder in the embedded default, an S3 bucket in production, where
``AUDIT_OBJECT_LOCK_DAYS`` puts each anchor under S3 Object Lock (compliance mode) so
that not even the bucket's owner can change or delete it. Each anchor names the one
before it, so a removed anchor is itself a finding.

``coverage_problems`` holds the promise ``audit_verify`` checks: every event older than
``AUDIT_ANCHOR_WINDOW_SECONDS`` is sealed and covered by an anchor. Someone who can write
the database but not the anchor store can therefore remove or rewrite only events newer
than that window (docs/adr/0008-audit-anchors.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from audit.chain import Problem, chain_head
from audit.models import AuditEvent

FOLDER = "anchors"


@dataclass(frozen=True)
class Anchor:
    seq: int
    chain_hash: str
    written_at: datetime | None
    previous_seq: int | None  # the anchor before it; None for the first, or an old anchor


def _storage():
    return storages["audit"]


def anchor_name(seq: int) -> str:
    return f"{FOLDER}/{seq:015d}.json"


def read_anchor_records() -> list[Anchor]:
    """Every anchor in storage, oldest first."""
    storage = _storage()
    try:
        _, files = storage.listdir(FOLDER)
    except FileNotFoundError:
        return []
    found = []
    for file_name in sorted(files):
        if not file_name.endswith(".json"):
            continue
        with storage.open(f"{FOLDER}/{file_name}", "rb") as handle:
            body = json.loads(handle.read())
        written = body.get("written_at")
        found.append(
            Anchor(
                seq=int(body["seq"]),
                chain_hash=str(body["chain_hash"]),
                written_at=datetime.fromisoformat(written) if written else None,
                previous_seq=body.get("previous_seq"),
            )
        )
    return found


def write_anchor() -> tuple[int, str] | None:
    """Copies the current chain head out; None when nothing is sealed or it is copied already."""
    seq, chain_hash = chain_head()
    if seq == 0:
        return None
    name = anchor_name(seq)
    storage = _storage()
    if storage.exists(name):
        return None
    known = read_anchor_records()
    body = {
        "seq": seq,
        "chain_hash": chain_hash,
        "written_at": timezone.now().isoformat(),
        "previous_seq": known[-1].seq if known else 0,
    }
    storage.save(name, ContentFile(json.dumps(body).encode()))
    return seq, chain_hash


ANCHORED_KEY = "audit:anchored_seq"


def note_anchored() -> None:
    """Tells /healthz, through the shared cache, how far the chain is anchored now (the
    head just written, or found already written)."""
    seq, _ = chain_head()
    cache.set(ANCHORED_KEY, seq, timeout=None)


def unanchored_since(*, now: datetime | None = None) -> datetime | None:
    """When the oldest sealed event past the last anchor ``note_anchored`` saw was
    written; None when every sealed event is anchored or no anchor was noted yet."""
    anchored = cache.get(ANCHORED_KEY)
    if anchored is None:
        return None
    return (
        AuditEvent.objects.filter(seq__gt=anchored)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )


def read_anchors() -> list[tuple[int, str]]:
    """Every anchor in storage, as (seq, chain hash), oldest first."""
    return [(anchor.seq, anchor.chain_hash) for anchor in read_anchor_records()]


def anchor_window() -> timedelta:
    return timedelta(seconds=settings.AUDIT_ANCHOR_WINDOW_SECONDS)


def coverage_problems(
    anchors: Iterable[Anchor], *, now: datetime | None = None, window: timedelta | None = None
) -> list[Problem]:
    """What breaks the promise that every event older than ``window`` is sealed and anchored.

    Read only. An event sealed beyond the newest anchor and older than the window means an
    anchor is missing (removed, or the sealer stopped anchoring); an unsealed event older
    than the window was never sealed or was taken out of the chain (edited, re-hashed and
    unsealed); an anchor naming a predecessor that is not there was removed.
    """
    now = now or timezone.now()
    window = window if window is not None else anchor_window()
    cutoff = now - window
    anchors = sorted(anchors, key=lambda anchor: anchor.seq)
    problems = []
    present = {anchor.seq for anchor in anchors}
    for anchor in anchors:
        if anchor.previous_seq and anchor.previous_seq not in present:
            problems.append(
                Problem(
                    f"the anchor at seq {anchor.seq} follows an anchor at seq "
                    f"{anchor.previous_seq}, which is missing (an anchor was removed)"
                )
            )
    anchored = anchors[-1].seq if anchors else 0
    uncovered = (
        AuditEvent.objects.filter(seq__gt=anchored, occurred_at__lt=cutoff)
        .order_by("seq")
        .values_list("id", "seq")
        .first()
    )
    if uncovered is not None:
        problems.append(
            Problem(
                f"sealed more than {window.total_seconds():.0f} s ago but not covered by an "
                f"anchor (the newest covers seq {anchored}): an anchor is missing, or the "
                "sealer has stopped anchoring",
                event_id=uncovered[0],
                seq=uncovered[1],
            )
        )
    stale = (
        AuditEvent.objects.filter(seq__isnull=True, occurred_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if stale is not None:
        problems.append(
            Problem(
                f"not sealed {window.total_seconds():.0f} s after it was written: the sealer "
                "has stopped, or the event was taken out of the chain (edited and unsealed)",
                event_id=stale,
            )
        )
    return problems


def object_lock_parameters() -> dict:
    """S3 put parameters that lock an anchor for ``AUDIT_OBJECT_LOCK_DAYS`` (0: no lock)."""
    days = settings.AUDIT_OBJECT_LOCK_DAYS
    if not days:
        return {}
    return {
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockRetainUntilDate": timezone.now() + timedelta(days=days),
    }
