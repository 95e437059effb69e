"""Writes of label quality: consensus per crop, review decisions, gold items, statistics.

Called by ``annotations.services`` inside the label's own transaction (consensus), by the
review API (decisions), by ``import_gold`` and by beat tasks (statistics, snapshots).
Each function states the locks it assumes.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

import audit
from annotations.models import Label, LabelKind, Task, TaskStatus, WordCrop
from dbkit import prepared
from quality import consensus_sql, selectors
from quality.consensus import Vote, accuracy_and_cer, consensus, estimate_reliability, normalize
from quality.models import (
    AnnotatorStats,
    BadCropReason,
    ConsensusState,
    CropConsensus,
    DecidedBy,
    DetectorFeedback,
    GoldItem,
    GoldSource,
    QualitySettings,
    QueueSnapshot,
    ReviewReason,
)

FLAGS = ("rotated", "non_english", "unreadable")
# The labels consensus counts: annotators' (not gold answers) and reviewers' fixes.
COUNTED_KINDS = consensus_sql.COUNTED_KINDS
# Below this many crops of evidence (gold, or labeled by several), nobody is flagged.
MIN_EVIDENCE = 5
REVIEW_LEASE = timedelta(minutes=10)


class ReviewConflict(Exception):
    """The item was decided already, or the decision does not fit it."""


# --- Redundancy -----------------------------------------------------------------------


def in_audit_sample(*, crop_id: int, rate: float) -> bool:
    """A stable pseudo-random choice of ``rate`` of the crops (the same on every call)."""
    digest = hashlib.sha256(f"dropturk-audit-sample:{crop_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def labels_needed_for(*, crop_id: int, confidence: float | None, qs: QualitySettings) -> int:
    """k distinct annotators' labels: by the prefill's confidence band, plus the audit sample
    (high-band crops labeled twice)."""
    if confidence is None or confidence < qs.low_band_below:
        return qs.k_low
    if in_audit_sample(crop_id=crop_id, rate=qs.audit_sample_rate):
        return max(qs.k_high, 2)
    return qs.k_high


# --- Consensus ------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    state: str
    reason: str = ""
    escalate: bool = False  # ask for one more label


def mark_vote_text(bad_reason: str) -> str:
    """How an annotator's bad-crop mark votes: as a text no one can type (a control
    character leads it), so agreeing marks agree and a mark against a word disagrees."""
    return f"\x00{bad_reason}"


def _vote_text(label: Label) -> str:
    return mark_vote_text(label.bad_reason) if label.bad_reason else label.text


def _answer(label: Label) -> tuple:
    if label.bad_reason:
        return (mark_vote_text(label.bad_reason), False, False, False)
    return (
        "" if label.unreadable else normalize(label.text),
        label.rotated,
        label.non_english,
        label.unreadable,
    )


def _flags_split(votes: list[Vote], weights: dict[str, float]) -> bool:
    """Whether any flag's vote is tied (the flags are voted apart from the text)."""
    total = sum(weights.get(v.annotator, 1.0) for v in votes)
    for name in FLAGS:
        yes = sum(weights.get(v.annotator, 1.0) for v in votes if getattr(v, name))
        if yes > 0 and abs(yes - total / 2) < 1e-9:
            return True
    return False


def _decide(*, labels: list[Label], qs: QualitySettings):
    """Runs quality.consensus on a crop's current labels; returns (result, decision, label)."""
    weights_of = selectors.annotator_weights()
    votes = [
        Vote(
            annotator=str(label.annotator_id),
            text=_vote_text(label),
            rotated=label.rotated,
            non_english=label.non_english,
            unreadable=label.unreadable,
        )
        for label in labels
    ]
    weights = {
        vote.annotator: weights_of[int(vote.annotator)].weight
        for vote in votes
        if int(vote.annotator) in weights_of
    }
    required = 1 if len(votes) == 1 else 2
    result = consensus(
        votes, weights=weights, required=required, min_confidence=qs.accept_confidence
    )
    answer = (
        result.text,
        result.flags["rotated"],
        result.flags["non_english"],
        result.flags["unreadable"],
    )
    chosen = next((label for label in labels if _answer(label) == answer), None)
    typed = {_answer(label)[0] for label in labels}
    if result.text not in typed:
        # The character vote made a word nobody typed: a person decides, not the vote.
        return result, Decision(ConsensusState.NEEDS_REVIEW, ReviewReason.SYNTHESIZED), None
    if not result.accepted:
        reason = ReviewReason.FLAGS if _flags_split(votes, weights) else ReviewReason.DISAGREEMENT
        return result, Decision(ConsensusState.NEEDS_REVIEW, reason, escalate=True), None
    if chosen is None:
        # The flags, voted apart from the text, make an answer nobody gave.
        return result, Decision(ConsensusState.NEEDS_REVIEW, ReviewReason.SYNTHESIZED), None
    reliable_agreeing = sum(
        1
        for label in labels
        if _answer(label) == answer
        and not (label.annotator_id in weights_of and weights_of[label.annotator_id].flagged)
    )
    if reliable_agreeing < required:
        return result, Decision(ConsensusState.NEEDS_REVIEW, ReviewReason.LOW_RELIABILITY), None
    return result, Decision(ConsensusState.ACCEPTED), chosen


def crop_consensus_decide(*, task: Task, labels: list[Label] | None = None) -> CropConsensus:
    """Decides a crop whose task has all the labels it asked for.

    Assumes the task row is locked (``select_for_update`` or submit's lock) and that
    ``task.labels_count >= task.labels_needed``. ``labels``: the task's current counted
    labels when the caller has them (one label: no query). Sets ``task.status`` (and
    ``labels_needed`` when one more label is wanted); the caller saves the task.
    Agreement → accepted, task done. Disagreement → one more label, up to
    ``max_labels``; then (and at once for a text nobody typed or an unreliable
    annotator's label) → needs review.
    """
    qs = selectors.quality_settings()
    if labels is None:
        labels = counted_labels(task_id=task.pk)
    result, decision, chosen = _decide(labels=labels, qs=qs)
    marked = decision.state == ConsensusState.ACCEPTED and chosen is not None and chosen.bad_reason
    if marked and len(labels) < 2 <= qs.max_labels:
        # One person's mark is not enough to drop a crop: a second opinion first.
        decision = Decision(ConsensusState.PENDING, escalate=True)
    if decision.escalate and len(labels) < qs.max_labels:
        task.labels_needed = len(labels) + 1
        task.status = TaskStatus.OPEN
        state = ConsensusState.PENDING
    else:
        task.status = (
            TaskStatus.DONE if decision.state == ConsensusState.ACCEPTED else TaskStatus.REVIEW
        )
        state = decision.state
        if marked:
            # Agreeing marks settle the crop as bad, as a reviewer's mark does: it leaves
            # the queue and tells the word detector (the first marker is its reporter).
            state = ConsensusState.BAD
            DetectorFeedback.objects.update_or_create(
                crop_id=task.crop_id,
                defaults={"reason": chosen.bad_reason, "reviewer_id": chosen.annotator_id},
            )
    row = CropConsensus(
        crop_id=task.crop_id,
        state=state,
        # As typed by the label it is exported with (the vote compares normalised text).
        text=chosen.text if chosen is not None else result.text.split("\x00")[0],
        rotated=result.flags["rotated"],
        non_english=result.flags["non_english"],
        unreadable=result.flags["unreadable"],
        confidence=result.confidence,
        n_labels=len(labels),
        decided_by=DecidedBy.CONSENSUS
        if state in (ConsensusState.ACCEPTED, ConsensusState.BAD)
        else "",
        label=chosen,
        review_reason=decision.reason,
        review_leased_to=None,
        review_lease_expires_at=None,
        updated_at=timezone.now(),
    )
    # Insert, or update the crop's row: one statement prepared once per database session
    # on PostgreSQL (this runs inside most submits).
    prepared.insert(row, upsert_on="crop")
    return row


def counted_labels(*, task_id: int) -> list[Label]:
    """The task's labels that count toward its decision (not replaced by a correction,
    not gold answers), oldest first."""
    return consensus_sql.counted_labels(task_id=task_id)


def crop_consensus_after_revision(*, label: Label) -> None:
    """An annotator corrected ``label``: the crop's decision follows, unless a reviewer made it.

    Assumes the caller holds the transaction. Locks the task.
    """
    if label.kind != LabelKind.ANNOTATION:
        return
    task = Task.objects.select_for_update().get(pk=label.task_id)
    if (
        task.status not in (TaskStatus.OPEN, TaskStatus.DONE)
        or task.labels_count < task.labels_needed
    ):
        return
    decided = CropConsensus.objects.filter(crop_id=task.crop_id).first()
    if decided is not None and decided.decided_by == DecidedBy.REVIEW:
        return
    crop_consensus_decide(task=task)
    task.save(update_fields=["status", "labels_needed"])


# --- Review ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewAnswer:
    text: str = ""
    rotated: bool = False
    non_english: bool = False
    unreadable: bool = False


def review_lease_next(*, reviewer) -> CropConsensus | None:
    """Leases the oldest item waiting for review to ``reviewer`` (theirs first).

    One reviewer at a time sees an item (SKIP LOCKED, ten-minute lease).
    """
    now = timezone.now()
    with transaction.atomic():
        held = (
            CropConsensus.objects.filter(
                state=ConsensusState.NEEDS_REVIEW,
                review_leased_to=reviewer,
                review_lease_expires_at__gte=now,
            )
            .order_by("updated_at", "id")
            .first()
        )
        item = held or (selectors.review_queue(now=now).select_for_update(skip_locked=True).first())
        if item is None:
            return None
        item.review_leased_to = reviewer
        item.review_lease_expires_at = now + REVIEW_LEASE
        CropConsensus.objects.filter(pk=item.pk).update(
            review_leased_to=reviewer, review_lease_expires_at=item.review_lease_expires_at
        )
    return item


def _review_label_create(*, reviewer, task: Task, answer: ReviewAnswer) -> Label:
    return Label.objects.create(
        task=task,
        crop_id=task.crop_id,
        annotator=reviewer,
        kind=LabelKind.REVIEW,
        text="" if answer.unreadable else answer.text,
        rotated=answer.rotated,
        non_english=answer.non_english,
        unreadable=answer.unreadable,
    )


def review_decide(
    *,
    reviewer,
    crop_id: int,
    decision: str,
    label_id: int | None = None,
    answer: ReviewAnswer | None = None,
    bad_reason: str = "",
    make_gold: bool = False,
) -> CropConsensus:
    """A reviewer settles a crop: ``accept`` one of its labels, ``fix`` (type the answer),
    or mark the crop ``bad`` (detector feedback; the crop leaves the queue).

    Assumes the caller checked the reviewer role. Locks the crop's task. Raises
    ``CropConsensus.DoesNotExist`` when the crop is not waiting for review,
    ``ReviewConflict`` when the decision does not fit it. ``make_gold``: the decided
    answer becomes a gold item (not for a bad crop).
    """
    with transaction.atomic():
        task = Task.objects.select_for_update().filter(crop_id=crop_id).first()
        if task is None:
            raise CropConsensus.DoesNotExist(f"no task for crop {crop_id}")
        item = CropConsensus.objects.select_for_update().get(
            crop_id=crop_id, state=ConsensusState.NEEDS_REVIEW
        )
        now = timezone.now()
        if (
            item.review_leased_to_id not in (None, reviewer.pk)
            and item.review_lease_expires_at is not None
            and item.review_lease_expires_at >= now
        ):
            raise ReviewConflict("Another reviewer has this item open.")
        data = {"crop_id": crop_id, "decision": decision, "reason": item.review_reason}
        if decision == "bad":
            if make_gold:
                raise ReviewConflict("A bad crop cannot be a gold item.")
            if bad_reason not in BadCropReason.values:
                raise ReviewConflict(f"reason must be one of {', '.join(BadCropReason.values)}")
            DetectorFeedback.objects.update_or_create(
                crop_id=crop_id, defaults={"reason": bad_reason, "reviewer": reviewer}
            )
            item.state = ConsensusState.BAD
            item.label = None
            data["bad_reason"] = bad_reason
        else:
            if decision == "accept":
                candidate = Label.objects.filter(
                    pk=label_id, crop_id=crop_id, revision__isnull=True, kind=LabelKind.ANNOTATION
                ).first()
                if candidate is None:
                    raise ReviewConflict("That label is not one of this crop's candidates.")
                data["accepted_label_id"] = candidate.pk
                answer = _answer_of(candidate)
            elif decision != "fix":
                raise ReviewConflict("decision must be accept, fix or bad")
            elif answer is None:
                raise ReviewConflict("A fix needs the answer.")
            # The decision is the reviewer's own label, so that an annotator's later
            # correction of theirs cannot change what was decided.
            label = _review_label_create(reviewer=reviewer, task=task, answer=answer)
            data["label_id"] = label.pk
            item.state = ConsensusState.ACCEPTED
            item.label = label
            item.text = label.text
            for flag in FLAGS:
                setattr(item, flag, getattr(label, flag))
            item.confidence = 1.0
        item.decided_by = DecidedBy.REVIEW
        item.review_leased_to = None
        item.review_lease_expires_at = None
        item.save()
        task.status = TaskStatus.DONE
        task.leased_to = None
        task.lease_expires_at = None
        if make_gold:
            gold_create(
                crop_id=crop_id, answer=_answer_of(item), source=GoldSource.REVIEW, by=reviewer
            )
            task.status = TaskStatus.GOLD
            data["gold"] = True
        task.save(update_fields=["status", "leased_to", "lease_expires_at"])
        audit.record(
            actor=reviewer,
            action="quality.review_decide",
            target_type=WordCrop._meta.label_lower,
            target_id=crop_id,
            data=data,
        )
    return item


def _answer_of(row) -> ReviewAnswer:
    return ReviewAnswer(**{name: getattr(row, name) for name in ("text", *FLAGS)})


# --- Gold -----------------------------------------------------------------------------


def gold_create(*, crop_id: int, answer: ReviewAnswer, source: str, by=None) -> GoldItem:
    """Makes a crop a gold item (or changes its answer) and puts its task among the gold.

    Assumes the caller holds the transaction (and audits the act that made it gold).
    """
    gold, _ = GoldItem.objects.update_or_create(
        crop_id=crop_id,
        defaults={
            "text": "" if answer.unreadable else normalize(answer.text),
            "rotated": answer.rotated,
            "non_english": answer.non_english,
            "unreadable": answer.unreadable,
            "source": source,
            "created_by": by,
        },
    )
    Task.objects.filter(crop_id=crop_id).update(
        status=TaskStatus.GOLD, leased_to=None, lease_expires_at=None
    )
    return gold


@dataclass(frozen=True)
class GoldRow:
    crop_id: int
    answer: ReviewAnswer


def gold_import(*, rows: list[GoldRow], actor=None) -> int:
    """Imports gold answers for existing crops, all or nothing; returns how many.

    Raises ``WordCrop.DoesNotExist`` naming the first unknown crop.
    """
    with transaction.atomic():
        known = set(
            WordCrop.objects.filter(pk__in=[row.crop_id for row in rows]).values_list(
                "pk", flat=True
            )
        )
        missing = [row.crop_id for row in rows if row.crop_id not in known]
        if missing:
            raise WordCrop.DoesNotExist(f"no crop {missing[0]}")
        for row in rows:
            gold_create(crop_id=row.crop_id, answer=row.answer, source=GoldSource.IMPORT)
        audit.record(
            actor=actor if actor is not None else audit.SYSTEM,
            action="quality.gold_import",
            target_type="quality.golditem",
            data={"count": len(rows)},
        )
    return len(rows)


# --- Statistics (off the hot path) ----------------------------------------------------


@dataclass
class _Evidence:
    labels: int = 0
    gold_pairs: list[tuple[str, str]] = field(default_factory=list)
    elapsed: list[int] = field(default_factory=list)
    agree: int = 0  # labels equal to the others' consensus, of
    compared: int = 0  # labels on crops labeled by several
    seen: int = 0  # crops of evidence: gold, or labeled by several


def _sigmoid(weight: float) -> float:
    return 1 / (1 + math.exp(-weight))


def annotator_stats_refresh() -> int:
    """Recomputes every annotator's statistics from their current labels; flags those
    below ``min_reliability`` (an audit event each time one becomes flagged) and sends the
    crops they alone decided to review. Returns how many annotators were scored.

    Reads the newest ``QUALITY_STATS_WINDOW_LABELS`` current labels once (in chunks), so
    the cost is bounded however many labels there are; each person's label total counts
    them all (one aggregate). Run by beat, not per request.
    """
    qs = selectors.quality_settings()
    gold = dict(GoldItem.objects.values_list("crop_id", "text"))
    by_crop: dict[int, list[Vote]] = defaultdict(list)
    evidence: dict[int, _Evidence] = defaultdict(_Evidence)
    current = Label.objects.filter(
        revision__isnull=True, kind__in=(LabelKind.ANNOTATION, LabelKind.GOLD_ANSWER)
    )
    totals = dict(
        current.order_by()
        .values("annotator_id")
        .annotate(n=Count("id"))
        .values_list("annotator_id", "n")
    )
    window = list(
        current.order_by("-id").values_list("id", flat=True)[
            settings.QUALITY_STATS_WINDOW_LABELS - 1 : settings.QUALITY_STATS_WINDOW_LABELS
        ]
    )
    if window:  # more labels than the window: only the newest count
        current = current.filter(id__gte=window[0])
    rows = current.values_list(
        "annotator_id",
        "crop_id",
        "text",
        "rotated",
        "non_english",
        "unreadable",
        "elapsed_ms",
        "kind",
    ).order_by("id")
    for (
        annotator_id,
        crop_id,
        text,
        rotated,
        non_english,
        unreadable,
        elapsed_ms,
        kind,
    ) in rows.iterator(chunk_size=5000):
        stats = evidence[annotator_id]
        stats.labels += 1
        if elapsed_ms is not None:
            stats.elapsed.append(elapsed_ms)
        if crop_id in gold:
            stats.gold_pairs.append(("" if unreadable else text, gold[crop_id]))
        vote = Vote(str(annotator_id), text, rotated, non_english, unreadable)
        if kind == LabelKind.ANNOTATION or crop_id in gold:
            by_crop[crop_id].append(vote)
    crops = {crop: votes for crop, votes in by_crop.items() if crop in gold or len(votes) >= 2}
    weights = estimate_reliability(crops, gold=gold)
    for crop, votes in crops.items():
        truth = normalize(gold[crop]) if crop in gold else None
        if truth is None:
            truth = consensus(votes, weights=weights, required=1, min_confidence=0).text
        for vote in votes:
            stats = evidence[int(vote.annotator)]
            stats.seen += 1
            if crop not in gold:
                stats.compared += 1
                stats.agree += ("" if vote.unreadable else normalize(vote.text)) == truth
    newly_flagged = []
    with transaction.atomic():
        previous = dict(AnnotatorStats.objects.values_list("annotator_id", "flagged"))
        for annotator_id, stats in evidence.items():
            weight = weights.get(str(annotator_id), 1.0)
            reliability = _sigmoid(weight) if str(annotator_id) in weights else None
            gold_accuracy, gold_cer = (
                accuracy_and_cer(stats.gold_pairs) if stats.gold_pairs else (None, None)
            )
            flagged = stats.seen >= MIN_EVIDENCE and (
                (reliability is not None and reliability < qs.min_reliability)
                or (
                    gold_accuracy is not None
                    and len(stats.gold_pairs) >= MIN_EVIDENCE
                    and gold_accuracy < qs.min_reliability
                )
            )
            AnnotatorStats.objects.update_or_create(
                annotator_id=annotator_id,
                defaults={
                    "labels": totals.get(annotator_id, stats.labels),
                    "gold_answers": len(stats.gold_pairs),
                    "gold_accuracy": gold_accuracy,
                    "gold_cer": gold_cer,
                    "agreement": stats.agree / stats.compared if stats.compared else None,
                    "median_ms": int(statistics.median(stats.elapsed)) if stats.elapsed else None,
                    "reliability": reliability,
                    "weight": weight,
                    "flagged": flagged,
                },
            )
            if flagged and not previous.get(annotator_id, False):
                newly_flagged.append((annotator_id, reliability, gold_accuracy))
        for annotator_id, reliability, gold_accuracy in newly_flagged:
            sent = _send_alone_decided_to_review(annotator_id=annotator_id)
            audit.record(
                actor=audit.SYSTEM,
                action="quality.annotator_flagged",
                target_type="auth.user",
                target_id=annotator_id,
                data={
                    "reliability": None if reliability is None else round(reliability, 3),
                    "gold_accuracy": None if gold_accuracy is None else round(gold_accuracy, 3),
                    "sent_to_review": sent,
                },
            )
    selectors.forget_annotator_weights()
    return len(evidence)


def _send_alone_decided_to_review(*, annotator_id: int) -> int:
    """Crops accepted on this annotator's single label go to review."""
    crop_ids = list(
        CropConsensus.objects.filter(
            state=ConsensusState.ACCEPTED,
            decided_by=DecidedBy.CONSENSUS,
            n_labels=1,
            label__annotator_id=annotator_id,
        ).values_list("crop_id", flat=True)
    )
    CropConsensus.objects.filter(crop_id__in=crop_ids).update(
        state=ConsensusState.NEEDS_REVIEW,
        decided_by="",
        review_reason=ReviewReason.LOW_RELIABILITY,
        updated_at=timezone.now(),
    )
    Task.objects.filter(crop_id__in=crop_ids, status=TaskStatus.DONE).update(
        status=TaskStatus.REVIEW
    )
    return len(crop_ids)


def queue_snapshot_take() -> QueueSnapshot:
    """Records the queue's depth now (beat, every five minutes)."""
    return QueueSnapshot.objects.create(
        open_tasks=Task.objects.filter(status=TaskStatus.OPEN).count(),
        needs_review=CropConsensus.objects.filter(state=ConsensusState.NEEDS_REVIEW).count(),
        labels_last_hour=Label.objects.filter(
            kind=LabelKind.ANNOTATION, created_at__gte=timezone.now() - timedelta(hours=1)
        ).count(),
    )
