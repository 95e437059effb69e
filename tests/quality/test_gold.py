"""Gold items: served like any task at a set rate, once per person, scored off the hot path."""

import io
import random

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotations import services as annotation_services
from annotations.models import Label, LabelKind, Task, TaskStatus
from annotations.services import leasing
from audit.models import AuditEvent
from quality import selectors, services
from quality.models import AnnotatorStats, ConsensusState, CropConsensus, GoldItem, GoldSource

pytestmark = pytest.mark.django_db
NEXT = "/api/v1/tasks/next/"


def make_gold(task: Task, text: str, **flags) -> GoldItem:
    answer = services.ReviewAnswer(text=text, **flags)
    return services.gold_create(crop_id=task.crop_id, answer=answer, source=GoldSource.IMPORT)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_gold_items_selector_lists_them_with_their_crops(quality_settings, make_tasks):
    gold_task, _ = make_tasks(0.5, 0.6)
    make_gold(gold_task, "TOTAL")

    [item] = selectors.gold_items()

    assert (item.crop.pk, item.text, item.source) == (gold_task.crop_id, "TOTAL", "import")
    gold_task.refresh_from_db()
    assert gold_task.status == TaskStatus.GOLD


def test_gold_slots_follow_the_rate():
    random.seed(7)
    slots = sum(leasing._gold_slots(wanted=1, rate=0.1) for _ in range(5000))  # one slot per lease
    assert 400 < slots < 600
    assert leasing._gold_slots(wanted=50, rate=0.0) == 0
    assert leasing._gold_slots(wanted=5, rate=1.0) == 5


def test_a_gold_item_looks_like_any_other_task(quality_settings, make_tasks, annotators):
    quality_settings(gold_rate=1.0)
    gold_task, plain_task = make_tasks(0.5, 0.4)
    make_gold(gold_task, "w0")
    client = signed_in(annotators[0])

    [served_gold] = client.post(NEXT).json()["tasks"]
    assert served_gold["id"] == gold_task.pk  # every slot is gold at rate 1
    assert client.post(f"/api/v1/tasks/{gold_task.pk}/submit/", {"text": "w0"}).status_code == 201
    quality_settings(gold_rate=0.0)
    [served_plain] = client.post(NEXT).json()["tasks"]
    assert served_plain["id"] == plain_task.pk

    # Same fields, same kinds of values, same image route: nothing tells gold apart.
    assert served_gold.keys() == served_plain.keys()
    assert {k: type(v) for k, v in served_gold.items()} == {
        k: type(v) for k, v in served_plain.items()
    }
    assert served_gold["prefill_text"] == "w0"
    assert served_gold["image_url"] == f"/api/v1/crops/{gold_task.crop_id}/image"
    assert client.get(served_plain["image_url"]).status_code == 200


def test_the_holder_of_a_gold_item_may_see_its_image(quality_settings, make_tasks, annotators):
    quality_settings(gold_rate=1.0)
    [gold_task] = make_tasks(0.5)
    make_gold(gold_task, "w0")
    holder, other = signed_in(annotators[0]), signed_in(annotators[1])

    task = holder.post(NEXT).json()["tasks"][0]

    assert holder.get(task["image_url"]).status_code == 200
    assert other.get(task["image_url"]).status_code == 404


def test_each_person_gets_each_gold_item_once(quality_settings, make_tasks, annotators):
    quality_settings(gold_rate=1.0)
    [gold_task] = make_tasks(0.5)
    make_gold(gold_task, "w0")
    first, second = annotators[:2]

    [leased] = annotation_services.task_lease_next(user=first)
    annotation_services.label_submit(user=first, task_id=leased.pk, text="w0")

    assert annotation_services.task_lease_next(user=first) == []
    assert [t.pk for t in annotation_services.task_lease_next(user=second)] == [gold_task.pk]


def test_a_gold_answer_never_completes_anything(quality_settings, make_tasks, annotators):
    quality_settings(gold_rate=1.0)
    [gold_task] = make_tasks(0.5)
    make_gold(gold_task, "w0")

    for annotator in annotators:
        [leased] = annotation_services.task_lease_next(user=annotator)
        annotation_services.label_submit(user=annotator, task_id=leased.pk, text="w0")

    gold_task.refresh_from_db()
    assert (gold_task.status, gold_task.labels_count) == (TaskStatus.GOLD, 0)
    assert set(Label.objects.values_list("kind", flat=True)) == {LabelKind.GOLD_ANSWER}
    assert not CropConsensus.objects.exists()


def test_with_no_gold_left_the_slot_is_an_ordinary_task(quality_settings, make_tasks, annotators):
    quality_settings(gold_rate=1.0)
    [plain] = make_tasks(0.5)
    assert [t.pk for t in annotation_services.task_lease_next(user=annotators[0])] == [plain.pk]


def _answer_gold(annotator, tasks, texts, elapsed_ms=1500):
    for task, text in zip(tasks, texts, strict=True):
        annotation_services.label_submit(
            user=annotator, task_id=task.pk, text=text, elapsed_ms=elapsed_ms
        )


def test_gold_scores_and_flags_a_careless_annotator_once(quality_settings, make_tasks, annotators):
    quality_settings(min_reliability=0.7)
    tasks = make_tasks(*[0.5] * 6)
    truth = [f"w{i}" for i in range(6)]
    for task, text in zip(tasks, truth, strict=True):
        make_gold(task, text)
    careful, careless = annotators[:2]
    _answer_gold(careful, tasks, truth, elapsed_ms=1200)
    _answer_gold(careless, tasks, ["x", "y", "w2", "zz", "q", "w"], elapsed_ms=400)

    scored = services.annotator_stats_refresh()

    assert scored == 2
    good = AnnotatorStats.objects.get(annotator=careful)
    bad = AnnotatorStats.objects.get(annotator=careless)
    assert (good.gold_answers, good.gold_accuracy, good.gold_cer) == (6, 1.0, 0.0)
    assert (good.median_ms, good.flagged) == (1200, False)
    assert bad.gold_accuracy == pytest.approx(1 / 6)
    assert bad.gold_cer > 0.5
    assert bad.reliability < 0.7 < good.reliability
    assert bad.flagged
    [event] = AuditEvent.objects.filter(action="quality.annotator_flagged")
    assert event.target_id == str(careless.pk)

    services.annotator_stats_refresh()  # still flagged: no second event
    assert AuditEvent.objects.filter(action="quality.annotator_flagged").count() == 1


def test_a_flagged_annotators_lone_labels_go_to_review(quality_settings, make_tasks, annotators):
    quality_settings(k_high=1, audit_sample_rate=0.0)
    gold_tasks = make_tasks(*[0.5] * 5)
    for task in gold_tasks:
        make_gold(task, "right")
    careless = annotators[0]
    [lone] = make_tasks(0.95)
    annotation_services.label_submit(user=careless, task_id=lone.pk, text="TOTAL")
    assert CropConsensus.objects.get(crop_id=lone.crop_id).state == ConsensusState.ACCEPTED
    _answer_gold(careless, gold_tasks, ["wrong"] * 5)

    services.annotator_stats_refresh()

    decided = CropConsensus.objects.get(crop_id=lone.crop_id)
    assert (decided.state, decided.review_reason) == (
        ConsensusState.NEEDS_REVIEW,
        "low_reliability",
    )
    lone.refresh_from_db()
    assert lone.status == TaskStatus.REVIEW
    event = AuditEvent.objects.get(action="quality.annotator_flagged")
    assert event.data["sent_to_review"] == 1


def test_agreement_counts_toward_reliability(quality_settings, make_tasks, annotators):
    quality_settings(k_low=3, max_labels=3)
    tasks = make_tasks(*[0.2] * 6)
    a, b, c, _ = annotators
    for task in tasks:
        annotation_services.label_submit(user=a, task_id=task.pk, text="same")
        annotation_services.label_submit(user=b, task_id=task.pk, text="same")
        annotation_services.label_submit(user=c, task_id=task.pk, text="other")

    services.annotator_stats_refresh()

    stats = {s.annotator_id: s for s in AnnotatorStats.objects.all()}
    assert stats[a.pk].agreement == stats[b.pk].agreement == 1.0
    assert stats[c.pk].agreement == 0.0
    assert stats[c.pk].weight < stats[a.pk].weight
    assert stats[c.pk].flagged


def test_statistics_follow_the_newest_labels_and_totals_count_all(
    quality_settings, make_tasks, annotators, settings
):
    # Given c disagreed on three older crops, then agreed on three newer ones
    quality_settings(k_low=3, max_labels=3)
    a, b, c, _ = annotators
    for tasks, c_text in ((make_tasks(*[0.2] * 3), "other"), (make_tasks(*[0.2] * 3), "same")):
        for task in tasks:
            for person, text in ((a, "same"), (b, "same"), (c, c_text)):
                annotation_services.label_submit(user=person, task_id=task.pk, text=text)

    # When statistics are computed from all labels, then from the newest nine only
    services.annotator_stats_refresh()
    everything = AnnotatorStats.objects.get(annotator=c)
    settings.QUALITY_STATS_WINDOW_LABELS = 9
    services.annotator_stats_refresh()
    newest = AnnotatorStats.objects.get(annotator=c)

    # Then agreement reads only the window, and the label total all of them
    assert everything.agreement == 0.5
    assert newest.agreement == 1.0
    assert everything.labels == newest.labels == 6


def test_import_gold_from_tsv(tmp_path, quality_settings, make_tasks):
    first, second, _ = make_tasks(0.5, 0.6, 0.7)
    source = tmp_path / "gold.tsv"
    source.write_text(
        f"crop_id\ttext\tflags\n{first.crop_id}\tTOTAL\n{second.crop_id}\t\tunreadable,rotated\n",
        encoding="utf-8",
    )
    out = io.StringIO()

    call_command("import_gold", str(source), stdout=out)

    assert "Imported 2" in out.getvalue()
    gold = {g.crop_id: g for g in GoldItem.objects.all()}
    assert gold[first.crop_id].text == "TOTAL"
    assert (gold[second.crop_id].unreadable, gold[second.crop_id].rotated) == (True, True)
    assert set(Task.objects.filter(status=TaskStatus.GOLD).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    [event] = AuditEvent.objects.filter(action="quality.gold_import")
    assert event.data == {"count": 2}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("abc\tTOTAL\n", "not a number"),
        ("{crop}\tTOTAL\tblurry\n", "unknown flag"),
        ("{crop}\t\n", "unreadable"),
        ("{crop}\n", "expected crop_id"),
        ("999999999\tTOTAL\n", "no crop 999999999"),
        ("", "no gold answers"),
    ],
)
def test_import_gold_refuses_bad_files_whole(tmp_path, make_tasks, content, message):
    [task] = make_tasks(0.5)
    source = tmp_path / "gold.tsv"
    source.write_text(f"{task.crop_id}\tfine\n" + content.format(crop=task.crop_id))
    if not content:
        source.write_text("")

    with pytest.raises(CommandError, match=message):
        call_command("import_gold", str(source), stdout=io.StringIO())

    assert not GoldItem.objects.exists()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN
