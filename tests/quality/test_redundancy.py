"""k labels per crop from k different people, by confidence band; then consensus decides."""

import pytest
from django.test import Client

from annotations.models import Label, Task, TaskStatus
from annotations.services import LabelConflict, label_revise, label_submit, task_lease_next
from exports.selectors import accepted_labels
from quality.models import AnnotatorStats, ConsensusState, CropConsensus, DecidedBy, ReviewReason
from quality.services import in_audit_sample
from tests.factories import bulk_crops_with_tasks, bulk_labels

pytestmark = pytest.mark.django_db
NEXT = "/api/v1/tasks/next/"


def submit(user, task: Task, text: str, **flags) -> Label:
    return label_submit(user=user, task_id=task.pk, text=text, **flags)


def consensus_of(task: Task) -> CropConsensus:
    return CropConsensus.objects.get(crop_id=task.crop_id)


def test_k_follows_the_confidence_band(quality_settings, make_tasks):
    quality_settings(low_band_below=0.8, k_low=2, k_high=1, audit_sample_rate=0.0)
    low, edge, high = make_tasks(0.3, 0.8, 0.95)
    assert [t.labels_needed for t in (low, edge, high)] == [2, 1, 1]

    quality_settings(k_low=3, audit_sample_rate=1.0)
    low, high = make_tasks(0.1, 0.99)
    assert [low.labels_needed, high.labels_needed] == [3, 2]  # the audit sample: twice


def test_the_audit_sample_is_stable_and_near_its_rate():
    chosen = [crop_id for crop_id in range(20_000) if in_audit_sample(crop_id=crop_id, rate=0.05)]
    assert 0.04 < len(chosen) / 20_000 < 0.06
    assert chosen == [c for c in range(20_000) if in_audit_sample(crop_id=c, rate=0.05)]
    assert not any(in_audit_sample(crop_id=c, rate=0.0) for c in range(1000))


def test_a_low_band_crop_goes_back_to_the_queue_but_never_to_the_same_person(
    quality_settings, make_tasks, annotators
):
    quality_settings(k_low=2)
    [task] = make_tasks(0.2)
    first, second, _, _ = annotators

    [leased] = task_lease_next(user=first)
    submit(first, leased, "TOTAL")

    task.refresh_from_db()
    assert (task.status, task.labels_count, task.leased_to) == (TaskStatus.OPEN, 1, None)
    assert task_lease_next(user=first) == []  # theirs already: not offered again
    assert not CropConsensus.objects.exists()  # nothing decided on one label of two
    assert [t.pk for t in task_lease_next(user=second)] == [task.pk]


def test_begun_crops_are_served_before_fresh_ones(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2, audit_sample_rate=0.0)
    lowest, low, high = make_tasks(0.1, 0.3, 0.95)
    first, second, _, _ = annotators
    [taken] = task_lease_next(user=first)
    submit(first, taken, "TOTAL")  # the lowest crop now has one label of two

    # Another person gets the begun crop first, then the fresh ones in confidence order
    assert [t.pk for t in task_lease_next(user=second, count=3)] == [lowest.pk, low.pk, high.pk]


def test_a_lone_annotator_gets_fresh_crops_past_a_window_of_crops_they_labeled(
    quality_settings, make_tasks, annotators
):
    # Given more begun crops than the lease looks at, all labeled by the only annotator
    from annotations.services import PENDING_WINDOW

    quality_settings(k_low=2, audit_sample_rate=0.0)
    confidences = [0.5 * n / (PENDING_WINDOW + 10) for n in range(PENDING_WINDOW + 10)]
    *begun, fresh = make_tasks(*confidences, 0.7)
    lone, other, _, _ = annotators
    for task in begun:
        submit(lone, task, "w")

    # Then the lone annotator is served the fresh crop, and another person the begun
    # ones, lowest confidence first, beyond the window too as its head is labeled
    assert [t.pk for t in task_lease_next(user=lone)] == [fresh.pk]
    served = []
    for _ in begun:
        [task] = task_lease_next(user=other)
        served.append(task.pk)
        submit(other, task, "w")
    assert served == [t.pk for t in begun]


def test_a_second_label_by_the_same_person_is_refused(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2)
    [task] = make_tasks(0.2)
    submit(annotators[0], task, "TOTAL")
    with pytest.raises(LabelConflict, match="already"):
        submit(annotators[0], task, "TOTAL")
    assert Label.objects.count() == 1


def test_over_the_api_the_same_person_gets_409(client, quality_settings, make_tasks, annotators):
    quality_settings(k_low=2)
    [task] = make_tasks(0.2)
    client.force_login(annotators[0])
    assert client.post(NEXT).json()["tasks"][0]["id"] == task.pk
    url = f"/api/v1/tasks/{task.pk}/submit/"
    assert client.post(url, {"text": "a"}, content_type="application/json").status_code == 201
    assert client.post(NEXT).status_code == 204
    response = client.post(url, {"text": "b"}, content_type="application/json")
    assert response.status_code == 409


def test_two_agreeing_labels_accept_the_crop_with_the_earliest_label(
    quality_settings, make_tasks, annotators
):
    quality_settings(k_low=2)
    [task] = make_tasks(0.2)
    first = submit(annotators[0], task, "TOTAL")
    submit(annotators[1], task, "TOTAL ")

    task.refresh_from_db()
    decided = consensus_of(task)
    assert task.status == TaskStatus.DONE
    assert (decided.state, decided.text, decided.label_id, decided.n_labels) == (
        ConsensusState.ACCEPTED,
        "TOTAL",
        first.pk,
        2,
    )
    assert (decided.decided_by, decided.confidence) == (DecidedBy.CONSENSUS, 1.0)
    exported = list(accepted_labels())
    assert [(label.pk, label.consensus_confidence) for label in exported] == [(first.pk, 1.0)]


def test_disagreement_asks_one_more_label_then_review(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2, max_labels=3)
    [task] = make_tasks(0.2)
    a, b, c, _ = annotators
    submit(a, task, "TOTAL")
    submit(b, task, "T0TAL")

    task.refresh_from_db()
    assert (task.status, task.labels_needed) == (TaskStatus.OPEN, 3)
    assert consensus_of(task).state == ConsensusState.PENDING
    assert [t.pk for t in task_lease_next(user=c)] == [task.pk]

    submit(c, task, "TOTA1")

    task.refresh_from_db()
    decided = consensus_of(task)
    assert task.status == TaskStatus.REVIEW
    assert decided.state == ConsensusState.NEEDS_REVIEW
    assert task_lease_next(user=annotators[3]) == []  # out of the annotators' queue
    assert not accepted_labels().exists()


def test_a_third_agreeing_label_settles_a_disagreement(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2, max_labels=4)
    [task] = make_tasks(0.2)
    a, b, c, _ = annotators
    submit(a, task, "T0TAL")
    second = submit(b, task, "TOTAL")
    submit(c, task, "TOTAL")

    decided = consensus_of(task)
    assert (decided.state, decided.text, decided.label_id) == (
        ConsensusState.ACCEPTED,
        "TOTAL",
        second.pk,
    )
    assert decided.confidence == pytest.approx(2 / 3, abs=1e-3)


def test_a_word_nobody_typed_goes_to_review(quality_settings, make_tasks, annotators):
    # Each label has one different typo: the character vote spells "TOTAL", which no one
    # typed. The accepted text must be one someone typed, so a reviewer decides.
    quality_settings(k_low=3, max_labels=3)
    [task] = make_tasks(0.2)
    for annotator, text in zip(annotators, ["T0TAL", "TOTAI", "TOTAL:"], strict=False):
        submit(annotator, task, text)

    decided = consensus_of(task)
    assert (decided.state, decided.review_reason) == (
        ConsensusState.NEEDS_REVIEW,
        ReviewReason.SYNTHESIZED,
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.REVIEW


def test_flags_are_voted_apart_and_a_tie_asks_for_more(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2, max_labels=3)
    [task] = make_tasks(0.2)
    a, b, c, _ = annotators
    submit(a, task, "cat", rotated=True)
    upright = submit(b, task, "cat")

    assert consensus_of(task).review_reason == ReviewReason.FLAGS
    task.refresh_from_db()
    assert (task.status, task.labels_needed) == (TaskStatus.OPEN, 3)

    submit(c, task, "cat")

    decided = consensus_of(task)
    assert (decided.state, decided.rotated, decided.label_id) == (
        ConsensusState.ACCEPTED,
        False,
        upright.pk,  # the earliest label giving the whole answer, flags included
    )


def test_a_flagged_annotators_label_goes_to_review(quality_settings, make_tasks, annotators):
    quality_settings(k_high=1, audit_sample_rate=0.0)
    [task] = make_tasks(0.95)
    careless = annotators[0]
    AnnotatorStats.objects.create(annotator=careless, weight=0.2, reliability=0.4, flagged=True)

    submit(careless, task, "TOTAL")

    decided = consensus_of(task)
    assert (decided.state, decided.review_reason) == (
        ConsensusState.NEEDS_REVIEW,
        ReviewReason.LOW_RELIABILITY,
    )


def test_a_reliable_majority_outweighs_a_flagged_annotator(
    quality_settings, make_tasks, annotators
):
    quality_settings(k_low=3)
    [task] = make_tasks(0.2)
    careless, *good = annotators
    AnnotatorStats.objects.create(annotator=careless, weight=0.05, reliability=0.3, flagged=True)
    submit(careless, task, "T0TAL")
    submit(good[0], task, "TOTAL")
    submit(good[1], task, "TOTAL")

    decided = consensus_of(task)
    assert (decided.state, decided.text) == (ConsensusState.ACCEPTED, "TOTAL")
    assert decided.confidence > 0.9  # the careless vote weighs little


def test_a_correction_reopens_the_decision(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2, max_labels=3)
    [task] = make_tasks(0.2)
    first = submit(annotators[0], task, "TOTAL")
    submit(annotators[1], task, "TOTAL")
    assert consensus_of(task).state == ConsensusState.ACCEPTED

    label_revise(user=annotators[0], label_id=first.pk, text="TOTAL:")

    task.refresh_from_db()
    assert (task.status, task.labels_needed) == (TaskStatus.OPEN, 3)
    assert consensus_of(task).state == ConsensusState.PENDING
    assert not accepted_labels().exists()


def test_a_correction_that_still_agrees_moves_the_export_to_it(
    quality_settings, make_tasks, annotators
):
    quality_settings(k_high=1, audit_sample_rate=0.0)
    [task] = make_tasks(0.95)
    first = submit(annotators[0], task, "TOTA")
    fixed = label_revise(user=annotators[0], label_id=first.pk, text="TOTAL")

    assert [label.pk for label in accepted_labels()] == [fixed.pk]
    assert consensus_of(task).text == "TOTAL"


def test_the_lease_probes_labels_by_task_and_person(quality_settings, make_tasks, annotators):
    # Given an annotator with a long history (labels of done tasks) and a fresh queue
    from django.db import connection

    from annotations import selectors

    quality_settings()
    done, *_ = make_tasks(0.1, 0.2, 0.3)
    veteran = annotators[0]
    history = 5000
    with connection.cursor() as cursor:
        # 5,000 more crops of the same document, each task done with the veteran's label.
        bulk_crops_with_tasks(cursor, beside_crop_id=done.crop_id, count=history, status="done")
        bulk_labels(cursor, annotator_id=veteran.pk)
        cursor.execute("ANALYZE")
        sql, params = (
            selectors.task_queue(user=veteran, now=done.created_at)
            .values("id")[:1]
            .query.sql_with_params()
        )
        # When the planner picks how to serve the next task
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # Then "labeled it already?" is an index probe per candidate, not a read of the history
    assert "label_task_annotator_idx" in plan, plan
    assert "Seq Scan on annotations_label" not in plan, plan


def test_skips_still_work_with_redundancy(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2)
    [task] = make_tasks(0.2)
    client = Client()
    client.force_login(annotators[0])
    assert client.post(f"/api/v1/tasks/{task.pk}/skip/").status_code == 204
    assert client.post(NEXT).status_code == 204


def _statements(captured) -> list[str]:
    """The first word of each statement sent, a prepared one's (``EXECUTE name``) as
    prepared; PREPARE itself (once per database session) is not a round trip per call."""
    from dbkit.prepared import REGISTRY

    kinds = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "PREPARE")):
            continue
        if sql.startswith("EXECUTE "):
            sql = REGISTRY[sql.split()[1].partition("(")[0]].sql
        kinds.append(sql.split()[0])
    return kinds


def test_the_hot_path_pays_for_consensus_only_when_a_crop_completes(
    quality_settings, make_tasks, annotators
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quality import selectors

    quality_settings(k_low=2, k_high=1, audit_sample_rate=0.0, gold_rate=0.0)
    low, high = make_tasks(0.1, 0.95)
    selectors.quality_settings()  # warm, as in a running process
    selectors.annotator_weights()
    first, second = annotators[:2]

    with CaptureQueriesContext(connection) as lease:
        task_lease_next(user=first)
    with CaptureQueriesContext(connection) as back_to_queue:
        submit(first, low, "w0")
    with CaptureQueriesContext(connection) as one_of_one:
        submit(first, high, "w1")
    with CaptureQueriesContext(connection) as two_of_two:
        submit(second, low, "w0")

    if connection.vendor == "postgresql":
        assert _statements(lease) == ["WITH"]  # renew, take and read in one statement
    assert _statements(back_to_queue) == ["SELECT", "INSERT", "UPDATE", "INSERT"]
    # + the consensus row (the one label is in hand)
    assert _statements(one_of_one) == ["SELECT", "INSERT", "INSERT", "UPDATE", "INSERT"]
    # + reading the crop's labels and the consensus row
    assert len(_statements(two_of_two)) == 6
