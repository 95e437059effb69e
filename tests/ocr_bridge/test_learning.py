"""The learning loop in one process: what a retraining reads, what it registers, promotion,
the re-prefill, the frozen split, failures. The same path through a Celery worker is in
``test_learning_worker.py``."""

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import storages

from annotations.models import DonationStatus, Task, WordCrop
from annotations.services import donation_withdraw
from audit.models import AuditEvent
from exports.selectors import accepted_labels, split_of
from ocr_bridge import learning, selectors, weights
from ocr_bridge.learning import retrain
from ocr_bridge.models import ModelStatus, ModelVersion
from quality.models import GoldItem, GoldSource, QualitySettings
from quality.services import labels_needed_for
from tests.ocr_bridge.conftest import WORDS, accept_all, make_word_donation

pytestmark = pytest.mark.django_db


def _retrained(user, options) -> ModelVersion:
    version = learning.model_retrain_request(user=user, options=options)
    return learning.model_retrain(version_id=version.pk)


# --- The frozen split ---------------------------------------------------------------------


def test_frozen_split_is_the_exports_test_split_and_never_moves():
    # Pinned: a change of the hash would move documents between training and test.
    pinned = {0: "train", 2: "validation", 6: "validation", 7: "train", 20: "test", 23: "test"}
    for number, split in pinned.items():
        assert split_of(uuid.UUID(int=number)) == split
        assert selectors.is_frozen(uuid.UUID(int=number)) == (split == "test")
    ids = [uuid.uuid4() for _ in range(2000)]

    frozen = [d for d in ids if selectors.is_frozen(d)]

    assert frozen == [d for d in ids if split_of(d) == "test"]
    assert 0.06 < len(frozen) / len(ids) < 0.14  # about a tenth of the documents
    assert all(selectors.is_frozen(d) == selectors.is_frozen(str(d)) for d in ids[:50])


def test_a_documents_crops_stay_together_and_the_test_split_is_never_trained_on(labeled_world):
    training = selectors.training_set()
    frozen = selectors.frozen_test_set()

    train_documents = {ref.donation_id for ref in training}
    frozen_documents = {ref.donation_id for ref in frozen}
    assert train_documents == {str(d.pk) for d in labeled_world["train"]}
    assert frozen_documents == {str(labeled_world["frozen"].pk)}
    assert not train_documents & frozen_documents
    assert len(frozen) == 5
    assert all(split_of(ref.donation_id) != "test" for ref in training)


def test_training_set_leaves_out_withdrawn_donations_gold_and_flagged_labels(
    labeled_world, service_token, annotator
):
    first, second = labeled_world["train"]
    unreadable = make_word_donation(source=service_token, words=WORDS[:2], split="train", seed=7)
    accept_all(unreadable, annotator=annotator, unreadable=True)
    gold_crop = second.crops.get(index=0)
    GoldItem.objects.create(crop=gold_crop, text="TOTAL", source=GoldSource.IMPORT)

    donation_withdraw(source=service_token, donation_id=first.pk)

    crop_ids = {ref.crop_id for ref in selectors.training_set()}
    assert crop_ids == set(second.crops.exclude(pk=gold_crop.pk).values_list("pk", flat=True))
    assert [ref.crop_id for ref in selectors.gold_set()] == [gold_crop.pk]


# --- Retraining ---------------------------------------------------------------------------


def test_retrain_registers_a_version_with_metrics_lineage_and_encrypted_weights(
    labeled_world, ml_engineer, quick_options, small_checks
):
    version = _retrained(ml_engineer, quick_options)

    assert version.status == ModelStatus.READY, version.reason
    shipped = weights.active_version()
    assert version.parent == shipped
    assert shipped.builtin
    assert version.name == f"ft-{version.pk}"
    training_refs = selectors.training_set()
    assert version.label_count == len(training_refs) == 16
    assert version.labels_sha256 == selectors.labels_digest([r.label_id for r in training_refs])
    assert version.config["steps"] == quick_options.steps
    assert version.duration_seconds > 0
    assert version.finished_at is not None
    frozen = version.metrics["frozen"]
    assert frozen["n"] == 5
    assert 0 <= frozen["accuracy"] <= 1
    assert frozen["cer"] >= 0
    assert set(frozen) >= {"accuracy_strict", "cer_strict", "by_kind", "by_band", "reliability"}
    assert set(frozen["by_kind"]) == {"receipt"}
    assert sum(band["n"] for band in frozen["by_band"]) == 5
    assert version.metrics["parent"]["name"] == shipped.name
    assert version.metrics["parent"]["frozen"]["n"] == 5
    assert version.metrics["gold"]["n"] == 0
    # Stored as ciphertext; decrypted in memory to the hash that was recorded.
    with storages["donations"].open(version.weights_name, "rb") as handle:
        sealed = handle.read()
    plain = weights.weights_read(version)
    assert plain[:2] == b"PK"
    assert sealed[:3] == b"DT1"
    assert b"state_dict" not in sealed
    assert weights.file_digest(plain) == version.weights_sha256
    actions = list(
        AuditEvent.objects.filter(target_type=version._meta.label_lower, target_id=str(version.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "ocr_bridge.model_retrain_request",
        "ocr_bridge.training_crops_read",
        "ocr_bridge.model_register",
    ]


def test_a_retraining_with_nothing_to_learn_fails_with_a_reason(ml_engineer, quick_options):
    version = _retrained(ml_engineer, quick_options)

    assert version.status == ModelStatus.FAILED
    assert "no accepted labels" in version.reason
    event = AuditEvent.objects.get(action="ocr_bridge.model_failed")
    assert event.target_id == str(version.pk)


def test_a_second_delivery_of_the_task_trains_nothing(labeled_world, ml_engineer, quick_options):
    version = learning.model_retrain_request(user=ml_engineer, options=quick_options)
    retrain._stage(version.pk, "training")  # a first delivery is at work, its heartbeat fresh

    assert learning.model_retrain(version_id=version.pk) is None
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.TRAINING


def test_one_retraining_at_a_time(labeled_world, ml_engineer, quick_options):
    learning.model_retrain_request(user=ml_engineer, options=quick_options)

    with pytest.raises(learning.RetrainConflict):
        learning.model_retrain_request(user=ml_engineer, options=quick_options)


def test_a_lost_worker_fails_its_version(ml_engineer, quick_options):
    version = learning.model_retrain_request(user=ml_engineer, options=quick_options)
    long_ago = version.created_at - learning.STALLED_AFTER * 2
    ModelVersion.objects.filter(pk=version.pk).update(created_at=long_ago, heartbeat_at=long_ago)

    assert learning.model_versions_fail_stalled() == [version.pk]
    assert ModelVersion.objects.get(pk=version.pk).status == ModelStatus.FAILED


def test_a_donation_withdrawn_during_training_fails_the_version(
    labeled_world, ml_engineer, quick_options, small_checks, service_token, monkeypatch
):
    original = learning.model_evaluate

    def withdraw_then_evaluate(**kwargs):
        donation_withdraw(source=service_token, donation_id=labeled_world["train"][0].pk)
        return original(**kwargs)

    monkeypatch.setattr(retrain, "model_evaluate", withdraw_then_evaluate)

    version = _retrained(ml_engineer, quick_options)

    assert version.status == ModelStatus.FAILED
    assert "withdrawn" in version.reason
    assert not version.weights_name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 0}, "steps must be from"),
        ({"learning_rate": "fast"}, "learning_rate must be a number"),
        ({"augment": 1}, "augment must be true or false"),
        ({"epochs": 3}, "unknown options: epochs"),
    ],
)
def test_retrain_options_are_checked(options, message):
    with pytest.raises(ValidationError, match=message):
        learning.RetrainOptions.from_dict(options)


# --- Promotion ----------------------------------------------------------------------------


def test_promotion_makes_the_engine_read_with_the_new_weights(
    labeled_world, ml_engineer, quick_options, small_checks, django_capture_on_commit_callbacks
):
    shipped = weights.active_version()
    version = _retrained(ml_engineer, quick_options)

    with django_capture_on_commit_callbacks() as callbacks:
        learning.model_promote(version_id=version.pk, user=ml_engineer)

    assert len(callbacks) == 1  # the re-prefill is queued
    version.refresh_from_db()
    shipped.refresh_from_db()
    assert (version.status, shipped.status) == (ModelStatus.ACTIVE, ModelStatus.RETIRED)
    assert version.promoted_by == ml_engineer
    assert version.promoted_at is not None
    assert weights.active_engine().version == version.engine_version
    event = AuditEvent.objects.get(action="ocr_bridge.model_promote")
    assert (event.target_id, event.data["previous"]) == (str(version.pk), shipped.name)
    with pytest.raises(learning.PromotionRefused):
        learning.model_promote(version_id=version.pk, user=ml_engineer)


def test_automatic_promotion_only_when_better_by_the_margin(settings):
    def version(accuracy: float, parent: float, n: int = 300) -> ModelVersion:
        return ModelVersion(
            status=ModelStatus.READY,
            metrics={
                "frozen": {"n": n, "accuracy": accuracy},
                "parent": {"frozen": {"accuracy": parent}},
            },
        )

    settings.MODEL_AUTO_PROMOTE_MIN_CROPS = 200
    settings.MODEL_AUTO_PROMOTE_MARGIN = 0.02
    assert learning.auto_promotion_due(version(0.93, 0.90))
    assert not learning.auto_promotion_due(version(0.91, 0.90))
    assert not learning.auto_promotion_due(version(0.99, 0.90, n=100))  # too few crops to tell
    settings.MODEL_AUTO_PROMOTE_MARGIN = None
    assert not learning.auto_promotion_due(version(0.99, 0.50))


def test_a_retrained_model_better_by_the_margin_is_promoted_by_itself(
    labeled_world, ml_engineer, quick_options, small_checks, settings
):
    settings.MODEL_AUTO_PROMOTE_MIN_CROPS = 1
    settings.MODEL_AUTO_PROMOTE_MARGIN = -1.0  # any result counts as better: the path, not the bar

    version = _retrained(ml_engineer, quick_options)

    assert version.status == ModelStatus.ACTIVE
    assert version.promoted_by is None
    assert version.promoted_at is not None
    event = AuditEvent.objects.get(action="ocr_bridge.model_promote")
    assert event.actor_type == "system"


# --- Reading the queue again --------------------------------------------------------------


def test_reprefill_reads_unlabeled_crops_least_confident_first(
    labeled_world, service_token, ml_engineer, quick_options, small_checks
):
    waiting = make_word_donation(source=service_token, words=WORDS[:4], split="train", seed=9)
    version = _retrained(ml_engineer, quick_options)
    learning.model_promote(version_id=version.pk, user=ml_engineer)
    labeled_before = {
        c.pk: c.prefill_engine_version for c in WordCrop.objects.filter(labels__isnull=False)
    }

    assert learning.crops_reprefill_batch(version_id=version.pk, batch_size=2) == 2

    crops = list(waiting.crops.order_by("index"))
    assert [c.prefill_engine_version == version.engine_version for c in crops] == [
        True,
        True,
        False,
        False,
    ]
    for crop in crops[:2]:
        assert crop.prefill_text
        assert crop.prefill_engine == "crnn"
        assert Task.objects.get(crop=crop).confidence == pytest.approx(crop.prefill_confidence)
    assert learning.crops_reprefill_batch(version_id=version.pk, batch_size=10) == 2
    assert learning.crops_reprefill_batch(version_id=version.pk, batch_size=10) == 0
    for crop in WordCrop.objects.filter(pk__in=labeled_before):
        assert crop.prefill_engine_version == labeled_before[crop.pk]
    event = AuditEvent.objects.filter(action="ocr_bridge.crops_reprefill").first()
    assert event.data["count"] == 2
    assert event.target_id == str(version.pk)


def test_reprefill_sets_the_labels_a_task_needs_by_its_new_confidence_band(service_token):
    # Given crops read by an older model, their tasks asking for a k no band gives
    qs = QualitySettings.objects.create(
        low_band_below=0.5, k_low=3, k_high=1, audit_sample_rate=0.0, gold_rate=0.0
    )
    waiting = make_word_donation(source=service_token, words=WORDS[:4], split="train", seed=9)
    waiting.crops.update(prefill_engine_version="an older model")
    Task.objects.filter(crop__donation=waiting).update(labels_needed=9, confidence=0.0)
    shipped = weights.active_version()

    # When the active model reads them again
    assert learning.crops_reprefill_batch(version_id=shipped.pk, batch_size=10) == 4

    # Then each task's queue confidence and k follow the new reading
    for task in Task.objects.filter(crop__donation=waiting).select_related("crop"):
        assert task.confidence == pytest.approx(task.crop.prefill_confidence)
        expected = labels_needed_for(crop_id=task.crop_id, confidence=task.confidence, qs=qs)
        assert task.labels_needed == expected
        assert expected == (3 if task.confidence < 0.5 else 1)


def test_reprefill_stops_when_the_version_is_no_longer_active(labeled_world, service_token):
    make_word_donation(source=service_token, words=WORDS[:2], split="train", seed=9)
    shipped = weights.active_version()
    ModelVersion.objects.filter(pk=shipped.pk).update(status=ModelStatus.RETIRED)

    assert learning.crops_reprefill_batch(version_id=shipped.pk, batch_size=10) == 0


def test_withdrawn_donations_are_not_read_again(service_token):
    donation = make_word_donation(source=service_token, words=WORDS[:2], split="train", seed=9)
    donation_withdraw(source=service_token, donation_id=donation.pk)
    shipped = weights.active_version()

    assert learning.crops_reprefill_batch(version_id=shipped.pk, batch_size=10) == 0
    donation.refresh_from_db()
    assert donation.status == DonationStatus.WITHDRAWN


def test_accepted_labels_are_the_exports_selection(labeled_world):
    assert {ref.label_id for ref in selectors.training_set()} <= set(
        accepted_labels().values_list("id", flat=True)
    )


def test_crops_flagged_rotated_are_turned_upright_and_teach_the_orientation_classifier(
    service_token, annotator, ml_engineer, quick_options, small_checks, monkeypatch
):
    from ocr.orientation.data import turn
    from ocr_bridge.learning.crops import CropImages, upright_rotated
    from ocr_bridge.selectors import LabelledCropRef

    monkeypatch.setattr(retrain, "MIN_ROTATED_FOR_ORIENTATION", 2)
    upright = make_word_donation(source=service_token, words=WORDS[:4], split="train", seed=4)
    accept_all(upright, annotator=annotator)
    turned = make_word_donation(source=service_token, words=WORDS[:3], split="train", seed=6)
    for crop, quarters in zip(turned.crops.order_by("index"), (1, 2, 3), strict=True):
        _store_turned(crop, quarters)
    accept_all(turned, annotator=annotator, rotated=True)

    version = _retrained(ml_engineer, quick_options)

    assert version.status == ModelStatus.READY, version.reason
    assert version.metrics["training"]["rotated_turned_upright"] == 3
    assert version.metrics["training"]["orientation_finetuned"] is True
    assert version.label_count == 7
    own = weights.orientation_read(version)
    assert weights.file_digest(own) == version.orientation_sha256
    # The turn found for each flagged crop is the one that was applied.
    refs = [
        LabelledCropRef(0, c.pk, str(turned.pk), "receipt", c.image_name, WORDS[c.index], True)
        for c in turned.crops.order_by("index")
    ]
    crops = learning.crops_read(refs)
    kept, images, turns = upright_rotated(crops, weights.weights_read(weights.active_version()))
    assert turns == [1, 2, 3]
    assert all(
        (turn(image, -q) == k).all() for image, q, k in zip(images, turns, kept.images, strict=True)
    )
    assert isinstance(kept, CropImages)


def _store_turned(crop, quarters: int) -> None:
    """Replaces the crop's stored image with itself turned counter-clockwise."""
    import io

    import numpy as np
    from PIL import Image

    from annotations import blobs

    plain = blobs.blob_get(donation=crop.donation, name=crop.image_name)
    image = np.rot90(np.asarray(Image.open(io.BytesIO(plain)).convert("L")), quarters)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(out, format="PNG")
    blobs.blob_put(donation=crop.donation, name=crop.image_name, plaintext=out.getvalue())
