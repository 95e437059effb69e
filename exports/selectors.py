"""What goes into an export: one row per accepted word crop, never a withdrawn donation.

``accepted_labels`` is the one place that says what "accepted" means; ``split_of`` the
one place that says which split a document belongs to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, QuerySet

from annotations import roles
from annotations.models import DocumentKind, DonationStatus, Label, TaskStatus
from exports.models import Export
from quality.models import ConsensusState

FLAGS = ("rotated", "non_english", "unreadable")
SPLITS = ("train", "validation", "test")
CONSENSUS_STATES = ("accepted",)

# Buckets of 100: [0, 80) train, [80, 90) validation, [90, 100) test. Changing this
# moves documents between splits, so the frozen test split would leak: never edit.
_SPLIT_SALT = b"dropturk-split-v1:"
_TRAIN_BELOW, _VALIDATION_BELOW = 80, 90


def split_of(donation_id: object) -> str:
    """The split of a document: a stable hash of its donation id, the same in every export.

    A document's crops are never in two splits, and ``test`` is the frozen test split of
    the learning loop (issue 7 reuses this function).
    """
    digest = hashlib.sha256(_SPLIT_SALT + str(donation_id).encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    if bucket < _TRAIN_BELOW:
        return "train"
    if bucket < _VALIDATION_BELOW:
        return "validation"
    return "test"


@dataclass(frozen=True)
class ExportFilters:
    """What an export asks for. ``from_dict`` checks a request's JSON."""

    date_from: dt.date | None = None  # the label's date, inclusive
    date_to: dt.date | None = None
    kinds: tuple[str, ...] = ()
    consensus_state: str = "accepted"
    min_confidence: float | None = None
    flags_include: tuple[str, ...] = ()  # every one of these flags set
    flags_exclude: tuple[str, ...] = ()  # none of these flags set
    engine_versions: tuple[str, ...] = ()  # the prefill model's version

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ExportFilters:
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValidationError(f"unknown filters: {', '.join(sorted(unknown))}")
        kinds = _string_list(data, "kinds", allowed=DocumentKind.values)
        flags_include = _string_list(data, "flags_include", allowed=FLAGS)
        flags_exclude = _string_list(data, "flags_exclude", allowed=FLAGS)
        state = data.get("consensus_state", "accepted")
        if state not in CONSENSUS_STATES:
            raise ValidationError(
                f"consensus_state must be one of {CONSENSUS_STATES} until consensus lands"
            )
        min_confidence = data.get("min_confidence")
        if min_confidence is not None:
            if not isinstance(min_confidence, int | float) or not 0 <= min_confidence <= 1:
                raise ValidationError("min_confidence must be a number from 0 to 1")
            min_confidence = float(min_confidence)
        return cls(
            date_from=_date(data, "date_from"),
            date_to=_date(data, "date_to"),
            kinds=kinds,
            consensus_state=state,
            min_confidence=min_confidence,
            flags_include=flags_include,
            flags_exclude=flags_exclude,
            engine_versions=_string_list(data, "engine_versions"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "kinds": list(self.kinds),
            "consensus_state": self.consensus_state,
            "min_confidence": self.min_confidence,
            "flags_include": list(self.flags_include),
            "flags_exclude": list(self.flags_exclude),
            "engine_versions": list(self.engine_versions),
        }


def _string_list(data: dict, key: str, *, allowed=None) -> tuple[str, ...]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{key} must be a list of strings")
    if allowed is not None and (bad := set(value) - set(allowed)):
        raise ValidationError(f"{key}: unknown {', '.join(sorted(bad))}")
    return tuple(value)


def _date(data: dict, key: str) -> dt.date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError(f"{key} must be a date (YYYY-MM-DD)") from exc


@dataclass(frozen=True)
class ExportRow:
    """One word crop with its label, as the format writers see it."""

    crop_id: int
    label_id: int
    donation_id: str
    document_kind: str
    crop_index: int
    box: tuple[int, int, int, int]  # x, y, width, height on the page
    page_size: tuple[int, int]  # width, height
    image_name: str  # the crop's encrypted blob
    document_image_name: str
    document_image_format: str
    text: str
    rotated: bool
    non_english: bool
    unreadable: bool
    consensus_confidence: float
    prefill_text: str
    prefill_engine: str
    prefill_engine_version: str
    labeled_at: str
    split: str = field(default="train")
    # How the page reader made the crop (ADR 0009): its line on the page (None for crops
    # cut before lines), the reader's decision, the detected boxes it came from, and the
    # detector that found them. Trainers group a page's words into lines with ``line``
    # and ``crop_index`` (reading order).
    line: int | None = None
    decision: str = ""
    source_boxes: int = 1
    detector_version: str = ""

    @property
    def flags(self) -> dict[str, bool]:
        return {flag: getattr(self, flag) for flag in FLAGS}


def accepted_labels() -> QuerySet[Label]:
    """The label each exportable crop is exported with, annotated ``consensus_confidence``.

    A crop is exportable when its consensus (``quality.models.CropConsensus``) is
    accepted: by agreeing annotators, the label is the earliest current one giving the
    consensus answer; by a reviewer, the reviewer's label. The consensus row names that
    label and carries the confidence. Withdrawn donations are excluded here as well as by
    withdrawal deleting their labels, so that neither alone can let one through.
    """
    return (
        Label.objects.filter(
            revision__isnull=True,
            consensus_of__state=ConsensusState.ACCEPTED,
            crop__task__status__in=(TaskStatus.DONE, TaskStatus.GOLD),
        )
        .exclude(crop__donation__status=DonationStatus.WITHDRAWN)
        .exclude(crop__donation__wrapped_key__isnull=True)
        .annotate(consensus_confidence=F("consensus_of__confidence"))
    )


def export_labels(*, filters: ExportFilters) -> QuerySet[Label]:
    labels = accepted_labels()
    if filters.date_from:
        labels = labels.filter(created_at__date__gte=filters.date_from)
    if filters.date_to:
        labels = labels.filter(created_at__date__lte=filters.date_to)
    if filters.kinds:
        labels = labels.filter(crop__donation__kind__in=filters.kinds)
    if filters.min_confidence is not None:
        labels = labels.filter(consensus_confidence__gte=filters.min_confidence)
    for flag in filters.flags_include:
        labels = labels.filter(**{flag: True})
    for flag in filters.flags_exclude:
        labels = labels.filter(**{flag: False})
    if filters.engine_versions:
        labels = labels.filter(crop__prefill_engine_version__in=filters.engine_versions)
    # Grouped by document, so that each donation's key is unwrapped once.
    return labels.order_by("crop__donation_id", "crop__index")


_ROW_FIELDS = {
    "c_id": F("crop_id"),
    "label_id": F("id"),
    "donation_id": F("crop__donation_id"),
    "document_kind": F("crop__donation__kind"),
    "crop_index": F("crop__index"),
    "line_no": F("crop__line"),
    "decision": F("crop__decision"),
    "source_boxes": F("crop__source_boxes"),
    "detector_version": F("crop__detector_version"),
    "x": F("crop__x"),
    "y": F("crop__y"),
    "w": F("crop__width"),
    "h": F("crop__height"),
    "page_w": F("crop__donation__width"),
    "page_h": F("crop__donation__height"),
    "image_name": F("crop__image_name"),
    "document_image_name": F("crop__donation__image_name"),
    "document_image_format": F("crop__donation__image_format"),
    "p_text": F("crop__prefill_text"),
    "p_engine": F("crop__prefill_engine"),
    "p_version": F("crop__prefill_engine_version"),
}


def export_count(*, filters: ExportFilters) -> int:
    return export_labels(filters=filters).count()


@contextmanager
def _planned_for_every_row():
    """PostgreSQL plans a cursor for its first tenth of rows (``cursor_tuple_fraction``):
    with stale statistics (a table just filled) that chose a nested loop comparing every
    crop with every document, 50 s instead of 1 s at 100,000 crops. An export reads every
    row, so its cursor is planned for all of them; the session's value comes back after."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET cursor_tuple_fraction = 1.0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET cursor_tuple_fraction")


def export_rows(*, filters: ExportFilters, chunk_size: int = 2000) -> Iterator[ExportRow]:
    """Every row of an export, read in chunks from a server-side cursor: constant memory."""
    values = export_labels(filters=filters).values(
        "text",
        "rotated",
        "non_english",
        "unreadable",
        "consensus_confidence",
        "created_at",
        **_ROW_FIELDS,
    )
    chunks = values.iterator(chunk_size=chunk_size)
    with _planned_for_every_row():
        first = next(chunks, None)  # the cursor is declared, so planned, here
    if first is None:
        return
    for v in itertools.chain([first], chunks):
        yield ExportRow(
            crop_id=v["c_id"],
            label_id=v["label_id"],
            donation_id=str(v["donation_id"]),
            document_kind=v["document_kind"],
            crop_index=v["crop_index"],
            box=(v["x"], v["y"], v["w"], v["h"]),
            page_size=(v["page_w"], v["page_h"]),
            image_name=v["image_name"],
            document_image_name=v["document_image_name"],
            document_image_format=v["document_image_format"],
            text=v["text"],
            rotated=v["rotated"],
            non_english=v["non_english"],
            unreadable=v["unreadable"],
            consensus_confidence=v["consensus_confidence"],
            prefill_text=v["p_text"],
            prefill_engine=v["p_engine"],
            prefill_engine_version=v["p_version"],
            labeled_at=v["created_at"].isoformat(),
            split=split_of(v["donation_id"]),
            line=v["line_no"],
            decision=v["decision"],
            source_boxes=v["source_boxes"],
            detector_version=v["detector_version"],
        )


def can_export(user) -> bool:
    return roles.has_role(user, roles.ML_ENGINEER)


def export_get_for_requester(*, user, export_id) -> Export | None:
    """An export its requester may see; None for anyone else (they get 404)."""
    if not can_export(user):
        return None
    return Export.objects.filter(pk=export_id, requester=user).first()


def exports_of(*, user) -> QuerySet[Export]:
    """The exports a person requested, newest first; none for anyone who may not export."""
    if not can_export(user):
        return Export.objects.none()
    return Export.objects.filter(requester=user).order_by("-created_at")
