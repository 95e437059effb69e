"""Retention: old sealed events move to signed, chained archive files, then leave the table.

An archive file (gzip'd JSON lines in the ``audit`` storage) holds a header, the events
of a contiguous run of the chain with all their hashes, and an HMAC signature over both.
Each archive row names the previous file's SHA-256, so the files form a chain too. The
events are deleted only after the stored file was read back and verified, and only
events a verified archive covers can be deleted (a database trigger enforces that on
PostgreSQL), so the verifier can always explain where the table's chain starts.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime

from audit.chain import _VERIFY_COLUMNS, Problem, check_link, seal
from audit.models import AuditArchive, AuditEvent

FORMAT = "dropturk-audit-archive/1"
FOLDER = "archives"
MAX_EVENTS_PER_FILE = 200_000
_SIGNING_SALT = "dropturk.audit.archive"


class ArchiveError(Exception):
    """An archive could not be written or did not verify; nothing was deleted."""


def _storage():
    return storages["audit"]


def _sign(payload: bytes, secret: str | bytes | None = None) -> str:
    return salted_hmac(_SIGNING_SALT, payload, secret=secret, algorithm="sha256").hexdigest()


def _signature_ok(payload: bytes, signature: str) -> bool:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(_sign(payload, secret), signature) for secret in secrets)


def _row_json(row: dict) -> dict:
    return {**row, "occurred_at": row["occurred_at"].isoformat(timespec="microseconds")}


def _rows_between(first_seq: int, last_seq: int) -> Iterator[dict]:
    after = first_seq - 1
    while after < last_seq:
        page = list(
            AuditEvent.objects.filter(seq__gt=after, seq__lte=last_seq)
            .order_by("seq")
            .values(*_VERIFY_COLUMNS)[:2000]
        )
        if not page:
            return
        yield from page
        after = page[-1]["seq"]


def _archivable_range(cutoff) -> tuple[int, int] | None:
    """The run of sealed events at the chain's start that are all older than ``cutoff``."""
    first = AuditEvent.objects.filter(seq__isnull=False).aggregate(first=Min("seq"))["first"]
    if first is None:
        return None
    newer = AuditEvent.objects.filter(seq__isnull=False, occurred_at__gte=cutoff).aggregate(
        first=Min("seq")
    )["first"]
    head = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    last = min(head, (newer - 1) if newer is not None else head, first + MAX_EVENTS_PER_FILE - 1)
    return (first, last) if last >= first else None


def _chain_hash_before(first_seq: int, previous: AuditArchive | None) -> str:
    """What the first archived event links to: the last archive's end, or its own prev_hash."""
    if previous is not None:
        return previous.last_chain_hash
    return (
        AuditEvent.objects.filter(seq=first_seq).values_list("prev_hash", flat=True).first() or ""
    )


def _build_file(
    first_seq: int, last_seq: int, prev_hash: str, previous: AuditArchive | None
) -> tuple[bytes, str, int]:
    """Gzip'd archive bytes for the events first_seq..last_seq, their last chain hash, count."""
    header = {
        "format": FORMAT,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "prev_hash": prev_hash,
        "prev_file_sha256": previous.file_sha256 if previous is not None else "",
    }
    payload = io.BytesIO()
    payload.write(json.dumps(header, sort_keys=True).encode() + b"\n")
    chain_hash, expected, count = prev_hash, first_seq, 0
    for row in _rows_between(first_seq, last_seq):
        problem = check_link(row, expected_seq=expected, prev_hash=chain_hash)
        if problem is not None:
            raise ArchiveError(f"the chain does not verify, nothing archived: {problem}")
        payload.write(json.dumps(_row_json(row), sort_keys=True).encode() + b"\n")
        chain_hash, expected, count = row["chain_hash"], expected + 1, count + 1
    if expected != last_seq + 1:
        raise ArchiveError(
            f"events up to seq {last_seq} expected, the chain stops at {expected - 1}"
        )
    body = payload.getvalue()
    body += json.dumps({"signature": _sign(body)}).encode() + b"\n"
    return gzip.compress(body, mtime=0), chain_hash, count


def archive_older_than(age: timedelta) -> list[AuditArchive]:
    """Archives every sealed event older than ``age``, file by file; returns the new archives."""
    seal()
    created = []
    cutoff = timezone.now() - age
    while (span := _archivable_range(cutoff)) is not None:
        first_seq, last_seq = span
        previous = AuditArchive.objects.order_by("-last_seq").first()
        prev_hash = _chain_hash_before(first_seq, previous)
        data, last_hash, count = _build_file(first_seq, last_seq, prev_hash, previous)
        name = f"{FOLDER}/{first_seq:015d}-{last_seq:015d}.jsonl.gz"
        storage = _storage()
        if storage.exists(name):
            raise ArchiveError(f"{name} exists already; refusing to overwrite an archive")
        storage.save(name, ContentFile(data))
        archive = AuditArchive(
            first_seq=first_seq,
            last_seq=last_seq,
            prev_hash=prev_hash,
            last_chain_hash=last_hash,
            events=count,
            file_name=name,
            file_sha256=hashlib.sha256(data).hexdigest(),
            prev_file_sha256=previous.file_sha256 if previous is not None else "",
        )
        problem = verify_file(archive)  # read back from storage, as the verifier will
        if problem is not None:
            raise ArchiveError(f"the archive written to {name} does not verify: {problem}")
        with transaction.atomic():
            archive.save()
            AuditEvent.objects.filter(seq__gte=first_seq, seq__lte=last_seq).delete()
        created.append(archive)
    return created


def verify_file(archive: AuditArchive) -> Problem | None:
    """Reads an archive file back and checks its hash, signature, header and every link."""
    try:
        with _storage().open(archive.file_name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return Problem(f"archive file {archive.file_name} is missing", seq=archive.first_seq)
    if hashlib.sha256(data).hexdigest() != archive.file_sha256:
        return Problem(f"archive file {archive.file_name} was changed", seq=archive.first_seq)
    body = gzip.decompress(data)
    payload, _, footer = body.rstrip(b"\n").rpartition(b"\n")
    payload += b"\n"
    if not _signature_ok(payload, json.loads(footer).get("signature", "")):
        return Problem(
            f"archive file {archive.file_name} has a bad signature", seq=archive.first_seq
        )
    lines = payload.splitlines()
    header = json.loads(lines[0])
    if (header["first_seq"], header["last_seq"], header["prev_hash"]) != (
        archive.first_seq,
        archive.last_seq,
        archive.prev_hash,
    ):
        return Problem(
            f"archive file {archive.file_name} does not match its record", seq=archive.first_seq
        )
    chain_hash, expected = archive.prev_hash, archive.first_seq
    for line in lines[1:]:
        row = json.loads(line)
        row["occurred_at"] = parse_datetime(row["occurred_at"])
        problem = check_link(row, expected_seq=expected, prev_hash=chain_hash)
        if problem is not None:
            return Problem(
                f"in archive {archive.file_name}: {problem.message}", row.get("id"), row.get("seq")
            )
        chain_hash, expected = row["chain_hash"], expected + 1
    if expected != archive.last_seq + 1 or chain_hash != archive.last_chain_hash:
        return Problem(f"archive file {archive.file_name} is incomplete", seq=archive.first_seq)
    return None


def verify_all() -> Iterator[tuple[Problem | None, AuditArchive]]:
    """Each archive in order, checked on its own and against the one before it."""
    previous = None
    for archive in AuditArchive.objects.order_by("first_seq").iterator():
        expected_first = previous.last_seq + 1 if previous is not None else None
        if previous is not None and (
            archive.first_seq != expected_first
            or archive.prev_hash != previous.last_chain_hash
            or archive.prev_file_sha256 != previous.file_sha256
        ):
            yield (
                Problem(
                    f"archive {archive.file_name} does not follow the one before it",
                    seq=archive.first_seq,
                ),
                archive,
            )
            return
        yield verify_file(archive), archive
        previous = archive


def archived_anchor_hashes(anchors: dict[int, str]) -> dict[int, str]:
    """Chain hashes known from archive records at the anchors' positions."""
    return dict(
        AuditArchive.objects.filter(last_seq__in=list(anchors)).values_list(
            "last_seq", "last_chain_hash"
        )
    )
