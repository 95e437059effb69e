"""GET /api/v1/crops/{id}/context: the page's strip around a crop's line, as the crop."""

import io

import pytest
from django.contrib.auth.models import Group
from PIL import Image

from annotations import roles
from annotations.line_context import line_band
from annotations.models import WordCrop
from audit.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def crops(service_token):
    donation = factories.make_ready_donation(source=service_token, confidences=[0.1, 0.2, 0.3])
    return list(donation.crops.order_by("index"))


def reviewer_client(client):
    user = factories.UserFactory(username="rev")
    user.groups.set(Group.objects.filter(name=roles.REVIEWER))
    client.force_login(user)
    return client, user


def test_a_reviewer_gets_the_band_around_the_line_audited_and_not_cached(client, crops):
    client, user = reviewer_client(client)
    crop = crops[1]

    response = client.get(f"/api/v1/crops/{crop.pk}/context")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    strip = Image.open(io.BytesIO(response.content))
    assert strip.width >= crop.width
    assert strip.height >= crop.height
    event = AuditEvent.objects.get(action="annotations.crop_context_view")
    assert event.actor_id == str(user.pk)
    assert event.target_id == str(crop.pk)


def test_an_annotator_without_the_crop_gets_404_and_nothing_is_audited(client, crops):
    user = factories.UserFactory(username="ann")
    user.groups.set(Group.objects.filter(name=roles.ANNOTATOR))
    client.force_login(user)

    assert client.get(f"/api/v1/crops/{crops[0].pk}/context").status_code == 404
    assert not AuditEvent.objects.filter(action="annotations.crop_context_view").exists()


def test_the_band_spans_the_words_of_the_crops_line(crops):
    first, second, third = crops
    WordCrop.objects.filter(pk__in=[first.pk, third.pk]).update(line=0)
    WordCrop.objects.filter(pk=second.pk).update(line=0, y=5)
    second.refresh_from_db()

    band = line_band(crop=second, page_width=10_000, page_height=10_000)

    assert band.left <= first.x
    assert band.right >= third.x + third.width
    assert band.top <= 0 < band.bottom


def test_without_a_line_the_band_is_the_crops_surroundings(crops):
    crop = crops[1]
    band = line_band(crop=crop, page_width=10_000, page_height=10_000)
    assert band.left <= crop.x
    assert band.right >= crop.x + crop.width
    assert band.bottom > crop.y + crop.height


def test_an_id_past_64_bits_is_404_not_500(client, crops):
    client, _ = reviewer_client(client)
    assert client.get("/api/v1/crops/99999999999999999999/context").status_code == 404
    assert client.get(f"/api/v1/crops/{2**63}/context").status_code == 404


def test_a_damaged_page_is_a_clean_audited_422(client, crops, blob_dir):
    # Given a reviewer and a crop whose donation's stored page fails its GCM tag
    client, user = reviewer_client(client)
    crop = crops[0]
    path = blob_dir / crop.donation.image_name
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))

    # When the line context is asked for
    response = client.get(f"/api/v1/crops/{crop.pk}/context")

    # Then it is a 422 with a message, and the failed read is on the trail
    assert response.status_code == 422
    assert "damaged" in response.json()["detail"]
    event = AuditEvent.objects.get(action="annotations.crop_context_view")
    assert event.outcome == "failure"
    assert event.actor_id == str(user.pk)
    assert event.target_id == str(crop.pk)
