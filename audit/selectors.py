"""Reading the audit trail for the admin's pages and exports: filters and keyset pages.

Every read pages by ``id`` (``id < before``, newest first, or ``id > after``), never by
OFFSET, and never counts rows: with 10 million events a page is one short index range
scan per branch (``benchmarks/audit_listing.py`` shows the plans and the times). Each
filter matches the leading columns of one of ``AuditEvent``'s indexes, so PostgreSQL walks
that index in ``id`` order and stops after a page.

A *subject* ("everything that happened to this donation / crop / person") is a union of
branches, each its own indexed query; their pages are merged here rather than with an
OR, which would make PostgreSQL read every matching row and sort them.
"""

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from audit.models import ActorType, AuditEvent

PAGE_SIZE = 50
EXPORT_PAGE_SIZE = 1000
CROP_TARGET = "annotations.wordcrop"
# How far an event's recorded time may run ahead of an event inserted after it.
TIME_ORDER_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class EventFilters:
    """What the admin asked for; empty strings and None mean "any"."""

    actor_type: str = ""
    actor_id: str = ""
    actor_label: str = ""
    action: str = ""
    target_type: str = ""
    target_id: str = ""
    outcome: str = ""
    since: datetime | None = None  # UTC, included
    until: datetime | None = None  # UTC, excluded
    request_id: str = ""
    subject_type: str = ""
    subject_id: str = ""

    def as_params(self) -> dict[str, str]:
        """The filters that are set, as the page's query parameters (and the export's
        audit details)."""
        params = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            if value:
                params[field.name] = value
        return params


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    newer_after: int | None  # ?after= for the page of newer events, if there is one
    older_before: int | None  # ?before= for the page of older events, if there is one


def user_target_type() -> str:
    return get_user_model()._meta.label_lower


def _actor_label_q(label: str) -> Q:
    """An actor's name, turned into the indexed (actor_type, actor_id) where it can be.

    A person is looked up by their current username, so their events recorded under an
    earlier name are found too. A name that no account has (any more) is matched as
    recorded, which no index covers: the list then reads events newest first until
    it has a page.
    """
    if label == "system":
        return Q(actor_type=ActorType.SYSTEM)
    if label == "anonymous":
        return Q(actor_type=ActorType.USER, actor_id="")
    if label.startswith("service:"):
        return Q(actor_type=ActorType.SERVICE, actor_label=label)
    user_model = get_user_model()
    user_id = (
        user_model._default_manager.filter(**{user_model.USERNAME_FIELD: label})
        .values_list("pk", flat=True)
        .first()
    )
    if user_id is None:
        return Q(actor_type=ActorType.USER, actor_label=label)
    return Q(actor_type=ActorType.USER, actor_id=str(user_id))


def _id_window(*, since: datetime | None, until: datetime | None) -> Q:
    """Bounds on ``id`` that no event of the time range lies outside of.

    Ids follow time: an event's id is drawn by its INSERT right after ``record`` read
    the clock, so an event with a smaller id never has an ``occurred_at`` more than
    TIME_ORDER_SLACK later (the slack also covers clocks of different hosts that
    disagree). Hence every event from ``since`` on has a larger id than any event from
    before ``since - slack``, and likewise at ``until``. Each bound is one step along the
    ``occurred_at`` index; with them, a page of an old time range walks a few thousand
    ids, not every id newer than the range.
    """
    q = Q()
    if since is not None:
        earlier = (
            AuditEvent.objects.filter(occurred_at__lt=since - TIME_ORDER_SLACK)
            .order_by("-occurred_at")
            .values_list("id", flat=True)
            .first()
        )
        if earlier is not None:
            q &= Q(id__gt=earlier)
    if until is not None:
        later = (
            AuditEvent.objects.filter(occurred_at__gte=until + TIME_ORDER_SLACK)
            .order_by("occurred_at")
            .values_list("id", flat=True)
            .first()
        )
        if later is not None:
            q &= Q(id__lt=later)
    return q


def _filters_q(filters: EventFilters) -> Q:
    q = Q()
    if filters.actor_type:
        q &= Q(actor_type=filters.actor_type)
    if filters.actor_id:
        q &= Q(actor_id=filters.actor_id)
    if filters.actor_label:
        q &= _actor_label_q(filters.actor_label)
    if filters.action:
        q &= Q(action=filters.action)
    if filters.target_type:
        q &= Q(target_type__in=same_target_types(filters.target_type))
    if filters.target_id:
        q &= Q(target_id=filters.target_id)
    if filters.outcome:
        q &= Q(outcome=filters.outcome)
    if filters.since is not None:
        q &= Q(occurred_at__gte=filters.since)
    if filters.until is not None:
        q &= Q(occurred_at__lt=filters.until)
    q &= _id_window(since=filters.since, until=filters.until)
    if filters.request_id:
        q &= Q(request_id=filters.request_id)
    return q


def _crop_parts(crop_id: str) -> list[Q]:
    """A crop's labels and its task are targets of their own (labels written, skips)."""
    if not crop_id.isdigit():
        return []
    label_model = apps.get_model("annotations", "Label")
    task_model = apps.get_model("annotations", "Task")
    parts = [
        Q(target_type=label_model._meta.label_lower, target_id=str(pk))
        for pk in label_model.objects.filter(crop_id=crop_id).values_list("pk", flat=True)
    ]
    parts += [
        Q(target_type=task_model._meta.label_lower, target_id=str(pk))
        for pk in task_model.objects.filter(crop_id=crop_id).values_list("pk", flat=True)
    ]
    return parts


# Models that moved between apps (by state only): events written before the move name
# the old type, and are read with the new one as one subject.
MOVED_TARGET_TYPES = {"accounts.servicetoken": "annotations.servicetoken"}


def same_target_types(target_type: str) -> tuple[str, ...]:
    """``target_type`` and the other name the same rows had before a move, if any."""
    for new, old in MOVED_TARGET_TYPES.items():
        if target_type in (new, old):
            return (new, old)
    return (target_type,)


def subject_branches(subject_type: str, subject_id: str) -> list[Q]:
    """Everything that happened to one object: the events that target it, and

    - for a person, also everything they did;
    - for a word crop, also what happened to its labels and its task.
    """
    branches = [Q(target_type__in=same_target_types(subject_type), target_id=subject_id)]
    if subject_type == user_target_type():
        branches.append(Q(actor_type=ActorType.USER, actor_id=subject_id))
    elif subject_type == CROP_TARGET:
        branches += _crop_parts(subject_id)
    return branches


def branch_querysets(
    filters: EventFilters, *, before: int | None = None, after: int | None = None, limit: int
) -> list[QuerySet]:
    """The queries one page runs (one per branch), each ordered by id and limited."""
    base = AuditEvent.objects.filter(_filters_q(filters))
    if before is not None:
        base = base.filter(id__lt=before)
    if after is not None:
        base = base.filter(id__gt=after)
    order = "id" if after is not None else "-id"
    branches = (
        subject_branches(filters.subject_type, filters.subject_id)
        if filters.subject_type
        else [Q()]
    )
    return [base.filter(branch).order_by(order)[:limit] for branch in branches]


def _fetch(
    filters: EventFilters, *, before: int | None = None, after: int | None = None, limit: int
) -> list[AuditEvent]:
    """Up to ``limit`` matching events: newest first, or, with ``after``, oldest first."""
    ascending = after is not None
    runs = [
        list(query) for query in branch_querysets(filters, before=before, after=after, limit=limit)
    ]
    if len(runs) == 1:
        return runs[0]
    merged = heapq.merge(*runs, key=lambda event: event.id, reverse=not ascending)
    events, seen = [], set()
    for event in merged:
        if event.id not in seen:  # an event can be in two branches (a person about themself)
            seen.add(event.id)
            events.append(event)
            if len(events) == limit:
                break
    return events


def event_page(
    *,
    filters: EventFilters,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> EventPage:
    """One page of matching events, newest first.

    ``before``: the page of events older than that id; ``after``: the page of events
    newer than it (a short one is topped up to the first page).
    """
    if after is not None:
        rows = _fetch(filters, after=after, limit=size + 1)
        if len(rows) <= size:
            return event_page(filters=filters, size=size)
        rows = rows[:size]
        rows.reverse()
        return EventPage(events=rows, newer_after=rows[0].id, older_before=rows[-1].id)
    rows = _fetch(filters, before=before, limit=size + 1)
    older = len(rows) > size
    rows = rows[:size]
    return EventPage(
        events=rows,
        newer_after=rows[0].id if before is not None and rows else None,
        older_before=rows[-1].id if older else None,
    )


def events_iter(
    *, filters: EventFilters, before: int | None = None, page_size: int | None = None
) -> Iterator[AuditEvent]:
    """Every matching event older than ``before``, newest first, a keyset page at a time
    (constant memory, however many there are)."""
    page_size = page_size or EXPORT_PAGE_SIZE
    while True:
        rows = _fetch(filters, before=before, limit=page_size)
        yield from rows
        if len(rows) < page_size:
            return
        before = rows[-1].id
