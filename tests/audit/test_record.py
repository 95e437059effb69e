import pytest

import audit
from audit.actions import describe
from audit.models import ActorType, AuditEvent


def test_record_names_the_person_and_the_target(annotator, service_token):
    event = audit.record(
        actor=annotator,
        action="annotations.crop_image_view",
        target=service_token,
        ip_address="10.0.0.1",
    )
    assert (event.actor_type, event.actor_id, event.actor_label) == (
        ActorType.USER,
        str(annotator.pk),
        "ann",
    )
    assert (event.target_type, event.target_id) == (
        "accounts.servicetoken",
        str(service_token.pk),
    )
    assert event.ip_address == "10.0.0.1"


def test_record_names_a_service_token_and_the_system(service_token):
    by_service = audit.record(actor=service_token, action="annotations.donation_create")
    by_system = audit.record(actor=None, action="ocr_bridge.document_read")
    assert (by_service.actor_type, by_service.actor_label) == (
        ActorType.SERVICE,
        "service:donation-app",
    )
    assert (by_system.actor_type, by_system.actor_label) == (ActorType.SYSTEM, "system")


def test_unregistered_actions_are_refused(db):
    with pytest.raises(ValueError, match="Unregistered audit action"):
        audit.record(actor=None, action="annotations.something_new")
    assert AuditEvent.objects.count() == 0


def test_events_render_for_people():
    assert (
        describe("annotations.label_submit", target_id="7", data={"crop_id": 12})
        == "labeled word crop 12"
    )
    # Missing data falls back to the action name instead of failing the admin page.
    assert (
        describe("annotations.label_submit", target_id="7", data={}) == "annotations.label_submit"
    )
