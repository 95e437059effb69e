"""The S3 path over HTTP, against moto's standalone server on 127.0.0.1."""

import io

import boto3
import pytest
from PIL import Image

from annotations import blobs
from annotations.models import Donation
from tests.factories import make_donation
from tests.s3_server import s3_endpoint as s3_endpoint_fixture

s3_endpoint = s3_endpoint_fixture

BUCKET = "dropturk-test"


@pytest.fixture
def s3_storage(settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "donations": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "signature_version": "s3v4",
                "default_acl": None,
                "file_overwrite": True,
                "object_parameters": {"ServerSideEncryption": "AES256"},
            },
        },
    }
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_donation_is_stored_in_s3_as_ciphertext_with_sse(s3_storage, service_token):
    donation = make_donation(source=service_token, seed=2)

    keys = [obj["Key"] for obj in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [donation.image_name]
    stored = s3_storage.get_object(Bucket=BUCKET, Key=donation.image_name)
    assert stored["ServerSideEncryption"] == "AES256"
    ciphertext = stored["Body"].read()
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(io.BytesIO(ciphertext))

    plain = blobs.blob_get(donation=Donation.objects.get(pk=donation.pk), name=donation.image_name)
    assert Image.open(io.BytesIO(plain)).size == (donation.width, donation.height)


def test_pipeline_reads_and_writes_crops_through_s3(s3_storage, service_token):
    from ocr_bridge import services

    donation = make_donation(source=service_token, seed=9)
    services.donation_read_page(donation_id=donation.pk)

    keys = {obj["Key"] for obj in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    crop_names = set(donation.crops.values_list("image_name", flat=True))
    assert crop_names
    assert crop_names <= keys
    some_crop = next(iter(crop_names))
    assert s3_storage.get_object(Bucket=BUCKET, Key=some_crop)["Body"].read().startswith(b"DT1")
