"""The pipeline makes a donation's crops from its page reading (``ocr.page.read_page``).

The reading is a constructed ``PageReading`` (what the reader would return), so each
test states exactly which words, lines, decisions and rejections the page had; the real
reader runs in test_pipeline.py.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from annotations import blobs
from annotations.models import CropDecision, DonationStatus, Label, Task, WordCrop
from annotations.services.donations import donation_withdraw
from annotations.services.labels import label_submit
from audit.models import AuditEvent
from ocr.detector import WordBox
from ocr.page import PageReading, WordReading
from ocr_bridge import recut, services, tasks, weights
from ocr_bridge.engines import Recognition
from tests import factories

pytestmark = pytest.mark.django_db

PAGE_WIDTH, PAGE_HEIGHT = 400, 200


def word(text, x, y, *, line, order, confidence=0.95, decision="accepted", source_boxes=1):
    return WordReading(
        box=WordBox(x=x, y=y, width=60, height=20),
        text=text,
        confidence=confidence,
        char_confidences=(confidence,) * len(text),
        decision=decision,
        source_boxes=source_boxes,
        line=line,
        order=order,
    )


def reading(words, *, rejected=(), detector="test-detector-1", rotation=0) -> PageReading:
    """A page reading of ``words`` (in reading order), grouped into lines by their line."""
    lines: dict[int, list[int]] = {}
    for i, w in enumerate(words):
        lines.setdefault(w.line, []).append(i)
    page = factories_page()
    return PageReading(
        rotation=rotation,
        image=page,
        width=PAGE_WIDTH,
        height=PAGE_HEIGHT,
        words=tuple(words),
        rejected=tuple(rejected),
        lines=tuple(tuple(lines[key]) for key in sorted(lines)),
        detector_version=detector,
        recognizer_version="crnn/test",
    )


def factories_page():
    import numpy as np

    page = np.full((PAGE_HEIGHT, PAGE_WIDTH, 3), 255, dtype=np.uint8)
    page[::7, ::5] = 0  # some ink, so crops are not blank
    return page


RECEIPT = [
    word("THANK", 10, 10, line=0, order=0),
    word("YOU", 80, 10, line=0, order=1, confidence=0.7, decision="reread"),
    word("3.98", 10, 50, line=1, order=2, confidence=0.8, decision="combined", source_boxes=2),
    word("Bread", 80, 50, line=1, order=3, confidence=0.6, decision="split"),
    word("TOTAL", 10, 90, line=2, order=4, confidence=0.99),
]
NOISE = [word("~", 300, 150, line=3, order=0, confidence=0.05, decision="rejected")]


@pytest.fixture
def reads(monkeypatch):
    """The page reader returns the given reading; counts its calls."""
    calls = []

    def use(page_reading):
        def read(image, *, engine):
            calls.append(image.shape)
            return page_reading

        monkeypatch.setattr(services, "page_read", read)
        return calls

    return use


def _crops(donation):
    return list(WordCrop.objects.filter(donation=donation).order_by("index"))


def test_crops_are_the_page_readings_words_with_line_order_and_decision(service_token, reads):
    reads(reading(RECEIPT, rejected=NOISE))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    tasks.detect_words.apply(args=[str(donation.pk)])

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    assert (donation.words_rejected, donation.words_over_cap, donation.rotation) == (1, 0, 0)
    crops = _crops(donation)
    assert [(c.index, c.line, c.prefill_text) for c in crops] == [
        (0, 0, "THANK"),
        (1, 0, "YOU"),
        (2, 1, "3.98"),
        (3, 1, "Bread"),
        (4, 2, "TOTAL"),
    ]
    assert [c.decision for c in crops] == [
        CropDecision.ACCEPTED,
        CropDecision.REREAD,
        CropDecision.COMBINED,
        CropDecision.SPLIT,
        CropDecision.ACCEPTED,
    ]
    assert [c.source_boxes for c in crops] == [1, 1, 2, 1, 1]
    assert {c.detector_version for c in crops} == {"test-detector-1"}
    # The reading that won is the prefill, named by the active model like any crnn prefill.
    active = weights.active_version()
    assert {(c.prefill_engine, c.prefill_engine_version) for c in crops} == {
        ("crnn", active.engine_version)
    }
    assert crops[1].prefill_confidence == pytest.approx(0.7)
    assert crops[1].prefill_char_confidences == pytest.approx([0.7] * 3)
    assert (crops[2].x, crops[2].y, crops[2].width, crops[2].height) == (10, 50, 60, 20)
    # Every crop has its task, queued by the reading's confidence.
    assert [c.task.confidence for c in crops] == pytest.approx([0.95, 0.7, 0.8, 0.6, 0.99])
    # The crop images and the page's reading are stored, as ciphertext only.
    assert blobs.blob_get(donation=donation, name=crops[0].image_name).startswith(b"\x89PNG")
    assert donation.reading_name
    assert b"THANK" in blobs.blob_get(donation=donation, name=donation.reading_name)


def test_the_page_reading_is_stored_as_ciphertext(service_token, reads, blob_dir):
    reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    services.donation_process(donation_id=str(donation.pk))

    donation.refresh_from_db()
    stored = (blob_dir / donation.reading_name).read_bytes()
    assert b"THANK" not in stored
    assert b"TOTAL" not in stored


def test_a_page_makes_no_more_crops_than_the_cap_keeping_the_most_confident(
    service_token, reads, settings
):
    settings.OCR_MAX_CROPS_PER_PAGE = 3
    reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    services.donation_process(donation_id=str(donation.pk))

    donation.refresh_from_db()
    # The three most confident words (0.95, 0.8, 0.99), in reading order, indexed anew.
    assert [(c.index, c.prefill_text) for c in _crops(donation)] == [
        (0, "THANK"),
        (1, "3.98"),
        (2, "TOTAL"),
    ]
    assert donation.words_over_cap == 2
    assert Task.objects.filter(crop__donation=donation).count() == 3


def test_running_the_task_twice_reads_once_and_makes_no_duplicates(service_token, reads):
    calls = reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    tasks.detect_words.apply(args=[str(donation.pk)])
    before = list(
        WordCrop.objects.filter(donation=donation).values_list("pk", "index", "prefilled_at")
    )
    tasks.detect_words.apply(args=[str(donation.pk)])
    tasks.prefill_crops.apply(args=[str(donation.pk)])

    after = list(
        WordCrop.objects.filter(donation=donation).values_list("pk", "index", "prefilled_at")
    )
    assert after == before
    assert len(calls) == 1
    assert Task.objects.filter(crop__donation=donation).count() == len(RECEIPT)


def test_a_redelivery_after_a_crash_before_the_prefill_keeps_the_crops(service_token, reads):
    # Given a worker that stored the crops and died before opening their tasks
    calls = reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    assert services.donation_read_page(donation_id=str(donation.pk))
    crop_ids = [c.pk for c in _crops(donation)]

    # When the message is delivered again
    tasks.detect_words.apply(args=[str(donation.pk)])

    # Then the same crops are queued, the page not read again
    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    assert [c.pk for c in _crops(donation)] == crop_ids
    assert len(calls) == 1


def test_an_empty_page_is_ready_with_no_crops_and_read_once(service_token, reads):
    calls = reads(reading([], rejected=NOISE * 3))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    services.donation_process(donation_id=str(donation.pk))
    services.donation_process(donation_id=str(donation.pk))

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    assert (donation.crops.count(), donation.words_rejected, len(calls)) == (0, 3, 1)


class StubEngine:
    """Another prefill engine (as Tesseract is): reads every crop as "stub"."""

    name, version = "stub", "7"

    def __init__(self) -> None:
        self.read = 0

    def recognize(self, crops):
        self.read += len(crops)
        return [Recognition("stub", 0.62, (0.62,) * 4) for _ in crops]


def test_another_prefill_engine_reads_the_crops_the_page_reading_cut(
    service_token, reads, settings, monkeypatch
):
    settings.OCR_ENGINE = "stub"
    engine = StubEngine()
    monkeypatch.setattr(services, "get_engine", lambda name: engine)
    reads(reading(RECEIPT, rejected=NOISE))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    services.donation_process(donation_id=str(donation.pk))

    crops = _crops(donation)
    assert engine.read == len(RECEIPT)
    # The boxes, lines and decisions are the reading's; the prefill is the engine's.
    assert [c.line for c in crops] == [0, 0, 1, 1, 2]
    assert {(c.prefill_text, c.prefill_engine, c.prefill_engine_version) for c in crops} == {
        ("stub", "stub", "7")
    }
    assert [t.confidence for t in Task.objects.filter(crop__donation=donation)] == pytest.approx(
        [0.62] * len(RECEIPT)
    )
    assert AuditEvent.objects.filter(
        action="ocr_bridge.crops_read", target_id=str(donation.pk)
    ).exists()


def test_a_donation_withdrawn_while_its_page_is_read_keeps_nothing(
    service_token, monkeypatch, blob_dir, django_capture_on_commit_callbacks
):
    service_token.scopes = ["ingest", "withdraw"]
    service_token.save(update_fields=["scopes"])
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    def read_then_withdrawn(image, *, engine):
        donation_withdraw(source=service_token, donation_id=donation.pk)
        return reading(RECEIPT)

    monkeypatch.setattr(services, "page_read", read_then_withdrawn)
    with django_capture_on_commit_callbacks(execute=True):
        services.donation_process(donation_id=str(donation.pk))

    donation.refresh_from_db()
    assert donation.status == DonationStatus.WITHDRAWN
    assert donation.crops.count() == 0
    assert not [p for p in blob_dir.rglob("*") if p.is_file()]


# --- Reading a ready page again ---------------------------------------------------------


def test_a_recut_never_recuts_labeled_crops(service_token, reads, annotator):
    # Given a ready page whose first crop was labeled
    reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    services.donation_process(donation_id=str(donation.pk))
    first, *others = _crops(donation)
    Task.objects.filter(crop=first).update(labels_needed=2)
    label_submit(user=annotator, task_id=first.task.pk, text="THANK")
    labeled = WordCrop.objects.get(pk=first.pk)

    # When a newer detector reads the page again: the first word wider, a new word added
    newer = [
        word("THANK", 8, 10, line=0, order=0),
        word("YOU!", 80, 10, line=0, order=1),
        word("TOTAL", 10, 90, line=1, order=2),
        word("9.99", 80, 90, line=1, order=3),
    ]
    reads(reading(newer, detector="test-detector-2"))
    assert recut.donation_recut(donation_id=str(donation.pk))

    # Then the labeled crop is the same crop (box, image, prefill, label, task), standing
    # for the new reading's word; the others were replaced by the new words
    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    crops = _crops(donation)
    assert [(c.index, c.line, c.prefill_text) for c in crops] == [
        (0, 0, "THANK"),
        (1, 0, "YOU!"),
        (2, 1, "TOTAL"),
        (3, 1, "9.99"),
    ]
    kept = crops[0]
    assert kept.pk == labeled.pk
    assert (kept.x, kept.image_name, kept.detector_version, kept.prefill_text) == (
        labeled.x,
        labeled.image_name,
        "test-detector-1",
        labeled.prefill_text,
    )
    assert Label.objects.filter(crop=kept).count() == 1
    assert {c.detector_version for c in crops[1:]} == {"test-detector-2"}
    assert not WordCrop.objects.filter(pk__in=[c.pk for c in others]).exists()
    assert all(hasattr(c, "task") for c in crops)
    assert blobs.blob_get(donation=donation, name=kept.image_name).startswith(b"\x89PNG")
    assert AuditEvent.objects.filter(
        action="ocr_bridge.donation_recut", target_id=str(donation.pk)
    ).exists()
    assert recut.donations_to_recut(detector_version="test-detector-2", limit=10) == []


def test_a_recut_keeps_leased_crops_and_those_the_new_reading_missed(service_token, reads):
    reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    services.donation_process(donation_id=str(donation.pk))
    bread = WordCrop.objects.get(donation=donation, prefill_text="Bread")
    Task.objects.filter(crop=bread).update(
        leased_to=factories.UserFactory(), lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert recut.donations_to_recut(detector_version="test-detector-2", limit=10) == [
        str(donation.pk)
    ]

    reads(reading([word("TOTAL", 10, 90, line=0, order=0)], detector="test-detector-2"))
    recut.donation_recut(donation_id=str(donation.pk))

    crops = _crops(donation)
    assert [(c.prefill_text, c.line) for c in crops] == [("TOTAL", 0), ("Bread", None)]
    assert crops[1].pk == bread.pk


def test_only_ready_donations_are_recut(service_token, reads):
    calls = reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))

    assert not recut.donation_recut(donation_id=str(donation.pk))
    assert calls == []


def test_a_label_given_while_the_page_is_read_again_leaves_the_page_as_it_was(
    service_token, reads, annotator, monkeypatch, blob_dir, django_capture_on_commit_callbacks
):
    reads(reading(RECEIPT))
    donation = factories.make_donation(source=service_token, png=factories.word_png("page"))
    services.donation_process(donation_id=str(donation.pk))
    before = [(c.pk, c.index, c.image_name) for c in _crops(donation)]
    files_before = sorted(p for p in blob_dir.rglob("*") if p.is_file())
    total = WordCrop.objects.get(donation=donation, prefill_text="TOTAL")

    reads(reading(RECEIPT[:2], detector="test-detector-2"))
    cut_words = recut.cut_words

    def cut_while_someone_labels(*args):
        # After the recut chose which crops to keep, before it replaces the others
        label_submit(user=annotator, task_id=total.task.pk, text="TOTAL")
        return cut_words(*args)

    monkeypatch.setattr(recut, "cut_words", cut_while_someone_labels)
    with django_capture_on_commit_callbacks(execute=True):
        assert not recut.donation_recut(donation_id=str(donation.pk))

    donation.refresh_from_db()
    assert donation.status == DonationStatus.READY
    assert [(c.pk, c.index, c.image_name) for c in _crops(donation)] == before
    assert sorted(p for p in blob_dir.rglob("*") if p.is_file()) == files_before


def test_recut_donations_finds_pages_cut_by_another_detector(service_token, reads, monkeypatch):
    from django.core.management import call_command

    import ocr.detector

    reads(reading(RECEIPT))
    old = factories.make_donation(source=service_token, png=factories.word_png("page"))
    services.donation_process(donation_id=str(old.pk))
    monkeypatch.setattr(ocr.detector, "DETECTOR_VERSION", "test-detector-2")
    reads(reading(RECEIPT[:3], detector="test-detector-2"))
    out = io.StringIO()

    call_command("recut_donations", "--now", stdout=out)

    assert f"{old.pk}: cut anew" in out.getvalue()
    assert {c.detector_version for c in _crops(old)} == {"test-detector-2"}
    assert recut.donations_to_recut(detector_version="test-detector-2", limit=10) == []
