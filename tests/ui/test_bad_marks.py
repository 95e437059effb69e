"""Annotators mark bad crops (two words, cut off, not a word): a mark is a kind of label."""

import pytest

from annotations import services
from annotations.models import Task, TaskStatus
from quality.models import ConsensusState, CropConsensus, DetectorFeedback, QualitySettings
from quality.selectors import review_item
from tests import factories

pytestmark = pytest.mark.django_db


def annotators(count: int):
    from django.contrib.auth.models import Group

    from annotations import roles

    people = [factories.UserFactory(username=f"marker{n}") for n in range(count)]
    for person in people:
        person.groups.set(Group.objects.filter(name=roles.ANNOTATOR))
    return people


def one_task(service_token, confidence: float) -> Task:
    donation = factories.make_ready_donation(source=service_token, confidences=[confidence])
    return Task.objects.get(crop__donation=donation)


def test_agreeing_marks_settle_the_crop_as_bad_and_feed_the_detector(service_token):
    task = one_task(service_token, 0.1)  # the low band: two labels
    first, second = annotators(2)

    services.label_submit(user=first, task_id=task.pk, text="", bad_reason="cut_off")
    services.label_submit(user=second, task_id=task.pk, text="", bad_reason="cut_off")

    task.refresh_from_db()
    decided = CropConsensus.objects.get(crop_id=task.crop_id)
    assert task.status == TaskStatus.DONE
    assert (decided.state, decided.text) == (ConsensusState.BAD, "")
    feedback = DetectorFeedback.objects.get(crop_id=task.crop_id)
    assert (feedback.reason, feedback.reviewer_id) == ("cut_off", first.pk)


def test_one_mark_alone_asks_for_a_second_opinion(service_token):
    task = one_task(service_token, 0.99)  # the high band: one label would do
    first, second = annotators(2)

    services.label_submit(user=first, task_id=task.pk, text="", bad_reason="two_words")

    task.refresh_from_db()
    assert (task.status, task.labels_needed) == (TaskStatus.OPEN, 2)
    assert not DetectorFeedback.objects.exists()
    services.label_submit(user=second, task_id=task.pk, text="", bad_reason="two_words")
    assert CropConsensus.objects.get(crop_id=task.crop_id).state == ConsensusState.BAD


def test_a_mark_against_typed_text_goes_to_review_with_the_mark_as_a_candidate(service_token):
    QualitySettings.objects.update_or_create(pk=1, defaults={"max_labels": 2})
    task = one_task(service_token, 0.1)
    first, second = annotators(2)

    services.label_submit(user=first, task_id=task.pk, text="TOTAL")
    services.label_submit(user=second, task_id=task.pk, text="", bad_reason="not_a_word")

    item = CropConsensus.objects.get(crop_id=task.crop_id)
    assert item.state == ConsensusState.NEEDS_REVIEW
    candidates = review_item(item=item)["candidates"]
    assert sorted(c["bad_reason"] for c in candidates) == ["", "not_a_word"]


def test_the_api_takes_a_mark_without_text(client, service_token):
    task = one_task(service_token, 0.1)
    (person,) = annotators(1)
    client.force_login(person)
    services.task_lease_next(user=person)

    response = client.post(
        f"/api/v1/tasks/{task.pk}/submit/",
        {"text": "", "bad_reason": "cut_off"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["bad_reason"] == "cut_off"
    refused = client.post(
        f"/api/v1/tasks/{task.pk}/submit/",
        {"text": "", "bad_reason": "smudge"},
        content_type="application/json",
    )
    assert refused.status_code == 400
