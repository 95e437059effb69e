"""A real storage outage during an export: the S3 server (moto's, on its own port) stops
in the middle of a build. The build fails on the network error, is queued again, fails
again while the outage lasts, and ends ``failed`` with the reason after
``EXPORT_MAX_ATTEMPTS``; nothing half-written is left as an export, and once storage is
back a new export of the same data is whole."""

import boto3
import pytest
from botocore.config import Config
from django.contrib.auth.models import Group
from moto.server import ThreadedMotoServer

from annotations import roles
from audit.models import AuditEvent
from exports import services
from exports.models import ExportStatus
from exports.selectors import ExportFilters
from tests.exports.conftest import label_all
from tests.factories import UserFactory, make_ready_donation

pytestmark = pytest.mark.django_db
BUCKET = "outage"


@pytest.fixture
def outage_s3(settings, monkeypatch):
    """S3 on a port of its own, which the test may stop and start again (moto keeps the
    bucket's objects in this process meanwhile)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "donations": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "signature_version": "s3v4",
                "default_acl": None,
                "file_overwrite": True,
                # Fail fast while the outage lasts: the build's own retries are the test.
                "client_config": Config(
                    connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}
                ),
            },
        },
    }
    state = {"server": server, "port": port, "client": client}

    def stop():
        state["server"].stop()

    def start():
        state["server"] = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        state["server"].start()

    state["stop"], state["start"] = stop, start
    yield state
    state["server"].stop()


def test_an_export_during_a_storage_outage_fails_cleanly_after_its_retries(
    outage_s3, service_token, annotator, monkeypatch, settings
):
    settings.EXPORT_MAX_ATTEMPTS = 3
    ml_engineer = UserFactory(username="ml")
    ml_engineer.groups.set(Group.objects.filter(name=roles.ML_ENGINEER))
    for _ in range(2):
        label_all(
            make_ready_donation(source=service_token, confidences=[0.2, 0.5, 0.8]),
            annotator=annotator,
        )
    real_samples = services._samples

    def samples(rows, counter, skipped=None):
        for number, sample in enumerate(real_samples(rows, counter, skipped)):
            if number == 2 and outage_s3["server"] is not None and not outage_s3.get("down"):
                outage_s3["stop"]()  # storage goes away in the middle of the first build
                outage_s3["down"] = True
            yield sample

    monkeypatch.setattr(services, "_samples", samples)
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())

    # When it is built while storage is down (the first attempt loses it midway)
    attempts = [services.export_build(export_id=export.pk) for _ in range(3)]

    # Then two attempts are queued again and the last fails with the reason, no exception
    assert [a.status for a in attempts] == [
        ExportStatus.QUEUED,
        ExportStatus.QUEUED,
        ExportStatus.FAILED,
    ], [a.reason for a in attempts]
    assert "attempt 1 failed" in attempts[0].reason
    assert "connect" in attempts[0].reason.lower(), attempts[0].reason  # the network, really
    assert attempts[-1].attempts == 3
    assert AuditEvent.objects.filter(action="exports.export_requeue").count() == 2
    assert AuditEvent.objects.filter(action="exports.export_failed").count() == 1

    # And once storage is back, no export object is there, and a new export is whole
    outage_s3["start"]()
    listed = outage_s3["client"].list_objects_v2(Bucket=BUCKET, Prefix="exports/")
    assert listed.get("KeyCount", 0) == 0
    again = services.export_build(
        export_id=services.export_request(
            user=ml_engineer, format="jsonl", filters=ExportFilters()
        ).pk
    )
    assert again.status == ExportStatus.DONE, again.reason
    assert again.progress == 6
