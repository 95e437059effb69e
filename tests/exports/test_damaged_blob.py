"""One damaged blob: its crop's image is a clean, audited 422, and an export leaves the
crop out and names it in its manifest instead of failing whole."""

import json

import pytest

from annotations.models import WordCrop
from audit.models import AuditEvent, Outcome
from exports.models import ExportStatus
from tests.exports.test_archive_and_api import built, download, signed_in

pytestmark = pytest.mark.django_db


def _damage(blob_dir, crop: WordCrop) -> None:
    path = blob_dir / crop.image_name
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # one flipped bit in the ciphertext: its GCM tag no longer holds
    path.write_bytes(bytes(data))


def test_an_export_leaves_out_a_damaged_crop_and_names_it(labeled, ml_engineer, blob_dir):
    # Given nine labeled crops, one of whose stored images is damaged and one missing
    crops = list(WordCrop.objects.filter(donation=labeled[0]).order_by("index"))
    _damage(blob_dir, crops[1])
    (blob_dir / crops[2].image_name).unlink()

    # When an export is built
    export = built(ml_engineer)

    # Then it is done with the seven others, and its manifest names the two left out
    assert export.status == ExportStatus.DONE, export.reason
    assert export.progress == 7
    tar = download(signed_in(ml_engineer, recently_confirmed=True), export)
    manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["counts"]["total"] == 7
    assert manifest["skipped"]["count"] == 2
    assert {item["crop_id"] for item in manifest["skipped"]["crops"]} == {
        crops[1].pk,
        crops[2].pk,
    }
    build = AuditEvent.objects.get(action="exports.export_build")
    assert build.data["crops_skipped"] == 2


def test_a_damaged_crop_image_is_a_clean_audited_error(
    annotator_client, annotator, blob_dir, service_token
):
    from tests import factories

    factories.make_ready_donation(source=service_token, confidences=[0.5])
    [lease] = annotator_client.post("/api/v1/tasks/next/").json()["tasks"]
    crop = WordCrop.objects.get(pk=lease["crop_id"])
    _damage(blob_dir, crop)

    response = annotator_client.get(lease["image_url"])

    assert response.status_code == 422
    assert "damaged" in response.json()["detail"]
    event = AuditEvent.objects.get(action="annotations.crop_image_damaged")
    assert event.outcome == Outcome.FAILURE
    assert event.target_id == str(crop.pk)
