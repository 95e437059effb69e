"""Blind mode: the prefill is not shown, and each label records whether it was."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotations.models import Label
from quality import selectors

pytestmark = pytest.mark.django_db
NEXT = "/api/v1/tasks/next/"


def lease_and_submit(client: Client, text: str) -> dict:
    task = client.post(NEXT).json()["tasks"][0]
    response = client.post(
        f"/api/v1/tasks/{task['id']}/submit/", {"text": text}, content_type="application/json"
    )
    assert response.status_code == 201
    return task


def test_blind_mode_serves_no_prefill_and_records_it(quality_settings, make_tasks, annotators):
    quality_settings(k_low=1, blind_mode=True)
    make_tasks(0.3)
    client = Client()
    client.force_login(annotators[0])

    task = lease_and_submit(client, "w0")

    assert (task["prefill_text"], task["prefill_confidence"]) == ("", None)
    assert task["prefill_char_confidences"] == []
    assert Label.objects.get().prefill_shown is False


def test_with_blind_mode_off_the_prefill_is_shown_and_recorded(
    quality_settings, make_tasks, annotators
):
    quality_settings(k_low=1, blind_mode=False)
    make_tasks(0.3)
    client = Client()
    client.force_login(annotators[0])

    task = lease_and_submit(client, "w0")

    assert (task["prefill_text"], task["prefill_confidence"]) == ("w0", 0.3)
    assert task["prefill_char_confidences"] == [0.3, 0.3]
    assert Label.objects.get().prefill_shown is True


def test_a_label_without_its_lease_does_not_claim_either(quality_settings, make_tasks, annotators):
    from annotations.services import label_submit

    quality_settings(k_low=1)
    [task] = make_tasks(0.3)
    label = label_submit(user=annotators[0], task_id=task.pk, text="w0")  # never leased
    assert label.prefill_shown is None


def test_prefill_kept_is_counted_per_band_blind_and_shown(quality_settings, make_tasks, annotators):
    quality_settings(k_low=1, k_high=1, audit_sample_rate=0.0)
    clients = []
    for annotator in annotators[:2]:
        client = Client()
        client.force_login(annotator)
        clients.append(client)
    make_tasks(0.1, 0.15, 0.9)  # prefills w0, w1, w2
    lease_and_submit(clients[0], "w0")  # band 0, shown, kept
    lease_and_submit(clients[0], "typed")  # band 0, shown, changed
    quality_settings(blind_mode=True)
    lease_and_submit(clients[1], "w2")  # band 4, blind, same as the model read

    kept = selectors.prefill_kept(since=timezone.now() - timedelta(days=1))

    assert kept == {(0, True): (1, 2), (4, False): (1, 1)}
