"""Liveness: /healthz reports a dead beat, a chain not sealed for too long and stuck
donations; a donation whose worker died is handed out again within two minutes."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

import audit
from annotations.models import Donation, DonationStatus
from annotations.services import donation_start_processing
from dropturk import health
from ocr_bridge import services
from tests.factories import make_donation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _broker_up(monkeypatch):
    monkeypatch.setitem(health.CHECKS, "broker", lambda: None)


@pytest.fixture
def audit_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "audit": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "audit"},
        },
    }


def _checks(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()["checks"]


def test_all_checks_pass_with_beat_alive(client):
    health.heartbeat()
    status, checks = _checks(client)
    assert set(checks) == {"database", "storage", "broker", "beat", "audit_chain", "pipeline"}
    assert status == 200, checks


def test_a_stale_heartbeat_is_a_dead_beat(client):
    cache.set(health.HEARTBEAT_KEY, time.time() - settings.HEALTH_BEAT_STALE_SECONDS - 1)
    status, checks = _checks(client)
    assert status == 503
    assert checks["beat"]["ok"] is False
    assert "beat or the default queue's workers are dead" in checks["beat"]["error"]


def test_no_heartbeat_at_all_is_a_dead_beat_once_the_grace_is_over(client, monkeypatch):
    monkeypatch.setattr(health, "_STARTED", time.time())
    assert _checks(client)[1]["beat"]["ok"] is True  # a fresh process waits for beat
    monkeypatch.setattr(health, "_STARTED", time.time() - 1000)
    status, checks = _checks(client)
    assert status == 503
    assert "beat is not running" in checks["beat"]["error"]


def test_an_event_left_unsealed_too_long_is_reported(client):
    health.heartbeat()
    audit.record(actor=None, action="ocr_bridge.document_read", target_id="d")
    assert _checks(client)[0] == 200
    with _later(settings.HEALTH_UNSEALED_MAX_SECONDS + 5):
        status, checks = _checks(client)
    assert status == 503
    assert "waited" in checks["audit_chain"]["error"]


def test_a_donation_stuck_in_processing_is_reported(client, service_token):
    health.heartbeat()
    donation = make_donation(source=service_token, seed=3)
    donation_start_processing(donation_id=donation.pk)
    Donation.objects.filter(pk=donation.pk).update(
        updated_at=timezone.now() - timedelta(minutes=10)
    )
    status, checks = _checks(client)
    assert status == 503
    assert "1 donation(s) processing" in checks["pipeline"]["error"]


def test_a_dead_workers_donation_is_picked_up_within_two_minutes(service_token):
    # The default timing: stalled after 90 s in processing, a sweep every 30 s.
    assert settings.OCR_STALLED_PROCESSING_SECONDS + settings.OCR_STALLED_SWEEP_SECONDS <= 120
    sweep = settings.CELERY_BEAT_SCHEDULE["requeue-stalled-donations"]
    assert sweep["schedule"] == float(settings.OCR_STALLED_SWEEP_SECONDS)
    assert settings.CELERY_BEAT_SCHEDULE["heartbeat"]["task"] == "dropturk.heartbeat"

    # Given a donation a worker took 91 s ago and one still waiting in the queue as long
    taken = make_donation(source=service_token, seed=4)
    donation_start_processing(donation_id=taken.pk)
    waiting = make_donation(source=service_token, seed=5)
    Donation.objects.filter(pk__in=[taken.pk, waiting.pk]).update(
        updated_at=timezone.now() - timedelta(seconds=91)
    )

    # When the sweep runs with the default settings
    retry, failed = services.stalled_donations_requeue(
        older_than_seconds=settings.OCR_STALLED_AFTER_SECONDS,
        max_attempts=settings.OCR_MAX_ATTEMPTS,
        processing_older_than_seconds=settings.OCR_STALLED_PROCESSING_SECONDS,
    )

    # Then the lost one is handed out again; the queued one is left to its queue
    assert (retry, failed) == ([str(taken.pk)], [])
    assert Donation.objects.get(pk=waiting.pk).status == DonationStatus.RECEIVED


def _later(seconds: float):
    import time_machine

    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def test_events_left_unanchored_past_the_window_are_reported(client, audit_storage):
    from audit import anchors, chain, tasks

    health.heartbeat()
    audit.record(actor=None, action="ocr_bridge.document_read", target_id="d1")
    tasks.write_anchor()  # sealed and anchored: fine
    assert _checks(client)[0] == 200
    audit.record(actor=None, action="ocr_bridge.document_read", target_id="d2")
    chain.seal()  # sealed, but the anchor task stopped (or its storage is down)
    with _later(settings.AUDIT_ANCHOR_WINDOW_SECONDS + 5):
        health.heartbeat()
        status, checks = _checks(client)
    assert status == 503
    assert "not anchored" in checks["audit_chain"]["error"]
    assert anchors.unanchored_since() is not None
