"""GET /api/v1/donations/{id}/text: the page's text, for the token that sent the donation
and for ML engineers; audited; 404 outside its reach, 409 until ready, 410 once withdrawn."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations import roles
from annotations.models import DonationStatus
from annotations.services import service_token_create
from audit.models import AuditEvent
from ocr_bridge import services
from tests import factories
from tests.ocr_bridge.conftest import person, signed_in
from tests.ocr_bridge.test_page_pipeline import NOISE, RECEIPT, reading

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(service_token, monkeypatch):
    """A donation of the sweep's token, read into the receipt's words and ready."""
    monkeypatch.setattr(
        services, "page_read", lambda image, *, engine: reading(RECEIPT, rejected=NOISE)
    )
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    services.donation_process(donation_id=str(donation.pk))
    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    return donation


def _url(donation, suffix: str = "") -> str:
    return f"/api/v1/donations/{donation.pk}/text{suffix}"


def _token_client(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_the_sending_token_reads_the_lines_and_words_with_boxes(service_token, ready):
    response = _token_client(service_token.raw).get(_url(ready))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text"] == "THANK YOU\n3.98 Bread\nTOTAL"
    assert [line["text"] for line in body["lines"]] == ["THANK YOU", "3.98 Bread", "TOTAL"]
    first = body["lines"][0]["words"][0]
    assert first["box"] == {"x": 10, "y": 10, "width": 60, "height": 20}
    assert first["confidence"] == pytest.approx(0.95)
    assert first["char_confidences"] == pytest.approx([0.95] * 5)
    assert body["lines"][1]["words"][0]["decision"] == "combined"
    assert body["lines"][1]["words"][0]["source_boxes"] == 2
    assert (body["words_rejected"], body["words_over_cap"], body["rotation"]) == (1, 0, 0)
    assert body["detector_version"] == "test-detector-1"
    # The read is on the trail, by the token, naming the donation, without the text.
    event = AuditEvent.objects.get(action="ocr_bridge.donation_text_read")
    assert (event.target_id, event.data) == (str(ready.pk), {"format": "json", "words": 5})
    assert "THANK" not in str(event.data)


def test_format_txt_is_the_plain_text(service_token, ready):
    response = _token_client(service_token.raw).get(_url(ready, "?format=txt"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "THANK YOU\n3.98 Bread\nTOTAL\n"
    event = AuditEvent.objects.get(action="ocr_bridge.donation_text_read")
    assert event.data["format"] == "txt"


def test_the_text_keeps_the_words_over_the_crop_cap(service_token, monkeypatch, settings):
    settings.OCR_MAX_CROPS_PER_PAGE = 2
    monkeypatch.setattr(services, "page_read", lambda image, *, engine: reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    services.donation_process(donation_id=str(donation.pk))

    body = _token_client(service_token.raw).get(_url(donation)).json()

    assert body["text"] == "THANK YOU\n3.98 Bread\nTOTAL"
    assert body["words_over_cap"] == 3


def test_ml_engineers_read_any_page(ready):
    client = signed_in(person("ml", roles.ML_ENGINEER))

    response = client.get(_url(ready))

    assert response.status_code == 200
    assert response.json()["lines"][2]["text"] == "TOTAL"
    event = AuditEvent.objects.get(action="ocr_bridge.donation_text_read")
    assert event.actor_id == str(client.session["_auth_user_id"])


@pytest.mark.parametrize("role", [roles.ANNOTATOR, roles.REVIEWER, roles.ADMIN])
def test_other_roles_get_404(ready, role):
    response = signed_in(person(f"as-{role}", role)).get(_url(ready))

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="ocr_bridge.donation_text_read").exists()


def test_another_token_gets_404_as_for_no_such_donation(ready):
    _, raw = service_token_create(name="other-app")
    client = _token_client(raw)

    assert client.get(_url(ready)).status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/api/v1/donations/{missing}/text").status_code == 404


def test_a_token_without_the_ingest_scope_gets_404(service_token, ready):
    service_token.scopes = ["withdraw"]
    service_token.save(update_fields=["scopes"])

    assert _token_client(service_token.raw).get(_url(ready)).status_code == 404


@pytest.mark.parametrize(
    "status", [DonationStatus.RECEIVED, DonationStatus.PROCESSING, DonationStatus.FAILED]
)
def test_409_until_the_donation_is_ready(service_token, status):
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    type(donation).objects.filter(pk=donation.pk).update(status=status)

    response = _token_client(service_token.raw).get(_url(donation))

    assert response.status_code == 409
    assert status in response.json()["detail"]
    txt = _token_client(service_token.raw).get(_url(donation, "?format=txt"))
    assert txt.status_code == 409


def test_gone_once_withdrawn(service_token, ready, blob_dir, django_capture_on_commit_callbacks):
    service_token.scopes = ["ingest", "withdraw"]
    service_token.save(update_fields=["scopes"])
    client = _token_client(service_token.raw)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/donations/{ready.pk}/").status_code == 204

    assert client.get(_url(ready)).status_code == 410
    ml = signed_in(person("ml", roles.ML_ENGINEER))
    assert ml.get(_url(ready)).status_code == 410
    # The stored reading went with the withdrawal, not only its key.
    assert not (blob_dir / ready.reading_name).exists()


def test_a_donation_cut_before_the_page_reader_has_its_text_from_its_crops(service_token):
    donation = factories.make_ready_donation(source=service_token, confidences=[0.2, 0.9])

    body = _token_client(service_token.raw).get(_url(donation)).json()

    assert body["text"] == "w0 w1"
    assert [w["confidence"] for w in body["lines"][0]["words"]] == pytest.approx([0.2, 0.9])


def test_the_schema_documents_the_route_and_its_answers(client):
    ml = signed_in(person("ml", roles.ML_ENGINEER))

    schema = ml.get("/api/schema/?format=json").json()

    answers = schema["paths"]["/api/v1/donations/{donation_id}/text"]["get"]["responses"]
    assert {"200", "404", "409", "410"} <= set(answers)
    assert {"application/json", "text/plain"} <= set(answers["200"]["content"])
