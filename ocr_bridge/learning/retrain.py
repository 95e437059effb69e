"""A requested retraining run to the end, step by step: claim it, read the labeled crops,
fine-tune the recognizer (and the orientation classifier when enough crops were flagged
rotated), measure it beside its parent on the same crops, register it (weights
encrypted), and promote it when it beats its parent by the set margin."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

import audit
from annotations.models import Donation, DonationStatus
from ocr_bridge import selectors, weights
from ocr_bridge.learning.crops import CropImages, crops_read, limit_documents, upright_rotated
from ocr_bridge.learning.evaluate import model_evaluate
from ocr_bridge.learning.options import RetrainOptions
from ocr_bridge.learning.promotion import auto_promotion_due, model_promote
from ocr_bridge.learning.requests import STALLED_AFTER, model_fail
from ocr_bridge.models import ModelStatus, ModelVersion

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 2.0  # how often a running retrain writes its progress row
MIN_ROTATED_FOR_ORIENTATION = 20  # crops flagged rotated needed to fine-tune orientation


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
    options = RetrainOptions(**version.config)
    parent = weights.active_version()
    parent_weights = weights.weights_read(parent)
    ModelVersion.objects.filter(pk=version.pk).update(parent=parent)

    crops = _read_crops(version, options)
    upright, turned, turns = upright_rotated(crops.train, parent_weights)
    if not upright.refs:
        raise ValueError("every accepted label was left out (withdrawn or unreadable)")
    new_weights = _fit_recognizer(version, options, upright, parent_weights)
    _stage(version.pk, "training orientation", status=ModelStatus.TRAINING)
    orientation = _fit_orientation(parent, options, upright, turned, turns)

    _stage(version.pk, "evaluating", status=ModelStatus.EVALUATING, eta_seconds=None)
    metrics = _measure_beside_parent(new_weights, parent, parent_weights, crops)
    metrics["training"] = {
        "crops": len(upright.refs),
        "documents": len(upright.documents),
        "rotated_turned_upright": len(turned),
        "orientation_finetuned": orientation is not None,
    }
    version = _register(
        version,
        parent=parent,
        new_weights=new_weights,
        orientation=orientation,
        metrics=metrics,
        learned_from=upright,
        started=started,
    )
    if auto_promotion_due(version):
        model_promote(version_id=version.pk, user=None)
        version.refresh_from_db()
    return version


# --- The run's bookkeeping --------------------------------------------------------------


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


# --- Steps ------------------------------------------------------------------------------


@dataclass
class _Crops:
    """What a run reads: the crops it learns from, and the two it is measured on."""

    train: CropImages
    frozen: CropImages
    gold: CropImages


def _read_crops(version: ModelVersion, options: RetrainOptions) -> _Crops:
    """Decrypts the training set (up to ``max_labels``), the frozen test split and the
    gold items into memory, and records the reads on the audit trail."""
    train_refs = limit_documents(selectors.training_set(), options.max_labels)
    if not train_refs:
        raise ValueError("no accepted labels to learn from outside the frozen test split")
    crops = _Crops(
        train=crops_read(train_refs),
        frozen=crops_read(selectors.frozen_test_set()),
        gold=crops_read(selectors.gold_set()),
    )
    every = (crops.train, crops.frozen, crops.gold)
    with transaction.atomic():
        audit.record(
            actor=audit.SYSTEM,
            action="ocr_bridge.training_crops_read",
            target=version,
            data={
                "count": sum(len(part.refs) for part in every),
                "documents": len(set().union(*(part.documents for part in every))),
            },
        )
    return crops


def _fit_recognizer(
    version: ModelVersion, options: RetrainOptions, upright: CropImages, parent_weights: bytes
) -> bytes:
    """Fine-tunes the parent on the upright crops, synthetic words mixed in; its weights."""
    from ocr.recognition.charset import Charset
    from ocr.recognition.data import LabelledImages
    from ocr.recognition.predictor import weights_bytes
    from ocr.recognition.training import TrainConfig, fit

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
    return weights_bytes(model, charset)


def _fit_orientation(
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


def _measure_beside_parent(
    new_weights: bytes, parent: ModelVersion, parent_weights: bytes, crops: _Crops
) -> dict[str, Any]:
    """The new model's metrics, with its parent's on the very same crops beside them."""
    metrics = model_evaluate(model_weights=new_weights, frozen=crops.frozen, gold=crops.gold)
    parents = model_evaluate(model_weights=parent_weights, frozen=crops.frozen, gold=crops.gold)
    metrics["parent"] = {
        "name": parent.name,
        "frozen": {k: parents["frozen"][k] for k in ("n", "accuracy", "cer")},
        "gold": {k: parents["gold"][k] for k in ("n", "accuracy", "cer")},
        "synthetic_accuracy": parents["synthetic_accuracy"],
    }
    return metrics


def _register(
    version: ModelVersion,
    *,
    parent: ModelVersion,
    new_weights: bytes,
    orientation: bytes | None,
    metrics: dict[str, Any],
    learned_from: CropImages,
    started: float,
) -> ModelVersion:
    """Stores the weights encrypted and marks the version ready with its metrics and
    lineage, unless it failed meanwhile (a sweep) or a donation it learned from was
    withdrawn during the run (then it fails)."""
    label_ids = [ref.label_id for ref in learned_from.refs]
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if version.status != ModelStatus.EVALUATING:
            return version  # failed meanwhile (a sweep): leave it so
        withdrawn = Donation.objects.filter(
            pk__in=list(learned_from.documents), status=DonationStatus.WITHDRAWN
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
    return version
