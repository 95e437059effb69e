"""The encrypted archive, its build, its download through the API, and its deletion."""

import io
import json
import tarfile
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone

from annotations import roles
from annotations.services import donation_withdraw
from audit.models import AuditEvent
from exports import archive, services, spool
from exports.formats import WRITERS
from exports.manifest import verify as manifest_verify
from exports.models import Export, ExportStatus
from exports.selectors import ExportFilters
from tests import factories
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def built(user, fmt="imagefolder", **filters) -> Export:
    export = services.export_request(user=user, format=fmt, filters=ExportFilters(**filters))
    return services.export_build(export_id=export.pk)


def signed_in(user, *, recently_confirmed: bool) -> Client:
    client = Client()
    client.force_login(user)
    if recently_confirmed:
        assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    return client


def download(client, export) -> tarfile.TarFile:
    link = client.get(f"/api/v1/exports/{export.pk}/download")
    assert link.status_code == 302, link.content[:300]
    response = client.get(link["Location"])
    assert response.status_code == 200, response.content[:300]
    assert response["Cache-Control"] == "no-store"
    return tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content)))


def stored(blob_dir) -> list:
    root = blob_dir / "exports"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_archive_is_ciphertext_and_downloads_as_a_verified_tar(labeled, ml_engineer, blob_dir):
    export = built(ml_engineer)

    assert export.status == ExportStatus.DONE
    assert export.progress == export.total == 9
    assert sum(export.counts.values()) == 9
    [archive_file] = stored(blob_dir)
    sealed = archive_file.read_bytes()
    assert sealed.startswith(archive.MAGIC)
    assert b"\x89PNG" not in sealed
    assert b"metadata.jsonl" not in sealed

    tar = download(signed_in(ml_engineer, recently_confirmed=True), export)
    manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["counts"]["total"] == 9
    assert manifest_verify(manifest, lambda p: tar.extractfile(p).read()) == []
    assert AuditEvent.objects.filter(action="exports.export_download").count() == 1
    assert (
        AuditEvent.objects.filter(action="exports.export_build").get().data["crops_decrypted"] == 9
    )


def test_an_altered_or_cut_archive_does_not_open(labeled, ml_engineer, blob_dir):
    export = built(ml_engineer)
    [archive_file] = stored(blob_dir)
    sealed = archive_file.read_bytes()
    key = services.crypto.unwrap_data_key(
        export.wrapped_key, donation_id=services._archive_key_id(export.pk)
    )

    def opened(data: bytes, export_id=str(export.pk)) -> bytes:
        return b"".join(archive.decrypt_stream(io.BytesIO(data), key=key, export_id=export_id))

    assert opened(sealed)
    flipped = bytearray(sealed)
    flipped[40] ^= 1
    for broken in (bytes(flipped), sealed[:-10], sealed + b"x"):
        with pytest.raises(archive.ArchiveError):
            opened(broken)
    with pytest.raises(archive.ArchiveError):
        opened(sealed, export_id="another")


def failing_writer(monkeypatch, error: Exception, *, attempts_failing: int = 99) -> None:
    """The imagefolder writer raises ``error`` at the sixth crop, past the first
    encrypted chunk, in the first ``attempts_failing`` builds."""
    from exports.formats.imagefolder import ImageFolderWriter

    real_members = ImageFolderWriter.members
    builds = []

    def members(self, samples, ctx):
        builds.append(1)
        if len(builds) > attempts_failing:
            yield from real_members(self, samples, ctx)
            return
        for number, sample in enumerate(samples):
            if number == 5:
                raise error
            yield f"{number}.png", sample.png + b"\0" * 3_000_000

    monkeypatch.setattr(ImageFolderWriter, "members", members)


@pytest.fixture
def sent(monkeypatch):
    """The Celery messages sent, as (task name, args, countdown)."""
    messages = []

    def send_task(name, args, countdown=0):
        messages.append((name, args, countdown))

    monkeypatch.setattr(services.current_app, "send_task", send_task)
    return messages


def test_a_failing_build_leaves_no_archive(labeled, ml_engineer, blob_dir, monkeypatch, sent):
    failing_writer(monkeypatch, ValueError("a bug, not the weather"))

    export = built(ml_engineer)

    assert export.status == ExportStatus.FAILED
    assert "a bug, not the weather" in export.reason
    assert export.attempts == 1
    assert stored(blob_dir) == []
    assert AuditEvent.objects.filter(action="exports.export_failed").count() == 1
    assert not AuditEvent.objects.filter(action="exports.export_requeue").exists()
    assert sent == []


def test_a_transient_failure_is_built_again_until_the_attempts_run_out(
    labeled, ml_engineer, blob_dir, monkeypatch, settings, sent, django_capture_on_commit_callbacks
):
    settings.EXPORT_MAX_ATTEMPTS = 3
    failing_writer(monkeypatch, OSError("storage unreachable"))
    export = services.export_request(
        user=ml_engineer, format="imagefolder", filters=ExportFilters()
    )

    for attempt in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            again = services.export_build(export_id=export.pk)
        assert again.status == ExportStatus.QUEUED
        assert again.attempts == attempt
        assert f"attempt {attempt} failed (OSError: storage unreachable)" in again.reason
        assert stored(blob_dir) == []
        assert sent[-1] == ("exports.build", (str(export.pk),), 60 * attempt)
    with django_capture_on_commit_callbacks(execute=True):
        last = services.export_build(export_id=export.pk)

    assert last.status == ExportStatus.FAILED
    assert last.attempts == 3
    assert "storage unreachable" in last.reason
    assert stored(blob_dir) == []
    assert len(sent) == 2
    assert AuditEvent.objects.filter(action="exports.export_requeue").count() == 2
    assert AuditEvent.objects.filter(action="exports.export_failed").count() == 1


def test_a_build_that_failed_on_a_transient_error_succeeds_next_time(
    labeled, ml_engineer, blob_dir, monkeypatch, sent
):
    failing_writer(monkeypatch, OSError("connection reset"), attempts_failing=1)

    first = built(ml_engineer)
    second = services.export_build(export_id=first.pk)

    assert first.status == ExportStatus.QUEUED
    assert second.status == ExportStatus.DONE
    assert second.reason == ""
    [archive_file] = stored(blob_dir)
    assert archive_file.parent.name == "2"  # attempt 1 left nothing behind
    tar = download(signed_in(ml_engineer, recently_confirmed=True), second)
    manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest_verify(manifest, lambda p: tar.extractfile(p).read()) == []
    assert manifest["counts"]["total"] == 9


def test_cancelling_a_running_build_leaves_no_archive(labeled, ml_engineer, blob_dir, monkeypatch):
    monkeypatch.setattr(services, "PROGRESS_EVERY", 1)
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    real_samples = services._samples

    def samples(rows, counter, skipped=None):
        for number, sample in enumerate(real_samples(rows, counter, skipped)):
            if number == 3:
                services.export_delete(
                    export_id=export.pk,
                    reason="deleted by its requester",
                    actor=ml_engineer,
                    action="exports.export_delete",
                )
            yield sample

    monkeypatch.setattr(services, "_samples", samples)

    result = services.export_build(export_id=export.pk)

    assert result.status == ExportStatus.DELETED
    assert stored(blob_dir) == []


def test_building_twice_changes_nothing(labeled, ml_engineer):
    export = built(ml_engineer)
    again = services.export_build(export_id=export.pk)
    assert again.sha256 == export.sha256
    assert AuditEvent.objects.filter(action="exports.export_build").count() == 1


def test_withdrawal_deletes_the_exports_that_hold_the_donation(
    labeled, ml_engineer, service_token, blob_dir, django_capture_on_commit_callbacks
):
    holding = built(ml_engineer)
    other = factories.make_ready_donation(source=service_token, confidences=[0.3])

    with django_capture_on_commit_callbacks(execute=True):
        donation_withdraw(source=service_token, donation_id=labeled[0].pk)
        donation_withdraw(source=service_token, donation_id=other.pk)

    holding.refresh_from_db()
    assert holding.status == ExportStatus.DELETED
    assert str(labeled[0].pk) in holding.reason
    assert holding.wrapped_key is None
    assert stored(blob_dir) == []
    rebuilt = built(ml_engineer)
    assert rebuilt.total == 6
    client = signed_in(ml_engineer, recently_confirmed=True)
    assert client.get(f"/api/v1/exports/{holding.pk}/").json()["reason"] == holding.reason
    assert client.get(f"/api/v1/exports/{holding.pk}/download").status_code == 404


def test_exports_expire_after_the_retention_days(
    labeled, ml_engineer, blob_dir, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_RETENTION_DAYS = 2
    export = built(ml_engineer)
    client = signed_in(ml_engineer, recently_confirmed=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.exports_expire(now=timezone.now() + timedelta(days=1)) == 0
        assert services.exports_expire(now=timezone.now() + timedelta(days=3)) == 1

    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert stored(blob_dir) == []
    assert client.get(f"/api/v1/exports/{export.pk}/download").status_code == 404


def test_ml_engineers_request_and_read_their_exports(
    labeled, ml_engineer, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        services.current_app, "send_task", lambda name, args: sent.append((name, args))
    )
    client = signed_in(ml_engineer, recently_confirmed=False)

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/v1/exports/",
            {"format": "paddleocr", "filters": {"kinds": ["receipt"]}},
            content_type="application/json",
        )

    assert created.status_code == 201, created.content
    export_id = created.json()["id"]
    assert sent == [("exports.build", (export_id,))]
    detail = client.get(f"/api/v1/exports/{export_id}/").json()
    assert detail["status"] == "queued"
    assert detail["attempts"] == 0
    assert detail["filters"]["kinds"] == ["receipt"]
    assert [e["id"] for e in client.get("/api/v1/exports/").json()] == [export_id]
    assert AuditEvent.objects.filter(action="exports.export_request").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"format": "jsonl", "filters": {"kinds": ["poster"]}}, "filters"),
    ],
)
def test_bad_requests_are_refused(ml_engineer, body, field):
    client = signed_in(ml_engineer, recently_confirmed=False)
    refused = client.post("/api/v1/exports/", body, content_type="application/json")
    assert refused.status_code == 400
    assert field in refused.json()
    assert not Export.objects.exists()


def test_other_roles_cannot_export_or_see_exports(labeled, ml_engineer, annotator, reviewer):
    export = built(ml_engineer)
    for person in (annotator, reviewer):
        client = signed_in(person, recently_confirmed=True)
        assert (
            client.post(
                "/api/v1/exports/", {"format": "jsonl"}, content_type="application/json"
            ).status_code
            == 403
        )
        assert client.get(f"/api/v1/exports/{export.pk}/").status_code == 404
        assert client.get(f"/api/v1/exports/{export.pk}/download").status_code == 404


def test_another_ml_engineer_cannot_see_or_download_an_export(labeled, ml_engineer):
    export = built(ml_engineer)
    colleague = factories.UserFactory(username="ml2")
    colleague.groups.set(Group.objects.filter(name=roles.ML_ENGINEER))
    owner = signed_in(ml_engineer, recently_confirmed=True)
    link = owner.get(f"/api/v1/exports/{export.pk}/download")["Location"]

    client = signed_in(colleague, recently_confirmed=True)
    assert client.get(f"/api/v1/exports/{export.pk}/").status_code == 404
    assert client.get(link).status_code == 404


def test_download_needs_a_recent_confirmation_and_a_fresh_link(labeled, ml_engineer):
    export = built(ml_engineer)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = signed_in(ml_engineer, recently_confirmed=False)
        refused = client.get(f"/api/v1/exports/{export.pk}/download")
        assert refused.status_code == 403
        assert "reauthenticate_url" in refused.json()
        assert client.get(f"/api/v1/exports/{export.pk}/archive").status_code == 403
        assert client.get(f"/api/v1/exports/{export.pk}/archive?link=forged").status_code == 403
        assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
        link = client.get(f"/api/v1/exports/{export.pk}/download")["Location"]
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        assert client.get(link).status_code == 403
    assert AuditEvent.objects.filter(action="exports.export_download").count() == 0


def test_the_archive_is_stored_under_the_exports_prefix(labeled, ml_engineer):
    export = built(ml_engineer)
    assert export.archive_name.startswith("exports/")
    assert storages["donations"].exists(export.archive_name)


def test_the_celery_task_builds_on_the_default_queue(labeled, ml_engineer):
    from dropturk.celery import app
    from exports import tasks

    export = services.export_request(user=ml_engineer, format="doctr", filters=ExportFilters())

    tasks.build.run(str(export.pk))

    export.refresh_from_db()
    assert export.status == ExportStatus.DONE
    assert app.amqp.router.route({}, "exports.build")["queue"].name == "default"


def test_a_donation_withdrawn_during_the_build_fails_it(
    labeled, ml_engineer, service_token, blob_dir, monkeypatch
):
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    real_samples = services._samples

    def samples(rows, counter, skipped=None):
        for number, sample in enumerate(real_samples(rows, counter, skipped)):
            if number == 0:
                donation_withdraw(source=service_token, donation_id=sample.row.donation_id)
            yield sample

    monkeypatch.setattr(services, "_samples", samples)

    result = services.export_build(export_id=export.pk)

    assert result.status == ExportStatus.FAILED
    assert "withdrawn" in result.reason
    assert stored(blob_dir) == []
    assert not result.donations.exists()


def lost_build(export, *, attempt: int) -> None:
    """The state a worker that died in the middle of a build leaves behind."""
    name = services.archive_name_for(export.pk, attempt=attempt)
    Export.objects.filter(pk=export.pk).update(
        status=ExportStatus.RUNNING,
        attempts=attempt,
        heartbeat_at=timezone.now() - timedelta(hours=1),
        archive_name=name,
    )
    storages["donations"].save(name, io.BytesIO(b"partial"))


def test_a_build_whose_worker_was_lost_is_built_again(
    labeled, ml_engineer, blob_dir, sent, django_capture_on_commit_callbacks
):
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    lost_build(export, attempt=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.exports_requeue_stalled() == (1, 0)
        assert services.exports_requeue_stalled() == (0, 0)  # once, not at every sweep

    export.refresh_from_db()
    assert export.status == ExportStatus.QUEUED
    assert "worker was lost" in export.reason
    assert stored(blob_dir) == []
    assert [name for name, _args, _countdown in sent] == ["exports.build"]
    assert AuditEvent.objects.filter(action="exports.export_requeue").get().data == {
        "reason": "worker lost",
        "attempt": 1,
    }
    rebuilt = services.export_build(export_id=export.pk)
    assert (rebuilt.status, rebuilt.attempts) == (ExportStatus.DONE, 2)
    assert [p.parent.name for p in stored(blob_dir)] == ["2"]


def test_a_build_lost_at_its_last_attempt_is_failed_and_its_archive_removed(
    labeled, ml_engineer, blob_dir, settings, sent, django_capture_on_commit_callbacks
):
    settings.EXPORT_MAX_ATTEMPTS = 2
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    lost_build(export, attempt=2)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.exports_requeue_stalled() == (0, 1)

    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert "worker was lost" in export.reason
    assert stored(blob_dir) == []
    assert sent == []
    assert AuditEvent.objects.filter(action="exports.export_failed").count() == 1


def test_a_lost_attempt_that_wakes_up_stops_and_leaves_the_next_one_alone(
    labeled, ml_engineer, blob_dir, monkeypatch, sent
):
    """The sweep gave attempt 1 up for lost while its worker was only slow: attempt 2 is
    built meanwhile; attempt 1 then stops at its next progress and removes only its own
    partial archive."""
    monkeypatch.setattr(services, "PROGRESS_EVERY", 1)
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    real_samples = services._samples
    outcome = {}

    def samples(rows, counter, skipped=None):
        for number, sample in enumerate(real_samples(rows, counter, skipped)):
            if number == 3 and "lost" not in outcome:
                outcome["lost"] = True
                Export.objects.filter(pk=export.pk).update(
                    heartbeat_at=timezone.now() - timedelta(hours=1)
                )
                services.exports_requeue_stalled()
                outcome["second"] = services.export_build(export_id=export.pk)
            yield sample

    monkeypatch.setattr(services, "_samples", samples)

    first = services.export_build(export_id=export.pk)

    assert outcome["second"].status == ExportStatus.DONE
    assert (first.status, first.attempts) == (ExportStatus.DONE, 2)
    assert first.sha256 == outcome["second"].sha256
    [archive_file] = stored(blob_dir)
    assert archive_file.parent.name == "2"
    assert archive_file.read_bytes().startswith(archive.MAGIC)


def test_a_queued_export_whose_message_was_lost_is_sent_again(
    ml_engineer, sent, django_capture_on_commit_callbacks
):
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        services.exports_requeue_stalled()
        services.exports_requeue_stalled()

    assert sent == [("exports.build", (str(export.pk),), 0)]
    export.refresh_from_db()
    assert (export.status, export.attempts) == (ExportStatus.QUEUED, 0)


def test_the_sweep_leaves_live_builds_and_command_line_exports_alone(
    labeled, ml_engineer, tmp_path, sent, django_capture_on_commit_callbacks
):
    running = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
    Export.objects.filter(pk=running.pk).update(
        status=ExportStatus.RUNNING, attempts=1, heartbeat_at=timezone.now()
    )
    services.export_to_directory(
        user=ml_engineer, fmt="jsonl", filters=ExportFilters(), out=tmp_path / "cli"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert services.exports_requeue_stalled() == (0, 0)

    assert sent == []
    assert set(Export.objects.values_list("status", flat=True)) == {
        ExportStatus.RUNNING,
        ExportStatus.DONE,
    }


def test_lmdb_streams_as_in_memory_shards_that_lmdb_reads(
    labeled, ml_engineer, tmp_path, monkeypatch
):
    import lmdb

    from exports.formats import lmdb_dtrb
    from exports.selectors import export_rows

    monkeypatch.setattr(lmdb_dtrb, "SHARD_BYTES", 1)  # one crop a shard: many shards
    export = built(ml_engineer, "lmdb")
    expected = sorted((row.split, row.text) for row in export_rows(filters=ExportFilters()))

    with download(signed_in(ml_engineer, recently_confirmed=True), export) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert manifest_verify(manifest, lambda p: tar.extractfile(p).read()) == []
        shards = [name for name in tar.getnames() if name.endswith("/data.mdb")]
        seen = []
        for number, name in enumerate(shards):
            folder = tmp_path / str(number)
            folder.mkdir()
            (folder / "data.mdb").write_bytes(tar.extractfile(name).read())
            env = lmdb.open(str(folder), readonly=True, lock=False)
            with env.begin() as txn:
                for index in range(1, int(txn.get(b"num-samples")) + 1):
                    assert txn.get(b"image-%09d" % index).startswith(b"\x89PNG")
                    seen.append((name.split("/")[0], txn.get(b"label-%09d" % index).decode()))
            env.close()
    assert len(shards) == 9
    assert sorted(seen) == expected


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_every_format_archives_the_same_files_as_its_directory_export(
    fmt, three_splits, ml_engineer, tmp_path, monkeypatch
):
    """The archive's members are the directory export's files (whose consumers read them,
    tests/exports/test_formats.py), with the spooled indexes in many small frames."""
    monkeypatch.setattr(spool, "FRAME_BYTES", 64)
    services.export_to_directory(
        user=ml_engineer, fmt=fmt, filters=ExportFilters(), out=tmp_path / "dir"
    )

    export = built(ml_engineer, fmt)

    assert export.status == ExportStatus.DONE
    with download(signed_in(ml_engineer, recently_confirmed=True), export) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert manifest_verify(manifest, lambda p: tar.extractfile(p).read()) == []
        assert set(tar.getnames()) == {*manifest["files"], "manifest.json"}
        assert manifest["counts"] == {"train": 3, "validation": 3, "test": 3, "total": 9}
        if fmt != "lmdb":  # one database a split there, shards of at most 16 MB here
            for name in manifest["files"]:
                assert tar.extractfile(name).read() == (tmp_path / "dir" / name).read_bytes()
