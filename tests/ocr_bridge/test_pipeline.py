"""The OCR pipeline on real synthetic documents: the real page reader, the configured
(real) prefill engine."""

import pytest

from annotations import blobs
from annotations.models import Donation, DonationStatus, Task, WordCrop
from annotations.services.donations import donation_start_processing
from audit.models import AuditEvent
from ocr.detector import DETECTOR_VERSION
from ocr_bridge import services, tasks
from ocr_bridge.engines import find_tessdata_dir
from tests.factories import make_donation


def _run_pipeline(donation_id) -> None:
    services.donation_process(donation_id=donation_id)


def test_a_receipt_becomes_prefilled_crops_with_tasks(service_token):
    donation = make_donation(source=service_token, kind="receipt", seed=3)

    _run_pipeline(donation.pk)

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    crops = list(donation.crops.order_by("index"))
    assert len(crops) >= 10
    assert all(crop.prefilled_at is not None for crop in crops)
    engine, _ = services.prefill_readers()
    assert {(crop.prefill_engine, crop.prefill_engine_version) for crop in crops} == {
        (engine.name, engine.version)
    }
    recognised = [crop for crop in crops if crop.prefill_text]
    assert len(recognised) >= len(crops) // 2
    for crop in recognised:
        assert len(crop.prefill_char_confidences) == len(crop.prefill_text)
        assert 0.0 <= crop.prefill_confidence <= 1.0
    # One labeling task per crop, ordered by the prefill's confidence.
    assert Task.objects.filter(crop__donation=donation).count() == len(crops)
    for crop in crops:
        assert crop.task.confidence == pytest.approx(crop.prefill_confidence or 0.0)
    # Crops are stored encrypted and decrypt to PNGs of their box's size.
    first = crops[0]
    png = blobs.blob_get(donation=donation, name=first.image_name)
    assert png.startswith(b"\x89PNG")
    # Each crop says how the page reader made it, and which detector found it.
    assert {crop.detector_version for crop in crops} == {DETECTOR_VERSION}
    assert all(crop.decision and crop.line is not None for crop in crops)
    assert [crop.line for crop in crops] == sorted(crop.line for crop in crops)
    assert donation.words_rejected is not None
    # The worker's read of the page's bytes is on the audit trail.
    assert AuditEvent.objects.filter(
        action="ocr_bridge.document_read", target_id=str(donation.pk)
    ).exists()


def test_running_the_pipeline_twice_changes_nothing(service_token):
    donation = make_donation(source=service_token, seed=4)
    _run_pipeline(donation.pk)
    before = list(
        WordCrop.objects.filter(donation=donation).values_list("pk", "prefill_text", "prefilled_at")
    )
    tasks_before = list(Task.objects.values_list("pk", flat=True))

    _run_pipeline(donation.pk)
    tasks.detect_words.apply(args=[str(donation.pk)])
    tasks.prefill_crops.apply(args=[str(donation.pk)])  # what an older release queued

    after = list(
        WordCrop.objects.filter(donation=donation).values_list("pk", "prefill_text", "prefilled_at")
    )
    assert after == before
    assert list(Task.objects.values_list("pk", flat=True)) == tasks_before


def test_a_redelivered_message_after_a_crash_reuses_the_stored_crops(service_token):
    # Given a worker that stored the crops and died before opening their tasks
    donation = make_donation(source=service_token, seed=5)
    services.donation_read_page(donation_id=donation.pk)
    crop_ids = list(
        WordCrop.objects.filter(donation=donation).order_by("pk").values_list("pk", flat=True)
    )

    # When the message is delivered again, it queues the same crops
    tasks.detect_words.apply(args=[str(donation.pk)])

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    assert (
        list(WordCrop.objects.filter(donation=donation).order_by("pk").values_list("pk", flat=True))
        == crop_ids
    )


def test_a_document_that_cannot_be_read_ends_failed_with_its_reason(service_token, blob_dir):
    donation = make_donation(source=service_token, seed=6)
    # The stored ciphertext is damaged (storage corruption, or tampering).
    stored = blob_dir / donation.image_name
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")

    tasks.detect_words.apply(args=[str(donation.pk)])

    donation.refresh_from_db()
    assert donation.status == DonationStatus.FAILED
    assert "DecryptionError" in donation.failure_reason
    assert donation.crops.count() == 0
    assert AuditEvent.objects.filter(
        action="ocr_bridge.donation_failed", target_id=str(donation.pk)
    ).exists()


def test_a_failing_engine_fails_the_donation_not_leaves_it_processing(service_token, settings):
    settings.OCR_ENGINE = "no-such-engine"
    donation = make_donation(source=service_token, seed=7)

    tasks.detect_words.apply(args=[str(donation.pk)])

    donation.refresh_from_db()
    assert donation.status == DonationStatus.FAILED
    assert "no-such-engine" in donation.failure_reason


def test_stalled_donations_are_requeued_then_given_up(service_token, settings):
    donation = make_donation(source=service_token, seed=8)
    donation_start_processing(donation_id=donation.pk)  # a worker took it and vanished
    Donation.objects.filter(pk=donation.pk).update(updated_at="2000-01-01T00:00:00Z")

    retry, failed = services.stalled_donations_requeue(older_than_seconds=60, max_attempts=3)
    assert (retry, failed) == ([str(donation.pk)], [])

    Donation.objects.filter(pk=donation.pk).update(
        pipeline_attempts=3, updated_at="2000-01-01T00:00:00Z"
    )
    retry, failed = services.stalled_donations_requeue(older_than_seconds=60, max_attempts=3)
    assert (retry, failed) == ([], [str(donation.pk)])
    donation.refresh_from_db()
    assert donation.status == DonationStatus.FAILED
    assert "3 attempts" in donation.failure_reason


@pytest.mark.skipif(find_tessdata_dir() is None, reason="Tesseract's language data is absent")
def test_with_tesseract_prefilling_the_page_reading_still_cuts_the_crops(service_token, settings):
    settings.OCR_ENGINE = "tesseract"
    donation = make_donation(source=service_token, kind="receipt", seed=3)

    _run_pipeline(donation.pk)

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    crops = list(donation.crops.order_by("index"))
    assert len(crops) >= 10
    # Cut by the page reader (lines, decisions, its detector), read by Tesseract.
    assert {crop.detector_version for crop in crops} == {DETECTOR_VERSION}
    assert all(crop.decision for crop in crops)
    assert {crop.prefill_engine for crop in crops} == {"tesseract"}
    assert sum(bool(crop.prefill_text) for crop in crops) >= len(crops) // 2
    assert AuditEvent.objects.filter(
        action="ocr_bridge.crops_read", target_id=str(donation.pk)
    ).exists()
