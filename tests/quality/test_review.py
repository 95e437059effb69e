"""The review queue: who may use it, what a reviewer sees, and each decision."""

import pytest
from django.test import Client

from annotations import roles
from annotations.models import Label, LabelKind, TaskStatus
from annotations.services import label_revise, label_submit, task_lease_next
from audit.models import AuditEvent
from exports.selectors import accepted_labels
from quality.models import (
    ConsensusState,
    CropConsensus,
    DecidedBy,
    DetectorFeedback,
    GoldItem,
    GoldSource,
)
from tests.quality.conftest import person

pytestmark = pytest.mark.django_db
NEXT = "/api/v1/review/next/"


def decide_url(crop_id: int) -> str:
    return f"/api/v1/review/{crop_id}/decide/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def disputed(quality_settings, make_tasks, annotators):
    """One crop in review: three labels that disagree (TOTAL, T0TAL, TOTA1)."""
    quality_settings(k_low=2, max_labels=3)
    [task] = make_tasks(0.2)
    labels = [
        label_submit(user=annotator, task_id=task.pk, text=text)
        for annotator, text in zip(annotators, ["TOTAL", "T0TAL", "TOTA1"], strict=False)
    ]
    task.refresh_from_db()
    assert task.status == TaskStatus.REVIEW
    return task, labels


@pytest.fixture
def reviewer_client(db):
    return signed_in(person("rev", roles.REVIEWER))


def test_the_reviewer_gets_the_crop_and_its_candidates(reviewer_client, disputed):
    task, labels = disputed

    response = reviewer_client.post(NEXT)

    assert response.status_code == 200
    item = response.json()
    assert item["crop_id"] == task.crop_id
    assert item["reason"] == "disagreement"
    assert [c["label_id"] for c in item["candidates"]] == [label.pk for label in labels]
    assert [c["text"] for c in item["candidates"]] == ["TOTAL", "T0TAL", "TOTA1"]
    assert all(c["votes"] == 1 and not c["low_reliability"] for c in item["candidates"])
    assert "annotator" not in str(item["candidates"])  # annotators stay anonymous
    assert reviewer_client.get(item["image_url"]).status_code == 200


def test_an_empty_review_queue_answers_204(reviewer_client, quality_settings):
    assert reviewer_client.post(NEXT).status_code == 204


def test_two_reviewers_never_get_the_same_item(reviewer_client, disputed):
    other = signed_in(person("rev2", roles.REVIEWER))
    assert reviewer_client.post(NEXT).status_code == 200
    assert other.post(NEXT).status_code == 204
    assert reviewer_client.post(NEXT).status_code == 200  # their own, again


@pytest.mark.parametrize("role", [roles.ANNOTATOR, roles.ADMIN, roles.ML_ENGINEER])
def test_everyone_but_reviewers_gets_404(role, disputed):
    client = signed_in(person(f"as-{role}", role))
    task, labels = disputed
    assert client.post(NEXT).status_code == 404
    response = client.post(
        decide_url(task.crop_id),
        {"decision": "accept", "label_id": labels[0].pk},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert client.get("/review/").status_code == 404
    assert CropConsensus.objects.get().state == ConsensusState.NEEDS_REVIEW


def test_anonymous_callers_are_refused(client, disputed):
    assert client.post(NEXT).status_code in (401, 403)


def test_accepting_a_candidate_settles_the_crop_and_is_audited(reviewer_client, disputed):
    task, labels = disputed
    reviewer_client.post(NEXT)

    response = reviewer_client.post(
        decide_url(task.crop_id),
        {"decision": "accept", "label_id": labels[1].pk},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "accepted"
    decided = CropConsensus.objects.get()
    assert (decided.state, decided.text, decided.decided_by, decided.confidence) == (
        ConsensusState.ACCEPTED,
        "T0TAL",
        DecidedBy.REVIEW,
        1.0,
    )
    reviewer_label = decided.label
    assert (reviewer_label.kind, reviewer_label.text) == (LabelKind.REVIEW, "T0TAL")
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    [event] = AuditEvent.objects.filter(action="quality.review_decide")
    assert (event.target_type, event.target_id) == ("annotations.wordcrop", str(task.crop_id))
    assert event.data["decision"] == "accept"
    assert event.data["accepted_label_id"] == labels[1].pk
    assert [label.pk for label in accepted_labels()] == [reviewer_label.pk]


def test_an_annotators_later_correction_does_not_undo_a_review(reviewer_client, disputed):
    task, labels = disputed
    reviewer_client.post(
        decide_url(task.crop_id),
        {"decision": "accept", "label_id": labels[0].pk},
        content_type="application/json",
    )
    label_revise(user=labels[0].annotator, label_id=labels[0].pk, text="changed")

    assert [label.text for label in accepted_labels()] == ["TOTAL"]
    assert CropConsensus.objects.get().decided_by == DecidedBy.REVIEW


def test_a_fix_is_the_reviewers_label(reviewer_client, disputed):
    task, _ = disputed

    response = reviewer_client.post(
        decide_url(task.crop_id),
        {"decision": "fix", "text": "TOTAL:", "non_english": True},
        content_type="application/json",
    )

    assert response.status_code == 200
    [exported] = accepted_labels()
    assert (exported.text, exported.non_english, exported.kind) == ("TOTAL:", True, "review")
    assert exported.annotator.username == "rev"


def test_marking_the_crop_bad_is_detector_feedback(reviewer_client, disputed, annotators):
    task, _ = disputed

    response = reviewer_client.post(
        decide_url(task.crop_id),
        {"decision": "bad", "reason": "two_words"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["state"] == "bad"
    feedback = DetectorFeedback.objects.get()
    assert (feedback.crop_id, feedback.reason) == (task.crop_id, "two_words")
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task_lease_next(user=annotators[3]) == []  # out of the annotation queue
    assert not accepted_labels().exists()
    ml = signed_in(person("ml", roles.ML_ENGINEER))
    page = ml.get("/quality/detector-feedback/")
    assert page.status_code == 200
    assert "two words" in page.content.decode()
    event = AuditEvent.objects.get(action="quality.review_decide")
    assert event.data["bad_reason"] == "two_words"


def test_a_decision_can_make_the_crop_gold(reviewer_client, disputed, annotators):
    task, labels = disputed

    response = reviewer_client.post(
        decide_url(task.crop_id),
        {"decision": "accept", "label_id": labels[0].pk, "gold": True},
        content_type="application/json",
    )

    assert response.status_code == 200
    gold = GoldItem.objects.get()
    assert (gold.crop_id, gold.text, gold.source) == (task.crop_id, "TOTAL", GoldSource.REVIEW)
    task.refresh_from_db()
    assert task.status == TaskStatus.GOLD
    assert [label.text for label in accepted_labels()] == ["TOTAL"]  # still exported


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"decision": "accept"}, "label_id"),
        ({"decision": "fix", "text": ""}, "text"),
        ({"decision": "fix", "text": "a\tb"}, "text"),
        ({"decision": "bad"}, "reason"),
        ({"decision": "bad", "reason": "blurry"}, "reason"),
        ({"decision": "bad", "reason": "cut_off", "gold": True}, "gold"),
    ],
)
def test_bad_decisions_are_400_and_change_nothing(reviewer_client, disputed, body, field):
    task, _ = disputed
    response = reviewer_client.post(decide_url(task.crop_id), body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert CropConsensus.objects.get().state == ConsensusState.NEEDS_REVIEW
    assert not AuditEvent.objects.filter(action="quality.review_decide").exists()


def test_a_label_of_another_crop_is_not_a_candidate(reviewer_client, disputed, make_tasks):
    task, _ = disputed
    [other] = make_tasks(0.9)
    stranger = Label.objects.create(
        task=other, crop_id=other.crop_id, annotator=disputed[1][0].annotator, text="x"
    )
    response = reviewer_client.post(
        decide_url(task.crop_id),
        {"decision": "accept", "label_id": stranger.pk},
        content_type="application/json",
    )
    assert response.status_code == 409


def test_a_crop_not_in_review_is_404(reviewer_client, disputed, make_tasks):
    task, labels = disputed
    body = {"decision": "accept", "label_id": labels[0].pk}
    reviewer_client.post(decide_url(task.crop_id), body, content_type="application/json")

    again = reviewer_client.post(decide_url(task.crop_id), body, content_type="application/json")
    assert again.status_code == 404
    unknown = reviewer_client.post(decide_url(987654), body, content_type="application/json")
    assert unknown.status_code == 404


def test_an_item_another_reviewer_has_open_is_409(reviewer_client, disputed):
    task, labels = disputed
    reviewer_client.post(NEXT)
    other = signed_in(person("rev2", roles.REVIEWER))
    response = other.post(
        decide_url(task.crop_id),
        {"decision": "accept", "label_id": labels[0].pk},
        content_type="application/json",
    )
    assert response.status_code == 409


def test_the_review_page_is_for_reviewers(reviewer_client):
    response = reviewer_client.get("/review/")
    assert response.status_code == 200
    assert 'src="/static/review/app.js"' in response.content.decode()
