"""The hash chain over audit events: canonical form, sealing, and verification.

Writers only insert (``audit.record``); ``seal`` then orders the unsealed events and links
each to the previous one under a lock, so there is one chain however many processes
write. ``verify`` walks the chain in ``seq`` order, a page at a time (constant memory),
and names the first event that was edited, removed, inserted or moved. Anchors (chain
heads copied elsewhere, ``audit.anchors``) catch a chain rewritten from scratch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction

from audit.models import AuditArchive, AuditEvent

# pg_advisory_xact_lock key of the sealer ("audit" in ASCII): one sealer at a time.
SEAL_LOCK_KEY = 0x6175646974
SEAL_BATCH = 5000
VERIFY_PAGE = 2000

CANONICAL_FIELDS = (
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "ip_address",
    "request_id",
    "data",
)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_fields(values: dict) -> bytes:
    """The bytes an event's ``content_hash`` is taken over: sorted compact JSON."""
    canonical = {name: values[name] for name in CANONICAL_FIELDS}
    canonical["occurred_at"] = _utc(canonical["occurred_at"])
    canonical["ip_address"] = canonical["ip_address"] or ""
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(event: AuditEvent) -> str:
    values = {name: getattr(event, name) for name in CANONICAL_FIELDS}
    return hashlib.sha256(canonical_fields(values)).hexdigest()


def link_hash(*, seq: int, event_id: int, prev_hash: str, content: str) -> str:
    """The chain hash: binds the event's content to its place and to all before it."""
    return hashlib.sha256(f"{seq}\n{event_id}\n{prev_hash}\n{content}".encode()).hexdigest()


# --- Sealing ----------------------------------------------------------------------------


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
    # SQLite: our transactions are IMMEDIATE (settings), so the sealer's is the only
    # writer until it commits.


def chain_head() -> tuple[int, str]:
    """(seq, chain hash) of the last sealed event, counting archived ones; (0, "") if none."""
    head = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "chain_hash")
        .first()
    )
    if head is not None:
        return head
    archived = AuditArchive.objects.order_by("-last_seq").first()
    if archived is not None:
        return archived.last_seq, archived.last_chain_hash
    return 0, ""


def seal(*, batch_size: int = SEAL_BATCH) -> int:
    """Links every committed unsealed event into the chain, oldest id first; returns how many.

    An event whose transaction commits after a later id was sealed simply gets the next
    place: the chain's order is the order of sealing, never a fork.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            _lock_chain()
            seq, prev = chain_head()
            events = list(
                AuditEvent.objects.filter(seq__isnull=True)
                .order_by("id")
                .only("id", "content_hash")[:batch_size]
            )
            for event in events:
                seq += 1
                event.seq, event.prev_hash = seq, prev
                event.chain_hash = link_hash(
                    seq=seq, event_id=event.pk, prev_hash=prev, content=event.content_hash
                )
                prev = event.chain_hash
            AuditEvent.objects.bulk_update(
                events, ["seq", "prev_hash", "chain_hash"], batch_size=1000
            )
        sealed += len(events)
        if len(events) < batch_size:
            return sealed


# --- Verification -----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    message: str
    event_id: int | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.event_id is not None:
            where.append(f"event id {self.event_id}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class Report:
    checked: int = 0
    archived: int = 0
    unsealed: int = 0
    anchors: int = 0
    head_seq: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_VERIFY_COLUMNS = ("id", "seq", "prev_hash", "chain_hash", "content_hash", *CANONICAL_FIELDS)


def _sealed_rows(after_seq: int) -> Iterator[dict]:
    """Sealed events in seq order, a page at a time (keyset on seq: constant memory)."""
    while True:
        page = list(
            AuditEvent.objects.filter(seq__gt=after_seq)
            .order_by("seq")
            .values(*_VERIFY_COLUMNS)[:VERIFY_PAGE]
        )
        yield from page
        if len(page) < VERIFY_PAGE:
            return
        after_seq = page[-1]["seq"]


def check_link(row: dict, *, expected_seq: int, prev_hash: str) -> Problem | None:
    """What is wrong with one sealed event given the one before it, or None."""
    event_id, seq = row["id"], row["seq"]
    if seq != expected_seq:
        missing = "missing (removed?)" if seq > expected_seq else "out of order"
        return Problem(
            f"expected seq {expected_seq} here, found {seq}: events {missing}", event_id, seq
        )
    if hashlib.sha256(canonical_fields(row)).hexdigest() != row["content_hash"]:
        return Problem("its content does not match its hash (edited)", event_id, seq)
    if row["prev_hash"] != prev_hash:
        return Problem("does not link to the event before it (inserted or moved)", event_id, seq)
    expected = link_hash(
        seq=seq, event_id=event_id, prev_hash=prev_hash, content=row["content_hash"]
    )
    if row["chain_hash"] != expected:
        return Problem("its chain hash is wrong (rewritten)", event_id, seq)
    return None


def verify(*, anchors: Iterable[tuple[int, str]] = (), archives: bool = True) -> Report:
    """Walks archives, then the sealed events, then checks the anchors; stops at the first fault."""
    from audit import archive

    report = Report()
    prev_hash, last_seq = "", 0
    if archives:
        for problem, archived in archive.verify_all():
            if problem is not None:
                report.problems.append(problem)
                return report
            report.archived += archived.events
            prev_hash, last_seq = archived.last_chain_hash, archived.last_seq
    else:
        first = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").first()
        if first is not None:
            prev_hash, last_seq = first.prev_hash, first.seq - 1
    expected_anchors = dict(anchors)
    report.anchors = len(expected_anchors)
    hashes_at: dict[int, str] = {}
    for row in _sealed_rows(last_seq):
        problem = check_link(row, expected_seq=last_seq + 1, prev_hash=prev_hash)
        if problem is not None:
            report.problems.append(problem)
            return report
        if row["seq"] in expected_anchors:
            hashes_at[row["seq"]] = row["chain_hash"]
        prev_hash, last_seq = row["chain_hash"], row["seq"]
        report.checked += 1
    report.head_seq = last_seq
    report.problems.extend(_anchor_problems(expected_anchors, hashes_at, head_seq=last_seq))
    report.unsealed = AuditEvent.objects.filter(seq__isnull=True).count()
    return report


def _anchor_problems(expected: dict[int, str], seen: dict[int, str], *, head_seq: int):
    from audit import archive

    archived_hashes = archive.archived_anchor_hashes(expected)
    for seq in sorted(expected):
        actual = seen.get(seq, archived_hashes.get(seq))
        if seq > head_seq:
            yield Problem(
                f"an anchor records the chain up to seq {seq}, "
                f"but it ends at {head_seq} (events removed)"
            )
            return
        if actual is None:
            continue  # archived away before this anchor could be checked against its file
        if actual != expected[seq]:
            yield Problem(
                "the chain differs from its anchor here (the chain was rewritten)", seq=seq
            )
            return
