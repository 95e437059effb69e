"""An export streamed into S3 (moto's server) as ciphertext, multipart, and read back."""

import io
import os
import tarfile

import pytest

from exports import services
from exports.formats.jsonl import JsonlWriter
from exports.models import ExportStatus
from exports.selectors import ExportFilters
from tests.annotations.test_storage_s3 import BUCKET, s3_endpoint, s3_storage

pytestmark = pytest.mark.django_db
__all__ = ["s3_endpoint", "s3_storage"]  # fixtures, used by name

BIG = 12 * 1024 * 1024  # past boto3's 8 MB multipart threshold


def test_a_large_export_streams_into_s3_and_back(s3_storage, labeled, ml_engineer, monkeypatch):
    real_members = JsonlWriter.members

    def members(self, samples, ctx):
        yield from real_members(self, samples, ctx)
        yield "padding.bin", os.urandom(BIG)

    monkeypatch.setattr(JsonlWriter, "members", members)
    export = services.export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())

    export = services.export_build(export_id=export.pk)

    assert export.status == ExportStatus.DONE, export.reason
    stored = s3_storage.get_object(Bucket=BUCKET, Key=export.archive_name)
    assert stored["ContentLength"] > BIG
    assert b"samples.jsonl" not in stored["Body"].read()
    plain = b"".join(services.export_open_for_download(user=ml_engineer, export=export))
    assert len(plain) == export.size_bytes
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert len(tar.extractfile("padding.bin").read()) == BIG
