"""The admin's audit pages: who may see them, each filter, keyset pages, an event's detail
and an object's history."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations import roles
from annotations.models import Label, Task
from audit import chain
from audit.models import AuditEvent
from tests import factories
from tests.audit.admin_pages import (
    START,
    admin,
    fast_password_hashing,  # noqa: F401  a fixture
    person,
    record_at,
    record_many,
    signed_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [row["event"].id for row in response.context["rows"]]


@pytest.fixture
def boss():
    return signed_in(admin())


# --- Who may look ------------------------------------------------------------------------


@pytest.fixture
def some_event():
    return record_at(START, actor=None, action="accounts.sign_out")


def page_urls(event) -> list[str]:
    return [
        "/audit/",
        f"/audit/events/{event.id}/",
        "/audit/history/annotations.donation/1/",
        "/audit/export.csv",
        "/audit/export.jsonl",
    ]


def test_an_admin_sees_the_pages(boss, some_event):
    for url in page_urls(some_event)[:3]:
        assert boss.get(url).status_code == 200, url


@pytest.mark.parametrize("role", [roles.ANNOTATOR, roles.REVIEWER, roles.ML_ENGINEER, None])
def test_anyone_else_signed_in_gets_not_found(some_event, role):
    client = signed_in(person("someone", *([role] if role else [])))
    for url in page_urls(some_event):
        assert client.get(url).status_code == 404, url


def test_anonymous_callers_are_sent_to_sign_in(client, some_event):
    for url in page_urls(some_event):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=/audit/"), url


# --- Filters -----------------------------------------------------------------------------


@pytest.fixture
def cast(service_token):
    """A few events of different actors, actions, targets, outcomes, times and requests."""
    alice, bob = person("alice", roles.ANNOTATOR), person("bob", roles.REVIEWER)
    donation = {"target_type": "annotations.donation", "target_id": 5}
    # name: (actor, action, what else), an hour apart in this order
    table = {
        "alice_labels": (
            alice,
            "annotations.label_submit",
            {
                "request_id": "req-alice-1",
                "target_type": "annotations.label",
                "target_id": 11,
                "data": {"crop_id": 7},
            },
        ),
        "alice_views": (
            alice,
            "annotations.crop_image_view",
            {"request_id": "req-alice-1", "target_type": "annotations.wordcrop", "target_id": 7},
        ),
        "bob_skips": (
            bob,
            "annotations.task_skip",
            {"request_id": "req-bob-1", "target_type": "annotations.task", "target_id": 3},
        ),
        "service_donates": (service_token, "annotations.donation_create", donation),
        "system_reads": (None, "ocr_bridge.document_read", donation),
        "stranger_fails": (
            AnonymousUser(),
            "accounts.sign_in_failed",
            {"outcome": "failure", "data": {"username": "mallory"}},
        ),
    }
    events = {
        # the fixture's token was recorded when it was made
        "token_made": AuditEvent.objects.get(action="annotations.service_token_create"),
    }
    for hour, (name, (actor, action, extra)) in enumerate(table.items()):
        events[name] = record_at(START + timedelta(hours=hour), actor=actor, action=action, **extra)
    return alice, bob, service_token, events


def test_without_filters_every_event_is_listed_newest_first(boss, cast):
    *_, events = cast
    every = sorted((event.id for event in events.values()), reverse=True)

    page = boss.get("/audit/")

    assert listed(page) == every
    assert b"failed to sign in as mallory" in page.content  # the human text
    assert b"labeled word crop 7" in page.content


FILTERS = {
    # name: (query parameters given the cast, the events that must match)
    "actor user by id": (
        lambda alice, bob, token: {"actor_type": "user", "actor_id": alice.pk},
        {"alice_labels", "alice_views"},
    ),
    "actor by username": (lambda *_: {"actor_label": "bob"}, {"bob_skips"}),
    "actor service by name": (
        lambda alice, bob, token: {"actor_label": f"service:{token.name}"},
        {"service_donates"},
    ),
    "actor service by id": (
        lambda alice, bob, token: {"actor_type": "service", "actor_id": token.pk},
        {"service_donates"},
    ),
    "actor system": (lambda *_: {"actor_type": "system"}, {"system_reads", "token_made"}),
    "actor anonymous": (lambda *_: {"actor_label": "anonymous"}, {"stranger_fails"}),
    "action": (lambda *_: {"action": "annotations.task_skip"}, {"bob_skips"}),
    "target type": (
        lambda *_: {"target_type": "annotations.donation"},
        {"service_donates", "system_reads"},
    ),
    "target type and id": (
        lambda *_: {"target_type": "annotations.wordcrop", "target_id": "7"},
        {"alice_views"},
    ),
    "outcome": (lambda *_: {"outcome": "failure"}, {"stranger_fails"}),
    "time range": (
        lambda *_: {
            "since": (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "until": (START + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        },
        {"alice_views", "bob_skips"},  # the start included, the end excluded
    ),
    "request id": (lambda *_: {"request_id": "req-alice-1"}, {"alice_labels", "alice_views"}),
    "two filters at once": (
        lambda alice, *_: {
            "actor_type": "user",
            "actor_id": alice.pk,
            "action": "annotations.label_submit",
        },
        {"alice_labels"},
    ),
}


@pytest.mark.parametrize("name", FILTERS)
def test_each_filter_lists_exactly_the_matching_events(boss, cast, name):
    alice, bob, token, events = cast
    params, expected = FILTERS[name]

    page = boss.get("/audit/", params(alice, bob, token))

    assert listed(page) == sorted((events[key].id for key in expected), reverse=True)


def test_a_time_range_is_exact_when_recorded_times_run_slightly_against_id_order(boss):
    # Given events around the range, two of them recorded out of their time order
    def at(delta: timedelta):
        return record_at(START + delta, actor=None, action="accounts.sign_out")

    at(-timedelta(days=1))
    second_in = at(timedelta(seconds=2))
    first_in = at(timedelta(seconds=1))  # a larger id, an earlier time
    at(-timedelta(seconds=1))  # just before the range, inserted after events in it
    at(timedelta(seconds=61))
    at(timedelta(days=1))

    page = boss.get("/audit/", {"since": "2026-03-01T09:00", "until": "2026-03-01T09:01"})

    assert listed(page) == [first_in.id, second_in.id]


@pytest.mark.parametrize(
    "params",
    [
        {"actor_id": "3"},  # an id without its kind
        {"target_id": "3"},
        {"action": "annotations.not_a_thing"},
        {"since": "2026-03-02T00:00", "until": "2026-03-01T00:00"},
        {"since": "yesterday"},
    ],
)
def test_a_filter_that_makes_no_sense_is_refused_with_the_reason(boss, cast, params):
    page = boss.get("/audit/", params)

    assert page.status_code == 400
    assert page.context["form"].errors
    assert page.context["rows"] == []


# --- Keyset pages ------------------------------------------------------------------------


def test_older_and_newer_links_walk_every_event_once_in_order_without_offset(boss):
    every = [event.id for event in reversed(record_many(123))]

    # Walking "Older" from the first page
    seen, pages, before = [], [], None
    with CaptureQueriesContext(connection) as queries:
        while True:
            response = boss.get("/audit/", {"before": before} if before else {})
            seen += listed(response)
            pages.append(response.context["page"])
            before = response.context["page"].older_before
            if before is None:
                break

    assert seen == every
    assert [len(page.events) for page in pages] == [50, 50, 23]
    sql = " ".join(query["sql"].upper() for query in queries.captured_queries)
    assert " OFFSET " not in sql
    assert "COUNT(" not in sql

    # And "Newer" from the last page walks back up to the first
    back, after = [], pages[-1].newer_after
    assert after is not None
    while after is not None:
        response = boss.get("/audit/", {"after": after})
        back = listed(response) + back
        after = response.context["page"].newer_after
    assert back == every[:100]
    assert boss.get("/audit/", {"after": every[3]}).context["page"].newer_after is None


def test_the_page_links_keep_the_filters(boss):
    record_many(60, action="accounts.sign_out")
    record_many(5, action="accounts.sign_in_failed")

    first = boss.get("/audit/", {"action": "accounts.sign_out"})
    older = first.context["page"].older_before

    assert f"action=accounts.sign_out&amp;before={older}".encode() in first.content
    assert len(listed(boss.get("/audit/", {"action": "accounts.sign_out", "before": older}))) == 10


def test_a_cursor_that_is_no_id_is_not_found(boss):
    assert boss.get("/audit/", {"before": "1 OR 1=1"}).status_code == 404


# --- One event ---------------------------------------------------------------------------


def test_the_detail_page_shows_every_field_and_where_to_go_next(boss, cast):
    alice, *_ = cast
    event = AuditEvent.objects.get(action="annotations.label_submit")

    unsealed = boss.get(f"/audit/events/{event.id}/")
    chain.seal()
    event.refresh_from_db()
    sealed = boss.get(f"/audit/events/{event.id}/")

    assert b"not yet" in unsealed.content
    text = sealed.content.decode()
    for value in (
        event.action,
        "alice",
        "10.1.2.3",
        "req-alice-1",
        event.content_hash,
        event.chain_hash,
        f"position {event.seq} of the chain",
        "labeled word crop 7",
        "{\n  &quot;crop_id&quot;: 7\n}",  # the details, indented JSON
    ):
        assert value in text, value
    assert 'href="/audit/history/annotations.label/11/"' in text
    assert f'href="/audit/history/auth.user/{alice.pk}/"' in text
    assert 'href="/audit/?request_id=req-alice-1"' in text


def test_an_unknown_event_is_not_found(boss):
    assert boss.get("/audit/events/999999/").status_code == 404


# --- Histories ---------------------------------------------------------------------------


def test_a_donations_history_is_every_event_that_targets_it(boss, cast):
    *_, events = cast

    page = boss.get("/audit/history/annotations.donation/5/")

    assert listed(page) == [events["system_reads"].id, events["service_donates"].id]
    assert b"Everything that happened to donation 5" in page.content


def test_a_persons_history_is_what_they_did_and_what_was_done_to_them(boss, cast):
    alice, *_, events = cast
    about_alice = record_at(
        START + timedelta(days=1),
        actor=None,
        action="accounts.account_deactivate",
        target=alice,
        data={"username": "alice"},
    )

    page = boss.get(f"/audit/history/auth.user/{alice.pk}/")

    assert listed(page) == [about_alice.id, events["alice_views"].id, events["alice_labels"].id]
    # the other filters still apply within a history
    only_views = boss.get(
        f"/audit/history/auth.user/{alice.pk}/", {"action": "annotations.crop_image_view"}
    )
    assert listed(only_views) == [events["alice_views"].id]


def test_a_crops_history_includes_its_labels_and_its_task(boss, service_token):
    donation = factories.make_ready_donation(source=service_token, confidences=[0.5])
    crop = donation.crops.get()
    task = Task.objects.get(crop=crop)
    annotator = person("carol", roles.ANNOTATOR)
    label = Label.objects.create(task=task, crop=crop, annotator=annotator, text="w")
    viewed = record_at(START, actor=annotator, action="annotations.crop_image_view", target=crop)
    labeled = record_at(
        START + timedelta(minutes=1),
        actor=annotator,
        action="annotations.label_submit",
        target=label,
        data={"crop_id": crop.pk},
    )
    skipped = record_at(
        START + timedelta(minutes=2), actor=annotator, action="annotations.task_skip", target=task
    )
    record_at(
        START,
        actor=annotator,
        action="annotations.task_skip",
        target_type="annotations.task",
        target_id=task.pk + 1,
    )

    page = boss.get(f"/audit/history/annotations.wordcrop/{crop.pk}/")

    assert listed(page) == [skipped.id, labeled.id, viewed.id]


def test_a_history_pages_through_merged_branches_without_gaps(boss):
    subject = person("dave", roles.ANNOTATOR)
    done = record_many(70, actor=subject, action="accounts.sign_out")
    to_them = [
        record_at(
            START + timedelta(minutes=minute, seconds=30),
            actor=None,
            action="accounts.session_end",
            target=subject,
            data={"username": "dave", "reason": "idle"},
        )
        for minute in range(0, 70, 2)
    ]
    record_many(10, actor=None, action="accounts.sign_out")  # not about dave
    expected = sorted((event.id for event in done + to_them), reverse=True)

    url = f"/audit/history/auth.user/{subject.pk}/"
    seen, before = [], None
    while True:
        page = boss.get(url, {"before": before} if before else {})
        seen += listed(page)
        before = page.context["page"].older_before
        if before is None:
            break

    assert seen == expected


def test_the_history_url_of_a_person_from_the_list_is_linked(boss, cast):
    alice, *_ = cast
    listing = boss.get("/audit/", {"actor_label": "alice"})

    assert f'href="/audit/history/auth.user/{alice.pk}/"'.encode() in listing.content
