"""Withdrawing a donation: its key is destroyed, its crops and labels go, the row stays."""

import pytest

from annotations import blobs, crypto, services
from annotations.models import Donation, DonationStatus, Label, TaskStatus, TokenScope, WordCrop
from audit.models import AuditEvent
from tests.conftest import stored_files
from tests.factories import make_donation, make_ready_donation


@pytest.fixture
def withdrawing_client(client, service_token):
    service_token.scopes = [TokenScope.INGEST, TokenScope.WITHDRAW]
    service_token.save(update_fields=["scopes"])
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {service_token.raw}"
    return client


def test_withdrawal_destroys_the_key_and_everything_read_from_the_document(
    withdrawing_client, service_token, annotator, blob_dir, django_capture_on_commit_callbacks
):
    donation = make_ready_donation(source=service_token, confidences=[0.2, 0.9])
    [task, _] = services.task_lease_next(user=annotator, count=2)
    services.label_submit(user=annotator, task_id=task.pk, text="TOTAL")
    assert len(stored_files(blob_dir)) == 3  # the document and its two crops

    with django_capture_on_commit_callbacks(execute=True):
        response = withdrawing_client.delete(f"/api/v1/donations/{donation.pk}/")

    assert response.status_code == 204
    donation.refresh_from_db()
    assert donation.status == DonationStatus.WITHDRAWN
    assert donation.wrapped_key is None
    with pytest.raises(blobs.KeyDestroyed):
        blobs.data_key_for(donation)
    assert not WordCrop.objects.filter(donation=donation).exists()
    assert not Label.objects.exists()
    assert stored_files(blob_dir) == []
    event = AuditEvent.objects.get(action="annotations.donation_withdraw")
    assert event.target_id == str(donation.pk)
    assert event.data == {"crops_deleted": 2, "labels_deleted": 1}


def test_withdrawing_twice_is_harmless(withdrawing_client, service_token):
    donation = make_donation(source=service_token)
    assert withdrawing_client.delete(f"/api/v1/donations/{donation.pk}/").status_code == 204
    assert withdrawing_client.delete(f"/api/v1/donations/{donation.pk}/").status_code == 204
    assert AuditEvent.objects.filter(action="annotations.donation_withdraw").count() == 1


def test_a_token_without_the_withdraw_scope_is_refused(service_client, service_token):
    donation = make_donation(source=service_token)
    response = service_client.delete(f"/api/v1/donations/{donation.pk}/")
    assert response.status_code == 403
    assert Donation.objects.get(pk=donation.pk).status != DonationStatus.WITHDRAWN


def test_another_services_donation_is_not_found(withdrawing_client, db):
    other, _ = services.service_token_create(name="other-app")
    donation = make_donation(source=other)
    response = withdrawing_client.delete(f"/api/v1/donations/{donation.pk}/")
    assert response.status_code == 404
    assert Donation.objects.get(pk=donation.pk).wrapped_key is not None


def test_withdrawn_while_being_cut_stores_no_crops(service_token, blob_dir):
    donation = make_donation(source=service_token)
    processing = services.donation_start_processing(donation_id=donation.pk)
    data_key = blobs.data_key_for(processing)  # the pipeline holds the key already
    services.donation_withdraw(source=service_token, donation_id=donation.pk)
    processing.wrapped_key = crypto.wrap_data_key(data_key, donation_id=str(donation.pk))

    stored = services.donation_store_crops(
        donation=processing,
        crops=[services.CropInput(x=0, y=0, width=4, height=4, png=b"x")],
    )

    assert stored == 0
    assert not WordCrop.objects.filter(donation_id=donation.pk).exists()
    assert services.donation_start_processing(donation_id=donation.pk) is None
    assert not Donation.objects.filter(pk=donation.pk, status=TaskStatus.OPEN).exists()
