"""Writes of the exports domain. Each function states what it assumes.

Access (the ``ml_engineer`` role, the requester's own export, a recent re-authentication)
is checked in ``exports/api.py`` and ``selectors`` before these are called.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from celery import current_app
from django.conf import settings
from django.core.files.storage import storages
from django.db import InterfaceError, OperationalError, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

import audit
from annotations import blobs, crypto
from annotations.models import Donation, DonationStatus
from exports import archive, memory, selectors
from exports.formats import WRITERS, Member, Sample, WriteContext
from exports.formats.base import Skipped
from exports.manifest import ManifestBuilder
from exports.models import Export, ExportDonation, ExportFormat, ExportStatus
from exports.selectors import ExportFilters, ExportRow
from exports.spool import Data, FileStream, Spools, chunks_of

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 500
RETRY_AFTER_SECONDS = 60  # times the number of the attempt that failed
SELECTION_RULE = (
    "exports.selectors.accepted_labels: consensus accepted; the label it names, its confidence"
)


class ExportCancelled(Exception):
    """The export stopped being ``running`` (deleted or withdrawn) while it was built."""


class ExportUnavailable(Exception):
    """The export cannot be downloaded: not built, failed, expired or deleted."""


def _storage():
    return storages[settings.EXPORTS_STORAGE]


def archive_name_for(export_id: object, *, attempt: int) -> str:
    # One name per attempt: an attempt given up for lost that wakes up again removes its
    # own partial archive, never the next attempt's.
    return f"exports/{export_id}/{attempt}/archive.tar.enc"


def _archive_key_id(export_id: object) -> str:
    # The master-key wrap binds the key to an id; an export's is prefixed so that it can
    # never be confused with a donation's.
    return f"export:{export_id}"


# --- Requests ---------------------------------------------------------------------------


def export_request(*, user, format: str, filters: ExportFilters) -> Export:
    """Records the request and queues its build on commit. Assumes ``can_export(user)``."""
    if format not in ExportFormat.values:
        raise ValueError(f"unknown format {format!r}")
    with transaction.atomic():
        export = Export.objects.create(requester=user, format=format, filters=filters.as_dict())
        audit.record(
            actor=user,
            action="exports.export_request",
            target=export,
            data={"format": format, "filters": filters.as_dict()},
        )
        _enqueue_build(export.pk)
    return export


def _enqueue_build(export_id: object, *, countdown: int = 0) -> None:
    """Sends ``exports.build`` once the current transaction commits."""
    later = {"countdown": countdown} if countdown else {}
    transaction.on_commit(
        lambda: current_app.send_task("exports.build", args=(str(export_id),), **later),
        robust=True,
    )


# --- Building ---------------------------------------------------------------------------


# A crop whose stored blob is damaged (blobs.DAMAGED_BLOB_ERRORS): the export leaves it
# out and names it in the manifest rather than failing whole.


def _samples(
    rows: Iterable[ExportRow], counter: list[int], skipped: Skipped | None = None
) -> Iterator[Sample]:
    """The rows with their crop images, decrypted in memory, one donation key at a time;
    a crop whose image is damaged is left out (``skipped``)."""
    donation, key = None, b""
    for row in rows:
        if donation is None or str(donation.pk) != row.donation_id:
            donation = Donation.objects.get(pk=row.donation_id)
            key = blobs.data_key_for(donation)
        try:
            png = blobs.blob_get(donation=donation, name=row.image_name, data_key=key)
        except blobs.DAMAGED_BLOB_ERRORS as exc:
            if skipped is None:
                raise
            logger.warning("export: crop %s left out, its image is damaged: %r", row.crop_id, exc)
            skipped.add(row.crop_id, "stored image damaged or missing")
            continue
        counter[0] += 1
        yield Sample(row=row, png=png)


def _document_image(row: ExportRow) -> bytes:
    donation = Donation.objects.get(pk=row.donation_id)
    return blobs.blob_get(donation=donation, name=row.document_image_name)


def _header(*, export_id: object, fmt: str, filters: ExportFilters, requester: str) -> dict:
    return {
        "export_id": str(export_id),
        "format": fmt,
        "created_at": timezone.now().isoformat(),
        "requester": requester,
        "filters": filters.as_dict(),
        "lineage": {
            "source": "DropTurk",
            "selection": SELECTION_RULE,
            "split": "exports.selectors.split_of: sha256 of the donation id, 80/10/10",
        },
    }


def stream_members(
    *, fmt: str, samples: Iterable[Sample], manifest: ManifestBuilder, ctx: WriteContext
) -> Iterator[Member]:
    """The export's files in order, ``manifest.json`` last (it hashes all the others)."""
    memory.pin_mmap_threshold()
    manifest.notes = ctx.notes
    manifest.skipped = ctx.skipped
    writer = WRITERS[fmt]()
    for path, data in writer.members(manifest.observe(samples), ctx):
        manifest.add_file(path, data)
        yield path, data
    yield "manifest.json", manifest.render()


def write_directory(
    *, fmt: str, samples: Iterable[Sample], header: dict, ctx: WriteContext, out: Path
) -> ManifestBuilder:
    """Writes the export into ``out`` (plain files: the caller chose this directory)."""
    memory.pin_mmap_threshold()
    out.mkdir(parents=True, exist_ok=True)
    writer = WRITERS[fmt]()
    manifest = ManifestBuilder(header=header, spools=ctx.spools)
    manifest.notes = ctx.notes
    manifest.skipped = ctx.skipped
    if writer.writes_directory:
        for relative in writer.write_dir(manifest.observe(samples), ctx, out):
            manifest.add_file(relative, FileStream(out / relative))
    else:
        for path, data in writer.members(manifest.observe(samples), ctx):
            _write_file(out / path, data)
            manifest.add_file(path, data)
    _write_file(out / "manifest.json", manifest.render())
    return manifest


def _write_file(target: Path, data: Data) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        for chunk in chunks_of(data):
            handle.write(chunk)


def export_build(*, export_id: object) -> Export | None:
    """Builds a queued export into its encrypted archive. Idempotent: anything but a
    ``queued`` export is left as it is.

    The archive streams from the database cursor through the writer, tar and AES-GCM into
    storage; on failure or cancellation the partial archive is deleted. A failure another
    attempt may not meet (storage, network, database) queues the export again, up to
    ``EXPORT_MAX_ATTEMPTS`` attempts. At the end, under the row locks of its donations,
    the export lists them: a donation withdrawn meanwhile fails the build, one withdrawn
    later finds the export and deletes it.
    """
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != ExportStatus.QUEUED:
            return export
        export.attempts += 1
        export.status = ExportStatus.RUNNING
        export.started_at = export.heartbeat_at = timezone.now()
        export.archive_name = archive_name_for(export.pk, attempt=export.attempts)
        export.progress = 0
        filters = ExportFilters.from_dict(export.filters)
        export.total = selectors.export_count(filters=filters)
        export.save(
            update_fields=[
                "status",
                "attempts",
                "started_at",
                "heartbeat_at",
                "archive_name",
                "progress",
                "total",
            ]
        )
    attempt = export.attempts
    key = crypto.new_data_key()
    name = export.archive_name
    decrypted = [0]
    digest = archive.Digest()
    header = _header(
        export_id=export.pk,
        fmt=export.format,
        filters=filters,
        requester=export.requester.get_username(),
    )
    spools = Spools()
    ctx = WriteContext(document_image=_document_image, notes=[], spools=spools)
    source = selectors.export_rows(filters=filters)
    rows = _with_progress(export.pk, attempt, source)
    manifest = ManifestBuilder(header=header, spools=spools)
    members = stream_members(
        fmt=export.format,
        samples=_samples(rows, decrypted, ctx.skipped),
        manifest=manifest,
        ctx=ctx,
    )
    plaintext = digest.through(archive.tar_stream(members, mtime=export.started_at.timestamp()))
    sealed = archive.encrypt_stream(plaintext, key=key, export_id=str(export.pk))
    try:
        saved = archive.save_streaming(_storage(), name, sealed)
        if saved != name:
            raise RuntimeError(f"storage saved {name!r} as {saved!r}")
        return _finish(
            export=export,
            attempt=attempt,
            key=key,
            digest=digest,
            manifest=manifest,
            decrypted=decrypted[0],
        )
    except ExportCancelled:
        _delete_archive(name)
        logger.info("export %s stopped while it was built", export.pk)
        return Export.objects.get(pk=export.pk)
    except Exception as exc:
        _delete_archive(name)
        logger.exception("export %s failed (attempt %d)", export.pk, attempt)
        _attempt_end(
            export=export,
            attempt=attempt,
            retry=_transient(exc) and attempt < settings.EXPORT_MAX_ATTEMPTS,
            reason=f"{type(exc).__name__}: {exc}",
            audit_data={"reason": type(exc).__name__, "crops_decrypted": decrypted[0]},
        )
        return Export.objects.get(pk=export.pk)
    finally:
        source.close()  # its database cursor, now, not when the garbage is collected
        spools.close()


def _transient(exc: BaseException) -> bool:
    """A failure that another attempt may not meet: the network, storage, the database."""
    if isinstance(exc, OSError | OperationalError | InterfaceError | BotoCoreError):
        return True
    if isinstance(exc, ClientError):  # S3 answered: only its own troubles (5xx) pass
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return False


def _attempt_end(
    *,
    export: Export,
    attempt: int,
    retry: bool,
    reason: str,
    audit_data: dict,
    stalled_before: dt.datetime | None = None,
) -> bool:
    """Ends a running attempt that did not finish: queued again (``retry``, built again
    after ``RETRY_AFTER_SECONDS`` times the attempt) or failed. Only if that attempt is
    still the running one (and, for the sweep, still silent since ``stalled_before``)."""
    now = timezone.now()
    running = Export.objects.filter(pk=export.pk, status=ExportStatus.RUNNING, attempts=attempt)
    if stalled_before is not None:
        running = running.filter(heartbeat_at__lt=stalled_before)
    with transaction.atomic():
        if retry:
            updated = running.update(
                status=ExportStatus.QUEUED,
                reason=f"attempt {attempt} failed ({reason}); it will be built again"[:2000],
                heartbeat_at=now,
                archive_name="",
                progress=0,
            )
        else:
            updated = running.update(
                status=ExportStatus.FAILED, reason=reason[:2000], finished_at=now, archive_name=""
            )
        if not updated:
            return False
        if retry:
            audit.record(
                actor=audit.SYSTEM,
                action="exports.export_requeue",
                target=export,
                data={**audit_data, "attempt": attempt},
            )
            _enqueue_build(export.pk, countdown=RETRY_AFTER_SECONDS * attempt)
        else:
            audit.record(
                actor=audit.SYSTEM, action="exports.export_failed", target=export, data=audit_data
            )
    return True


def _with_progress(
    export_id: object, attempt: int, rows: Iterable[ExportRow]
) -> Iterator[ExportRow]:
    """Counts rows into the export's progress; stops the build once it is no longer running."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            _progress(export_id, attempt, done)
    _progress(export_id, attempt, done)


def _progress(export_id: object, attempt: int, done: int) -> None:
    updated = Export.objects.filter(
        pk=export_id, status=ExportStatus.RUNNING, attempts=attempt
    ).update(progress=done, heartbeat_at=timezone.now())
    if not updated:
        raise ExportCancelled(str(export_id))


def _record_donations(*, export: Export, manifest: ManifestBuilder) -> None:
    """Lists the export's donations, a batch at a time, each batch under its row locks
    (held until the caller's transaction ends); fails if one was withdrawn meanwhile."""
    for ids in manifest.donation_ids():
        statuses = set(
            Donation.objects.select_for_update().filter(pk__in=ids).values_list("status", flat=True)
        )
        if DonationStatus.WITHDRAWN in statuses:
            raise RuntimeError("a donation in the export was withdrawn while it was built")
        ExportDonation.objects.bulk_create(
            [ExportDonation(export=export, donation_id=pk) for pk in ids]
        )


def _finish(*, export, attempt: int, key, digest, manifest, decrypted: int) -> Export:
    with transaction.atomic():
        current = Export.objects.select_for_update().get(pk=export.pk)
        if current.status != ExportStatus.RUNNING or current.attempts != attempt:
            raise ExportCancelled(str(export.pk))
        _record_donations(export=current, manifest=manifest)
        now = timezone.now()
        current.status = ExportStatus.DONE
        current.reason = ""
        current.wrapped_key = crypto.wrap_data_key(key, donation_id=_archive_key_id(export.pk))
        current.sha256 = digest.sha256.hexdigest()
        current.size_bytes = digest.size
        current.counts = {**{s: manifest.counts.get(s, 0) for s in selectors.SPLITS}}
        current.progress = sum(manifest.counts.values())
        current.finished_at = now
        current.expires_at = now + dt.timedelta(days=settings.EXPORT_RETENTION_DAYS)
        current.save()
        audit.record(
            actor=audit.SYSTEM,
            action="exports.export_build",
            target=current,
            data={
                "format": current.format,
                "crops_decrypted": decrypted,
                "crops_skipped": manifest.skipped.count,
                "documents": manifest.documents,
                "counts": current.counts,
                "attempt": attempt,
            },
        )
    return current


def _delete_archive(name: str) -> None:
    if name:
        try:
            _storage().delete(name)
        except Exception:  # the build's own failure matters more; expiry retries
            logger.exception("could not delete archive %s", name)


# --- Download -----------------------------------------------------------------------------


def export_open_for_download(*, user, export: Export) -> Iterator[bytes]:
    """The plaintext tar, decrypted chunk by chunk. Audited before the first byte.

    Assumes the caller checked access and a recent re-authentication.
    """
    if export.status != ExportStatus.DONE or export.wrapped_key is None:
        raise ExportUnavailable(export.reason or f"the export is {export.status}")
    if export.expires_at and export.expires_at <= timezone.now():
        raise ExportUnavailable("the export has expired")
    key = crypto.unwrap_data_key(export.wrapped_key, donation_id=_archive_key_id(export.pk))
    audit.record(
        actor=user,
        action="exports.export_download",
        target=export,
        data={"format": export.format, "sha256": export.sha256},
    )
    handle = _storage().open(export.archive_name, "rb")

    def stream() -> Iterator[bytes]:
        try:
            yield from archive.decrypt_stream(handle, key=key, export_id=str(export.pk))
        finally:
            handle.close()

    return stream()


# --- Deletion: by its requester, by withdrawal, by expiry -------------------------------------


def export_delete(*, export_id: object, reason: str, actor: Any, action: str) -> Export | None:
    """Deletes the archive and its key; the row stays with ``reason`` for the requester.

    A running build sees the status change at its next progress update and stops.
    """
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status in (ExportStatus.DELETED, ExportStatus.EXPIRED):
            return export
        name, directory = export.archive_name, export.directory
        export.status = (
            ExportStatus.EXPIRED if action == "exports.export_expire" else ExportStatus.DELETED
        )
        export.reason = reason
        export.wrapped_key = None
        export.archive_name = ""
        export.save(update_fields=["status", "reason", "wrapped_key", "archive_name"])
        audit.record(actor=actor, action=action, target=export, data={"reason": reason})
        transaction.on_commit(lambda: _delete_archive(name))
        if directory:
            transaction.on_commit(lambda: _remove_directory(directory, export.pk))
    return export


def exports_delete_for_withdrawal(*, donation_id: object) -> int:
    """Deletes every export that holds a crop of the withdrawn donation, in the
    withdrawal's transaction; running builds are stopped (their final check fails)."""
    held = list(
        ExportDonation.objects.filter(donation_id=donation_id)
        .exclude(export__status__in=[ExportStatus.DELETED, ExportStatus.EXPIRED])
        .values_list("export_id", "export__directory")
    )
    for export_id, directory in held:
        reason = f"deleted because donation {donation_id} in it was withdrawn"
        if directory:
            reason += f"; delete every copy of the directory {directory}"
        export_delete(
            export_id=export_id,
            reason=reason,
            actor=audit.SYSTEM,
            action="exports.export_withdrawn",
        )
    return len(held)


def exports_expire(*, now: dt.datetime | None = None) -> int:
    """Deletes the archives of exports past their ``expires_at``."""
    now = now or timezone.now()
    ids = list(
        Export.objects.filter(status=ExportStatus.DONE, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    for export_id in ids:
        export_delete(
            export_id=export_id,
            reason="expired",
            actor=audit.SYSTEM,
            action="exports.export_expire",
        )
    return len(ids)


def exports_requeue_stalled(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """The beat's sweep for builds lost with their worker (no progress for
    ``EXPORT_STALLED_AFTER_SECONDS``; with late acks the message comes back, but finds the
    export running and leaves it): queued again while attempts remain, failed after the
    last, their partial archive deleted either way. A queued export silent that long (its
    message lost) is sent again; a second message finds it running or done and leaves it.
    Returns (queued again, failed)."""
    now = now or timezone.now()
    stalled_before = now - dt.timedelta(seconds=settings.EXPORT_STALLED_AFTER_SECONDS)
    requeued = failed = 0
    for export in Export.objects.filter(
        status=ExportStatus.RUNNING, heartbeat_at__lt=stalled_before
    ):
        retry = export.attempts < settings.EXPORT_MAX_ATTEMPTS
        ended = _attempt_end(
            export=export,
            attempt=export.attempts,
            retry=retry,
            reason=f"the build stopped: its worker was lost (attempt {export.attempts})",
            audit_data={"reason": "worker lost"},
            stalled_before=stalled_before,
        )
        if ended:
            _delete_archive(export.archive_name)
            requeued, failed = requeued + retry, failed + (not retry)
    silent = (
        Export.objects.filter(status=ExportStatus.QUEUED)
        .alias(since=Coalesce("heartbeat_at", "created_at"))
        .filter(since__lt=stalled_before)
    )
    for export_id in silent.values_list("pk", flat=True):
        with transaction.atomic():
            if silent.filter(pk=export_id).update(heartbeat_at=now):
                _enqueue_build(export_id)
    return requeued, failed


# --- The command line --------------------------------------------------------------------


def export_to_directory(*, user, fmt: str, filters: ExportFilters, out: Path) -> ManifestBuilder:
    """``manage.py export_dataset``: plain files into ``out``, for an engineer with server
    access. Audited (the actor is ``user``); recorded as an export with its donations, so
    that a withdrawal finds it (and removes the directory where it can, see
    ``_remove_directory``); a failure removes what was written."""
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty")
    created = not out.exists()
    with transaction.atomic():
        export = Export.objects.create(
            requester=user,
            format=fmt,
            filters=filters.as_dict(),
            status=ExportStatus.RUNNING,
            directory=str(out.resolve()),
            started_at=timezone.now(),
        )
        audit.record(
            actor=user,
            action="exports.export_directory",
            target=export,
            data={"format": fmt, "filters": filters.as_dict(), "directory": export.directory},
        )
    header = _header(export_id=export.pk, fmt=fmt, filters=filters, requester=user.get_username())
    ctx = WriteContext(document_image=_document_image, notes=[])
    decrypted = [0]
    try:
        manifest = write_directory(
            fmt=fmt,
            samples=_samples(selectors.export_rows(filters=filters), decrypted, ctx.skipped),
            header=header,
            ctx=ctx,
            out=out,
        )
        _finish_directory(export=export, manifest=manifest)
    except BaseException as exc:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED,
            reason=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    finally:
        ctx.spools.close()
    return manifest


def _finish_directory(*, export: Export, manifest: ManifestBuilder) -> None:
    with transaction.atomic():
        _record_donations(export=export, manifest=manifest)
        counts = {s: manifest.counts.get(s, 0) for s in selectors.SPLITS}
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.DONE,
            counts=counts,
            total=sum(counts.values()),
            progress=sum(counts.values()),
            finished_at=timezone.now(),
        )


def _remove_directory(directory: str, export_id: object) -> None:
    """Removes a command-line export's directory after a withdrawal, where this machine
    holds it and its ``manifest.json`` names this very export (never anything else)."""
    root = Path(directory)
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("export %s: directory %s not found here; remove it by hand", export_id, root)
        return
    if manifest.get("export_id") == str(export_id):
        shutil.rmtree(root, ignore_errors=True)
