"""Reads of label quality, with the access rule each one applies."""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import TruncDay, TruncHour

from annotations.models import Label, LabelKind, WordCrop
from quality.consensus import normalize
from quality.models import (
    AnnotatorStats,
    ConsensusState,
    CropConsensus,
    DecidedBy,
    DetectorFeedback,
    GoldItem,
    QualitySettings,
    QueueSnapshot,
    ReviewReason,
)

SETTINGS_CACHE_SECONDS = 15.0
_settings_cache: dict[str, tuple[float, QualitySettings]] = {}


def quality_settings() -> QualitySettings:
    """The project's quality settings, cached per process for a few seconds.

    The annotator's hot path reads them on every lease and submit; an admin's change
    reaches every process within ``SETTINGS_CACHE_SECONDS`` (this process at once).
    """
    cached = _settings_cache.get("row")
    if cached is not None and time.monotonic() - cached[0] < SETTINGS_CACHE_SECONDS:
        return cached[1]
    row = QualitySettings.objects.filter(pk=1).first() or QualitySettings(pk=1)
    _settings_cache["row"] = (time.monotonic(), row)
    return row


def forget_quality_settings() -> None:
    _settings_cache.clear()


def gold_items() -> QuerySet[GoldItem]:
    """Every gold item (crop with a known answer), with its crop, oldest first."""
    return GoldItem.objects.select_related("crop").order_by("id")


@dataclass(frozen=True)
class AnnotatorWeight:
    weight: float  # log-odds vote weight (Dawid-Skene)
    flagged: bool  # below the reliability bar: their labels go to review


WEIGHTS_CACHE_SECONDS = 60.0
_weights_cache: dict[str, tuple[float, dict[int, AnnotatorWeight]]] = {}


def annotator_weights() -> dict[int, AnnotatorWeight]:
    """Every scored annotator's vote weight and flag, cached per process for a minute.

    Consensus runs inside the label's submit; reading one small table once a minute
    keeps that from costing a query per submit. Unscored annotators are absent (weight 1).
    """
    cached = _weights_cache.get("all")
    if cached is not None and time.monotonic() - cached[0] < WEIGHTS_CACHE_SECONDS:
        return cached[1]
    weights = {
        annotator_id: AnnotatorWeight(weight=weight, flagged=flagged)
        for annotator_id, weight, flagged in AnnotatorStats.objects.values_list(
            "annotator_id", "weight", "flagged"
        )
    }
    _weights_cache["all"] = (time.monotonic(), weights)
    return weights


def forget_annotator_weights() -> None:
    _weights_cache.clear()


def review_queue(*, now: datetime) -> QuerySet[CropConsensus]:
    """Crops waiting for review that nobody has open, oldest first (``consensus_review_idx``)."""
    return (
        CropConsensus.objects.filter(state=ConsensusState.NEEDS_REVIEW)
        .filter(Q(review_leased_to__isnull=True) | Q(review_lease_expires_at__lt=now))
        .order_by("updated_at", "id")
    )


def review_item(*, item: CropConsensus) -> dict:
    """What a reviewer sees of an item: the crop, why it is here, the distinct answers its
    annotators gave (each with its earliest label, its votes and whether any came from a
    flagged annotator). Annotators stay anonymous."""
    weights = annotator_weights()
    groups: dict[tuple, dict] = {}
    labels = Label.objects.filter(
        crop_id=item.crop_id, revision__isnull=True, kind=LabelKind.ANNOTATION
    ).order_by("id")
    for label in labels:
        key = (
            normalize(label.text),
            label.rotated,
            label.non_english,
            label.unreadable,
            label.bad_reason,
        )
        group = groups.setdefault(
            key,
            {
                "label_id": label.pk,
                "text": label.text,
                "rotated": label.rotated,
                "non_english": label.non_english,
                "unreadable": label.unreadable,
                "bad_reason": label.bad_reason,  # an annotator's mark: the crop is bad
                "votes": 0,
                "low_reliability": False,
            },
        )
        group["votes"] += 1
        stats = weights.get(label.annotator_id)
        group["low_reliability"] |= stats is not None and stats.flagged
    candidates = sorted(groups.values(), key=lambda group: (-group["votes"], group["label_id"]))
    crop = WordCrop.objects.only("prefill_text").get(pk=item.crop_id)
    return {
        "crop_id": item.crop_id,
        "image_url": f"/api/v1/crops/{item.crop_id}/image",
        "reason": item.review_reason,
        "reason_text": ReviewReason(item.review_reason).label if item.review_reason else "",
        "prefill_text": crop.prefill_text,
        "candidates": candidates,
        "lease_expires_at": item.review_lease_expires_at,
    }


# --- The metrics page -------------------------------------------------------------------

BAND_EDGES = (0.2, 0.4, 0.6, 0.8)  # five prefill confidence bands


def band_name(index: int) -> str:
    low = 0.0 if index == 0 else BAND_EDGES[index - 1]
    high = 1.0 if index == len(BAND_EDGES) else BAND_EDGES[index]
    return f"{low:.1f}-{high:.1f}"


def labels_per_hour(*, now: datetime, hours: int = 48) -> list[tuple[datetime, int]]:
    """Annotators' labels in each of the last ``hours`` hours (oldest first, gaps as 0)."""
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    counts = dict(
        Label.objects.filter(kind=LabelKind.ANNOTATION, created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )
    return [
        (start + timedelta(hours=h), counts.get(start + timedelta(hours=h), 0))
        for h in range(hours)
    ]


def agreement_per_day(*, now: datetime, days: int = 14) -> list[tuple[datetime, float | None]]:
    """Of the crops labeled by several people and decided each day, the share where the
    labels agreed (accepted by consensus, not by a reviewer)."""
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        CropConsensus.objects.filter(n_labels__gte=2, updated_at__gte=start)
        .exclude(state=ConsensusState.PENDING)
        .annotate(day=TruncDay("updated_at"))
        .values_list("day")
        .annotate(
            n=Count("id"),
            agreed=Count(
                "id",
                filter=Q(state=ConsensusState.ACCEPTED, decided_by=DecidedBy.CONSENSUS),
            ),
        )
        .values_list("day", "n", "agreed")
    )
    by_day = {day: agreed / n for day, n, agreed in rows}
    return [(start + timedelta(days=d), by_day.get(start + timedelta(days=d))) for d in range(days)]


def prefill_kept(*, since: datetime) -> dict[tuple[int, bool], tuple[int, int]]:
    """How often annotators kept the prefill unchanged: {(band, shown): (kept, labels)}.

    Only labels whose lease recorded whether the prefill was shown. In blind mode
    "kept" means the annotator typed exactly what the model read: the base rate the
    shown rate is compared with.
    """
    band = Case(
        *[
            When(crop__prefill_confidence__lt=edge, then=Value(index))
            for index, edge in enumerate(BAND_EDGES)
        ],
        default=Value(len(BAND_EDGES)),
        output_field=IntegerField(),
    )
    rows = (
        Label.objects.filter(
            kind=LabelKind.ANNOTATION, prefill_shown__isnull=False, created_at__gte=since
        )
        .annotate(band=band)
        .values_list("band", "prefill_shown")
        .annotate(n=Count("id"), kept=Count("id", filter=Q(text=F("crop__prefill_text"))))
        .values_list("band", "prefill_shown", "kept", "n")
    )
    return {(b, shown): (kept, n) for b, shown, kept, n in rows}


def queue_depth(*, now: datetime, days: int = 7) -> QuerySet[QueueSnapshot]:
    return QueueSnapshot.objects.filter(taken_at__gte=now - timedelta(days=days)).order_by(
        "taken_at"
    )


def annotator_table() -> QuerySet[AnnotatorStats]:
    """Every scored annotator, flagged ones first, then the least reliable."""
    return AnnotatorStats.objects.select_related("annotator").order_by(
        "-flagged", F("reliability").asc(nulls_last=True), "annotator__username"
    )


def detector_feedback(*, limit: int = 500) -> QuerySet[DetectorFeedback]:
    """Crops reviewers marked bad, newest first, for the people who tune the detector."""
    return DetectorFeedback.objects.select_related("crop").order_by("-created_at")[:limit]
