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

from celery import current_app
from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

import audit
from annotations import blobs, crypto
from annotations.models import Donation, DonationStatus
from exports import archive, selectors
from exports.formats import WRITERS, Member, Sample, WriteContext
from exports.manifest import ManifestBuilder
from exports.models import Export, ExportDonation, ExportFormat, ExportStatus
from exports.selectors import ExportFilters, ExportRow

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 500
SELECTION_RULE = "exports.selectors.accepted_labels: task done, newest unrevised label, 1.0"


class ExportCancelled(Exception):
    """The export stopped being ``running`` (deleted or withdrawn) while it was built."""


class ExportUnavailable(Exception):
    """The export cannot be downloaded: not built, failed, expired or deleted."""


def _storage():
    return storages[settings.EXPORTS_STORAGE]


def archive_name_for(export_id: object) -> str:
    return f"exports/{export_id}/archive.tar.enc"


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
        transaction.on_commit(
            lambda: current_app.send_task("exports.build", args=(str(export.pk),)), robust=True
        )
    return export


# --- Building ---------------------------------------------------------------------------


def _samples(rows: Iterable[ExportRow], counter: list[int]) -> Iterator[Sample]:
    """The rows with their crop images, decrypted in memory, one donation key at a time."""
    key_for: tuple[str, bytes] | None = None
    for row in rows:
        if key_for is None or key_for[0] != row.donation_id:
            donation = Donation.objects.get(pk=row.donation_id)
            key_for = (row.donation_id, blobs.data_key_for(donation))
        png = blobs.blob_get(
            donation=Donation(pk=row.donation_id), name=row.image_name, data_key=key_for[1]
        )
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
    manifest.notes = ctx.notes
    writer = WRITERS[fmt]()
    for path, data in writer.members(manifest.observe(samples), ctx):
        manifest.add_file(path, data)
        yield path, data
    yield "manifest.json", manifest.render()


def write_directory(
    *, fmt: str, samples: Iterable[Sample], header: dict, ctx: WriteContext, out: Path
) -> ManifestBuilder:
    """Writes the export into ``out`` (plain files: the caller chose this directory)."""
    out.mkdir(parents=True, exist_ok=True)
    writer = WRITERS[fmt]()
    manifest = ManifestBuilder(header=header)
    manifest.notes = ctx.notes
    if writer.writes_directory:
        for relative in writer.write_dir(manifest.observe(samples), ctx, out):
            manifest.add_file(relative, (out / relative).read_bytes())
    else:
        for path, data in writer.members(manifest.observe(samples), ctx):
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            manifest.add_file(path, data)
    (out / "manifest.json").write_bytes(manifest.render())
    return manifest


def export_build(*, export_id: object) -> Export | None:
    """Builds a queued export into its encrypted archive. Idempotent: anything but a
    ``queued`` export is left as it is.

    The archive streams from the database cursor through the writer, tar and AES-GCM into
    storage; on failure or cancellation the partial archive is deleted. At the end, under
    the row locks of its donations, the export lists them: a donation withdrawn meanwhile
    fails the build, one withdrawn later finds the export and deletes it.
    """
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.status != ExportStatus.QUEUED:
            return export
        export.status = ExportStatus.RUNNING
        export.started_at = export.heartbeat_at = timezone.now()
        export.archive_name = archive_name_for(export.pk)
        filters = ExportFilters.from_dict(export.filters)
        export.total = selectors.export_count(filters=filters)
        export.save(update_fields=["status", "started_at", "heartbeat_at", "archive_name", "total"])
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
    ctx = WriteContext(document_image=_document_image, notes=[])
    source = selectors.export_rows(filters=filters)
    rows = _with_progress(export.pk, source)
    manifest = ManifestBuilder(header=header)
    members = stream_members(
        fmt=export.format, samples=_samples(rows, decrypted), manifest=manifest, ctx=ctx
    )
    plaintext = digest.through(archive.tar_stream(members, mtime=export.started_at.timestamp()))
    sealed = archive.encrypt_stream(plaintext, key=key, export_id=str(export.pk))
    try:
        saved = archive.save_streaming(_storage(), name, sealed)
        if saved != name:
            raise RuntimeError(f"storage saved {name!r} as {saved!r}")
        return _finish(
            export=export, key=key, digest=digest, manifest=manifest, decrypted=decrypted[0]
        )
    except ExportCancelled:
        _delete_archive(name)
        logger.info("export %s stopped while it was built", export.pk)
        return Export.objects.get(pk=export.pk)
    except Exception as exc:
        _delete_archive(name)
        logger.exception("export %s failed", export.pk)
        Export.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED,
            reason=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            archive_name="",
        )
        audit.record(
            actor=audit.SYSTEM,
            action="exports.export_failed",
            target=export,
            data={"reason": type(exc).__name__, "crops_decrypted": decrypted[0]},
        )
        return Export.objects.get(pk=export.pk)
    finally:
        source.close()  # its database cursor, now, not when the garbage is collected


def _with_progress(export_id: object, rows: Iterable[ExportRow]) -> Iterator[ExportRow]:
    """Counts rows into the export's progress; stops the build once it is no longer running."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            _progress(export_id, done)
    _progress(export_id, done)


def _progress(export_id: object, done: int) -> None:
    updated = Export.objects.filter(pk=export_id, status=ExportStatus.RUNNING).update(
        progress=done, heartbeat_at=timezone.now()
    )
    if not updated:
        raise ExportCancelled(str(export_id))


def _finish(*, export, key, digest, manifest, decrypted: int) -> Export:
    donation_ids = sorted(manifest.donations)
    with transaction.atomic():
        current = Export.objects.select_for_update().get(pk=export.pk)
        if current.status != ExportStatus.RUNNING:
            raise ExportCancelled(str(export.pk))
        locked = list(
            Donation.objects.select_for_update()
            .filter(pk__in=donation_ids)
            .values_list("pk", "status")
        )
        if any(status == DonationStatus.WITHDRAWN for _pk, status in locked):
            raise RuntimeError("a donation in the export was withdrawn while it was built")
        ExportDonation.objects.bulk_create(
            [ExportDonation(export=current, donation_id=pk) for pk in donation_ids],
            batch_size=1000,
        )
        now = timezone.now()
        current.status = ExportStatus.DONE
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
                "documents": len(donation_ids),
                "counts": current.counts,
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
    """Deletes the archives of exports past their ``expires_at``, and fails the builds
    whose worker was lost (no progress for ``EXPORT_STALLED_AFTER_SECONDS``)."""
    now = now or timezone.now()
    stalled_before = now - dt.timedelta(seconds=settings.EXPORT_STALLED_AFTER_SECONDS)
    for export in Export.objects.filter(
        status=ExportStatus.RUNNING, heartbeat_at__lt=stalled_before
    ):
        updated = Export.objects.filter(
            pk=export.pk, status=ExportStatus.RUNNING, heartbeat_at__lt=stalled_before
        ).update(
            status=ExportStatus.FAILED,
            reason="the build stopped: its worker was lost",
            finished_at=now,
            archive_name="",
        )
        if updated:
            _delete_archive(export.archive_name)
            audit.record(
                actor=audit.SYSTEM,
                action="exports.export_failed",
                target=export,
                data={"reason": "worker lost"},
            )
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
            samples=_samples(selectors.export_rows(filters=filters), decrypted),
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
    return manifest


def _finish_directory(*, export: Export, manifest: ManifestBuilder) -> None:
    donation_ids = sorted(manifest.donations)
    with transaction.atomic():
        withdrawn = (
            Donation.objects.select_for_update()
            .filter(pk__in=donation_ids, status=DonationStatus.WITHDRAWN)
            .exists()
        )
        if withdrawn:
            raise RuntimeError("a donation in the export was withdrawn while it was written")
        ExportDonation.objects.bulk_create(
            [ExportDonation(export=export, donation_id=pk) for pk in donation_ids],
            batch_size=1000,
        )
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
