"""The learning loop's writes: retrain from accepted labels, register, promote, re-prefill.

Retraining fine-tunes the ACTIVE model on the accepted labels outside the frozen test
split, mixing synthetic words into every batch against forgetting, evaluates the new
model and its parent on the same frozen-split crops and gold items, and registers the
version with its metrics, config, duration and lineage. Crops are decrypted into memory
only; the weights are stored encrypted (`ocr_bridge.weights`). A version is promoted by
an ML engineer, or automatically when it beats its parent by ``MODEL_AUTO_PROMOTE_MARGIN``
on the frozen split; then the unlabeled crops are read again in the background, the
least confident first, in batches.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

import numpy as np
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from PIL import Image

import audit
from annotations import blobs
from annotations.models import Donation, DonationStatus, Task, TaskStatus, WordCrop
from ocr_bridge import evaluation, selectors, weights
from ocr_bridge.engines import Recognition
from ocr_bridge.models import ModelStatus, ModelVersion
from ocr_bridge.selectors import LabelledCropRef
from ocr_bridge.services import recognize_upright
from quality import selectors as quality_selectors
from quality import services as quality

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2.0  # how often a running retrain writes its progress row
STALLED_AFTER = timedelta(minutes=30)  # a running version whose heartbeat stopped this long
SYNTHETIC_CHECK_SIZE = 256  # synthetic words read by new and parent: forgetting, measured
MIN_ROTATED_FOR_ORIENTATION = 20  # crops flagged rotated needed to fine-tune orientation


class RetrainConflict(Exception):
    """A retraining is already running: one at a time."""


class PromotionRefused(Exception):
    """The version cannot be promoted (not evaluated, failed, already active)."""


@dataclass(frozen=True)
class RetrainOptions:
    """How a retraining fine-tunes; the defaults are what the learning-loop benchmark
    measured best within a few CPU minutes (README, "Learning loop")."""

    steps: int = 8000
    batch_size: int = 32
    learning_rate: float = 3e-3
    synthetic_share: float = 0.1
    augment: bool = True
    freeze_features: bool = False
    seed: int = 0
    threads: int = 1
    max_labels: int = 0  # 0: every accepted label; else the first N documents' worth

    LIMITS = {
        "steps": (1, 100_000),
        "batch_size": (2, 512),
        "learning_rate": (1e-6, 1.0),
        "synthetic_share": (0.0, 0.9),
        "seed": (0, 2**31 - 1),
        "threads": (1, 64),
        "max_labels": (0, 10_000_000),
    }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RetrainOptions:
        """Checks a request's options: known names, right types, sensible ranges."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValidationError(f"unknown options: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in data:
                continue
            value = data[field.name]
            if field.type in ("bool", bool):
                if not isinstance(value, bool):
                    raise ValidationError(f"{field.name} must be true or false")
            else:
                number = float if field.type in ("float", float) else int
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValidationError(f"{field.name} must be a number")
                if number is int and value != int(value):
                    raise ValidationError(f"{field.name} must be a whole number")
                low, high = cls.LIMITS[field.name]
                if not low <= value <= high:
                    raise ValidationError(f"{field.name} must be from {low} to {high}")
                value = number(value)
            values[field.name] = value
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- Requests ---------------------------------------------------------------------------


def model_versions_fail_stalled() -> list[int]:
    """Fails running versions whose worker was lost (no heartbeat for STALLED_AFTER)."""
    cutoff = timezone.now() - STALLED_AFTER
    stalled = ModelVersion.objects.filter(
        status__in=(ModelStatus.TRAINING, ModelStatus.EVALUATING), created_at__lt=cutoff
    ).exclude(heartbeat_at__gte=cutoff)
    failed = []
    for version_id in stalled.values_list("pk", flat=True):
        model_fail(version_id=version_id, reason="The training worker was lost (no progress).")
        failed.append(version_id)
    return failed


def model_retrain_request(*, user, options: RetrainOptions) -> ModelVersion:
    """Registers a version in training and queues its retraining on commit.

    Assumes ``selectors.can_train_models(user)``. One retraining at a time.
    """
    model_versions_fail_stalled()
    with transaction.atomic():
        # Serialises requests: the active row (or the shipped one) is the lock.
        weights.active_version()
        ModelVersion.objects.select_for_update().filter(status=ModelStatus.ACTIVE).first()
        if selectors.model_running() is not None:
            raise RetrainConflict("A retraining is already running; wait for it to finish.")
        version = ModelVersion.objects.create(
            name=f"pending-{uuid.uuid4().hex[:12]}",
            status=ModelStatus.TRAINING,
            config=options.as_dict(),
            created_by=user,
            stage="queued",
            total=options.steps,
        )
        version.name = f"ft-{version.pk}"
        version.save(update_fields=["name"])
        audit.record(
            actor=user,
            action="ocr_bridge.model_retrain_request",
            target=version,
            data={"name": version.name, "options": options.as_dict()},
        )
        transaction.on_commit(
            lambda: current_app.send_task("ocr_bridge.retrain", args=(version.pk,)), robust=True
        )
    return version


def model_fail(*, version_id: int, reason: str) -> None:
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None or not version.is_running:
            return
        version.status = ModelStatus.FAILED
        version.reason = reason[:2000]
        version.stage = ""
        version.eta_seconds = None
        version.finished_at = timezone.now()
        version.save(update_fields=["status", "reason", "stage", "eta_seconds", "finished_at"])
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.model_failed",
            target=version,
            data={"name": version.name, "reason": reason[:500]},
        )


# --- Reading crops ----------------------------------------------------------------------


@dataclass
class CropImages:
    """Decrypted crops (gray, in memory) with their references, in the same order."""

    refs: list[LabelledCropRef]
    images: list[np.ndarray]
    documents: set[str]


def crops_read(refs: Sequence[LabelledCropRef]) -> CropImages:
    """Decrypts the crops, one donation key at a time; a crop whose donation was
    withdrawn meanwhile (key destroyed) is left out."""
    by_donation: dict[str, list[LabelledCropRef]] = defaultdict(list)
    for ref in refs:
        by_donation[ref.donation_id].append(ref)
    from ocr.recognition.preprocess import to_gray

    donations = Donation.objects.in_bulk(list(by_donation))
    kept: list[LabelledCropRef] = []
    images: list[np.ndarray] = []
    for donation_id, group in by_donation.items():
        donation = donations.get(uuid.UUID(donation_id))
        if donation is None or donation.status == DonationStatus.WITHDRAWN:
            continue
        try:
            key = blobs.data_key_for(donation)
        except blobs.KeyDestroyed:
            continue
        for ref in group:
            plain = blobs.blob_get(donation=donation, name=ref.image_name, data_key=key)
            with Image.open(io.BytesIO(plain)) as image:
                images.append(to_gray(image).copy())
            kept.append(ref)
    return CropImages(refs=kept, images=images, documents={r.donation_id for r in kept})


def _limit_documents(refs: list[LabelledCropRef], max_labels: int) -> list[LabelledCropRef]:
    """The first documents' labels (whole documents, in donation id order) up to N."""
    if not max_labels or len(refs) <= max_labels:
        return refs
    kept: list[LabelledCropRef] = []
    for ref in refs:
        if len(kept) >= max_labels and ref.donation_id != kept[-1].donation_id:
            break
        kept.append(ref)
    return kept


# --- Evaluation -------------------------------------------------------------------------


def _read(engine_weights: bytes, images: Sequence[np.ndarray]) -> list[Recognition]:
    from ocr.recognition.predictor import Predictor

    decoded = Predictor(engine_weights).predict(list(images))
    return [Recognition(d.text, d.confidence, d.char_confidences) for d in decoded]


def _measure(model_weights: bytes, crops: CropImages) -> dict[str, Any]:
    readings = _read(model_weights, crops.images)
    return evaluation.measure(
        [ref.text for ref in crops.refs],
        [r.text for r in readings],
        [r.confidence for r in readings],
        [ref.kind for ref in crops.refs],
    )


def _synthetic_accuracy(model_weights: bytes) -> float:
    """Case-insensitive accuracy on held-out synthetic words: what forgetting would cost."""
    from ocr.recognition.metrics import score
    from ocr.recognition.training import VALIDATION_FIRST_SEED
    from ocr.synth.render import render_sample

    samples = [render_sample(VALIDATION_FIRST_SEED + i) for i in range(SYNTHETIC_CHECK_SIZE)]
    readings = _read(model_weights, [s.image for s in samples])
    scores = score([s.text for s in samples], [r.text for r in readings], [0.0] * len(samples))
    return round(scores.accuracy_nocase, 4)


def model_evaluate(*, model_weights: bytes, frozen: CropImages, gold: CropImages) -> dict[str, Any]:
    return {
        "frozen": _measure(model_weights, frozen),
        "gold": _measure(model_weights, gold),
        "synthetic_accuracy": _synthetic_accuracy(model_weights),
    }


# --- Retraining -------------------------------------------------------------------------


def _progress_writer(version_id: int, stage: str) -> Callable[[int, int, float], None]:
    last = [0.0]

    def write(step: int, steps: int, eta: float) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_SECONDS and step < steps:
            return
        last[0] = now
        ModelVersion.objects.filter(pk=version_id).update(
            progress=step,
            total=steps,
            eta_seconds=round(eta),
            stage=stage,
            heartbeat_at=timezone.now(),
        )

    return write


def _stage(version_id: int, stage: str, **changes: Any) -> None:
    ModelVersion.objects.filter(pk=version_id).update(
        stage=stage, heartbeat_at=timezone.now(), **changes
    )


def _claim(version_id: int) -> ModelVersion | None:
    """The version, if this delivery is the one to train it (idempotent under redelivery)."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None or version.status != ModelStatus.TRAINING:
            return None
        fresh = timezone.now() - STALLED_AFTER
        if version.stage != "queued" and version.heartbeat_at and version.heartbeat_at > fresh:
            return None  # another delivery of the same task is at work
        version.stage = "reading crops"
        version.heartbeat_at = timezone.now()
        version.save(update_fields=["stage", "heartbeat_at"])
        return version


def _upright_rotated(crops: CropImages, parent_weights: bytes) -> tuple[CropImages, list, list]:
    """Crops flagged rotated, turned upright by the quarter turn under which the parent
    reads their accepted text best; returns the crops for the recognizer and, for the
    orientation classifier, the flagged crops with the turn found."""
    from rapidfuzz.distance import Levenshtein

    from ocr.orientation.data import turn
    from ocr.recognition.metrics import normalize_text

    keep_refs, keep_images, turned_images, turns = [], [], [], []
    flagged = [i for i, ref in enumerate(crops.refs) if ref.rotated]
    candidates = [turn(crops.images[i], -q) for i in flagged for q in range(4)]
    readings = _read(parent_weights, candidates) if candidates else []
    best_turn: dict[int, int] = {}
    for n, index in enumerate(flagged):
        truth = normalize_text(crops.refs[index].text, fold_case=True)
        distances = [
            Levenshtein.normalized_distance(
                normalize_text(readings[4 * n + q].text, fold_case=True), truth
            )
            for q in range(4)
        ]
        quarter = int(np.argmin(distances))
        if distances[quarter] <= 0.34:
            best_turn[index] = quarter
    for index, (ref, image) in enumerate(zip(crops.refs, crops.images, strict=True)):
        if not ref.rotated:
            keep_refs.append(ref)
            keep_images.append(image)
        elif index in best_turn:
            keep_refs.append(ref)
            keep_images.append(turn(image, -best_turn[index]))
            turned_images.append(image)
            turns.append(best_turn[index])
    return CropImages(keep_refs, keep_images, crops.documents), turned_images, turns


def _orientation_finetune(
    parent: ModelVersion, options: RetrainOptions, upright: CropImages, turned, turns
) -> bytes | None:
    """Fine-tunes the orientation classifier on the crops flagged rotated (their turn as
    found above) and upright real crops turned every way; None if too few were flagged."""
    if len(turned) < MIN_ROTATED_FOR_ORIENTATION:
        return None
    from torch.utils.data import ConcatDataset

    from ocr.orientation.data import TurnedCrops
    from ocr.orientation.predictor import DEFAULT_WEIGHTS
    from ocr.orientation.predictor import weights_bytes as orientation_bytes
    from ocr.orientation.training import OrientationTrainConfig, fit

    flagged = TurnedCrops(list(turned), list(turns))
    sample = upright.images[: 4 * len(turned)]
    real = ConcatDataset([flagged, TurnedCrops(sample, [0] * len(sample), all_turns=True)])
    initial = weights.orientation_read(parent)
    if initial is None and DEFAULT_WEIGHTS.is_file():
        initial = DEFAULT_WEIGHTS.read_bytes()  # else from scratch, synthetic turns mixed in
    config = OrientationTrainConfig(
        out_dir=None,
        steps=max(20, options.steps // 4),
        batch_size=options.batch_size,
        learning_rate=1e-3,
        seed=options.seed,
        workers=0,
        threads=options.threads,
        validation_size=0,
    )
    return orientation_bytes(fit(config, real=real, initial=initial))


def model_retrain(*, version_id: int) -> ModelVersion | None:
    """Runs a requested retraining to the end: ready (or active, when promoted
    automatically) or failed with a reason. Safe to deliver twice."""
    version = _claim(version_id)
    if version is None:
        return None
    started = time.monotonic()
    try:
        return _retrain(version, started)
    except Exception as exc:
        logger.exception("retraining %s failed", version.name)
        model_fail(version_id=version_id, reason=f"{type(exc).__name__}: {exc}")
        return ModelVersion.objects.get(pk=version_id)


def _retrain(version: ModelVersion, started: float) -> ModelVersion:
    from ocr.recognition.charset import Charset
    from ocr.recognition.data import LabelledImages
    from ocr.recognition.predictor import weights_bytes
    from ocr.recognition.training import TrainConfig, fit

    options = RetrainOptions(**version.config)
    parent = weights.active_version()
    parent_weights = weights.weights_read(parent)
    ModelVersion.objects.filter(pk=version.pk).update(parent=parent)

    train_refs = _limit_documents(selectors.training_set(), options.max_labels)
    if not train_refs:
        raise ValueError("no accepted labels to learn from outside the frozen test split")
    train_crops = crops_read(train_refs)
    frozen = crops_read(selectors.frozen_test_set())
    gold = crops_read(selectors.gold_set())
    with transaction.atomic():
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.training_crops_read",
            target=version,
            data={
                "count": len(train_crops.refs) + len(frozen.refs) + len(gold.refs),
                "documents": len(train_crops.documents | frozen.documents | gold.documents),
            },
        )
    upright, turned, turns = _upright_rotated(train_crops, parent_weights)
    if not upright.refs:
        raise ValueError("every accepted label was left out (withdrawn or unreadable)")

    charset = Charset()
    config = TrainConfig(
        out_dir=None,
        seed=options.seed,
        steps=options.steps,
        batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        synthetic_share=options.synthetic_share,
        augment=options.augment,
        freeze_features=options.freeze_features,
        workers=0,
        threads=options.threads,
        log_every=max(1, options.steps // 10),
    )
    real = LabelledImages(
        charset,
        upright.images,
        [ref.text for ref in upright.refs],
        augment_seed=options.seed if options.augment else None,
    )
    model = fit(
        config,
        finetune=real,
        initial=parent_weights,
        progress=_progress_writer(version.pk, "training"),
    )
    new_weights = weights_bytes(model, charset)
    _stage(version.pk, "training orientation", status=ModelStatus.TRAINING)
    orientation = _orientation_finetune(parent, options, upright, turned, turns)

    _stage(version.pk, "evaluating", status=ModelStatus.EVALUATING, eta_seconds=None)
    metrics = model_evaluate(model_weights=new_weights, frozen=frozen, gold=gold)
    parent_metrics = model_evaluate(model_weights=parent_weights, frozen=frozen, gold=gold)
    metrics["parent"] = {
        "name": parent.name,
        "frozen": {k: parent_metrics["frozen"][k] for k in ("n", "accuracy", "cer")},
        "gold": {k: parent_metrics["gold"][k] for k in ("n", "accuracy", "cer")},
        "synthetic_accuracy": parent_metrics["synthetic_accuracy"],
    }
    metrics["training"] = {
        "crops": len(upright.refs),
        "documents": len(upright.documents),
        "rotated_turned_upright": len(turned),
        "orientation_finetuned": orientation is not None,
    }
    label_ids = [ref.label_id for ref in upright.refs]
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ModelStatus.EVALUATING:
            return version  # failed meanwhile (a sweep): leave it so
        withdrawn = Donation.objects.filter(
            pk__in=list(upright.documents), status=DonationStatus.WITHDRAWN
        ).exists()
        if withdrawn:
            raise ValueError("a donation it learned from was withdrawn during training")
        weights.weights_store(version=version, weights=new_weights, orientation=orientation)
        version.metrics = metrics
        version.label_count = len(label_ids)
        version.labels_sha256 = selectors.labels_digest(label_ids)
        version.duration_seconds = round(time.monotonic() - started, 1)
        version.finished_at = timezone.now()
        version.status = ModelStatus.READY
        version.stage = ""
        version.progress = version.total
        version.eta_seconds = None
        version.save()
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.model_register",
            target=version,
            data={
                "name": version.name,
                "parent": parent.name,
                "labels": version.label_count,
                "accuracy": metrics["frozen"]["accuracy"],
                "parent_accuracy": metrics["parent"]["frozen"]["accuracy"],
            },
        )
    logger.info(
        "model %s: frozen split %.3f (parent %s %.3f) on %d crops, %d labels, %.0f s",
        version.name,
        metrics["frozen"]["accuracy"],
        parent.name,
        metrics["parent"]["frozen"]["accuracy"],
        metrics["frozen"]["n"],
        version.label_count,
        version.duration_seconds,
    )
    if auto_promotion_due(version):
        model_promote(version_id=version.pk, user=None)
        version.refresh_from_db()
    return version


# --- Promotion --------------------------------------------------------------------------


def auto_promotion_due(version: ModelVersion) -> bool:
    """Better than its parent on the same frozen-split crops by the set margin (and the
    split has enough crops to tell)."""
    margin = settings.MODEL_AUTO_PROMOTE_MARGIN
    if margin is None or version.status != ModelStatus.READY:
        return False
    frozen = version.metrics.get("frozen", {})
    parent = version.metrics.get("parent", {}).get("frozen", {})
    if frozen.get("n", 0) < settings.MODEL_AUTO_PROMOTE_MIN_CROPS:
        return False
    return frozen["accuracy"] >= parent.get("accuracy", 1.0) + margin


def model_promote(*, version_id: int, user) -> ModelVersion:
    """Makes the version the active one (the previous one retires) and starts reading the
    unlabeled crops again with it. ``user`` None: promoted automatically.

    Assumes ``selectors.can_train_models(user)`` and a recent re-authentication.
    """
    with transaction.atomic():
        current = ModelVersion.objects.select_for_update().filter(status=ModelStatus.ACTIVE)
        previous = current.first()
        version = ModelVersion.objects.select_for_update().filter(pk=version_id).first()
        if version is None:
            raise PromotionRefused("No such model.")
        if version.status == ModelStatus.ACTIVE:
            raise PromotionRefused(f"{version.name} is already the active model.")
        if version.status not in (ModelStatus.READY, ModelStatus.RETIRED):
            raise PromotionRefused(f"{version.name} is {version.status}; only a ready model.")
        if previous is not None:
            previous.status = ModelStatus.RETIRED
            previous.save(update_fields=["status"])
        version.status = ModelStatus.ACTIVE
        version.promoted_at = timezone.now()
        version.promoted_by = user
        version.save(update_fields=["status", "promoted_at", "promoted_by"])
        audit.record(
            actor=user,
            action="ocr_bridge.model_promote",
            target=version,
            data={
                "name": version.name,
                "previous": previous.name if previous is not None else "",
                "how": "by hand" if user is not None else "automatically, better by the margin",
            },
        )
        transaction.on_commit(
            lambda: current_app.send_task("ocr_bridge.reprefill_crops", args=(version.pk,)),
            robust=True,
        )
    return version


# --- Reading the queue again ------------------------------------------------------------


def crops_reprefill_batch(*, version_id: int, batch_size: int) -> int:
    """Reads the next batch of unlabeled crops with the version, if it is still active;
    updates their prefill, and their open task's queue confidence and the labels it needs
    (the crop's confidence band may have changed with the model). Returns how many.

    The prefill fields are the crop's (annotations owns the model; this is its only
    writer outside ``donation_finish_prefill``); a task labeled meanwhile keeps its
    confidence and its k, since only open tasks without labels are touched.
    """
    version = ModelVersion.objects.filter(pk=version_id, status=ModelStatus.ACTIVE).first()
    if version is None:
        return 0  # promoted over meanwhile: the newer version's chain does the work
    crops = selectors.crops_to_reprefill(engine_version=version.engine_version, limit=batch_size)
    if not crops:
        return 0
    engine = weights.engine_for(version)
    orientation = weights.orientation_for(version)
    keys: dict[str, bytes] = {}
    images: list[Image.Image] = []
    readable: list[WordCrop] = []
    for crop in crops:
        donation_id = str(crop.donation_id)
        try:
            if donation_id not in keys:
                keys[donation_id] = blobs.data_key_for(crop.donation)
        except blobs.KeyDestroyed:
            continue
        plain = blobs.blob_get(
            donation=crop.donation, name=crop.image_name, data_key=keys[donation_id]
        )
        images.append(Image.open(io.BytesIO(plain)))
        readable.append(crop)
    results = recognize_upright(engine, orientation, images)
    now = timezone.now()
    with transaction.atomic():
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.crops_reprefill",
            target=version,
            data={"name": version.name, "count": len(readable), "documents": len(keys)},
        )
        for crop, result in zip(readable, results, strict=True):
            crop.prefill_text = result.text[:200]
            crop.prefill_confidence = result.confidence
            crop.prefill_char_confidences = list(result.char_confidences)
            crop.prefill_engine = engine.name
            crop.prefill_engine_version = engine.version
            crop.prefilled_at = now
        WordCrop.objects.bulk_update(
            readable,
            [
                "prefill_text",
                "prefill_confidence",
                "prefill_char_confidences",
                "prefill_engine",
                "prefill_engine_version",
                "prefilled_at",
            ],
        )
        qs = quality_selectors.quality_settings()
        for crop, result in zip(readable, results, strict=True):
            Task.objects.filter(crop_id=crop.pk, status=TaskStatus.OPEN, labels_count=0).update(
                confidence=result.confidence,
                labels_needed=quality.labels_needed_for(
                    crop_id=crop.pk, confidence=result.confidence, qs=qs
                ),
            )
    # Crops whose donation lost its key are not read; count them as done for the caller.
    return len(crops)
