"""Anchors in S3 under Object Lock, over HTTP against moto's server: nobody can remove them."""

import boto3
import pytest
from botocore.exceptions import ClientError

import audit
from audit import anchors, archive, chain
from tests.s3_server import s3_endpoint as s3_endpoint_fixture

s3_endpoint = s3_endpoint_fixture
BUCKET = "dropturk-audit-test"


@pytest.fixture
def locked_bucket(settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    settings.AUDIT_OBJECT_LOCK_DAYS = 30
    settings.STORAGES = {
        **settings.STORAGES,
        "audit": {
            "BACKEND": "audit.storage.AuditS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "signature_version": "s3v4",
                "default_acl": None,
                "file_overwrite": False,
                "location": "audit",
            },
        },
    }
    return client


def test_anchors_are_written_under_compliance_lock(db, locked_bucket):
    for i in range(3):
        audit.record(actor=None, action="ocr_bridge.document_read", target_id=f"d{i}")
    chain.seal()

    seq, chain_hash = anchors.write_anchor()

    key = f"audit/{anchors.anchor_name(seq)}"
    head = locked_bucket.head_object(Bucket=BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] is not None
    with pytest.raises(ClientError, match="AccessDenied"):
        locked_bucket.delete_object(Bucket=BUCKET, Key=key, VersionId=head["VersionId"])
    assert anchors.read_anchors() == [(3, chain_hash)]
    assert chain.verify(anchors=anchors.read_anchors()).ok


def test_archives_go_to_s3_and_verify_from_there(db, locked_bucket):
    from datetime import timedelta

    for i in range(4):
        audit.record(actor=None, action="ocr_bridge.document_read", target_id=f"d{i}")

    [item] = archive.archive_older_than(timedelta(days=0))

    listed = locked_bucket.list_objects_v2(Bucket=BUCKET, Prefix="audit/archives/")
    assert [obj["Key"] for obj in listed["Contents"]] == [f"audit/{item.file_name}"]
    report = chain.verify()
    assert report.ok, report.problems
    assert report.archived == 4
