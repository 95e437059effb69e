"""The metrics page: who sees it, what it counts, and its SVG charts."""

import pytest
from django.test import Client

from annotations import roles
from annotations.services import label_submit
from quality import charts, services
from quality.models import QueueSnapshot
from quality.tasks import refresh_stats, snapshot_queue
from tests.quality.conftest import person

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [roles.REVIEWER, roles.ADMIN])
def test_reviewers_and_admins_see_the_metrics(role, quality_settings):
    response = signed_in(person(f"as-{role}", role)).get("/quality/")
    assert response.status_code == 200
    assert response.content.decode().count("<svg") == 4


@pytest.mark.parametrize("role", [roles.ANNOTATOR, roles.ML_ENGINEER])
def test_others_get_404(role, quality_settings):
    assert signed_in(person(f"as-{role}", role)).get("/quality/").status_code == 404


def test_the_page_shows_labels_annotators_and_queue_depth(quality_settings, make_tasks, annotators):
    quality_settings(k_low=1)
    tasks = make_tasks(0.1, 0.2, 0.3)
    for task in tasks[:2]:
        label_submit(user=annotators[0], task_id=task.pk, text="w", elapsed_ms=2000)
    snapshot_queue()
    refresh_stats()

    page = signed_in(person("rev", roles.REVIEWER)).get("/quality/").content.decode()

    assert '<strong id="labels-last-hour">2</strong>' in page
    assert "<td>ann0</td>" in page
    snapshot = QueueSnapshot.objects.get()
    assert (snapshot.open_tasks, snapshot.needs_review, snapshot.labels_last_hour) == (1, 0, 2)


def test_queue_snapshots_count_review_and_open(quality_settings, make_tasks, annotators):
    quality_settings(k_low=2, max_labels=2)
    [disputed, _] = make_tasks(0.1, 0.2)
    label_submit(user=annotators[0], task_id=disputed.pk, text="a")
    label_submit(user=annotators[1], task_id=disputed.pk, text="b")

    snapshot = services.queue_snapshot_take()

    assert (snapshot.open_tasks, snapshot.needs_review) == (1, 1)


def test_charts_escape_their_text_and_draw_each_value():
    svg = charts.bar_chart(
        title="<script>x</script>",
        labels=["a&b", "c"],
        series=[charts.Series("n", [3, None])],
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert svg.count("<rect") == 1  # the None is a gap, not a bar
    line = charts.line_chart(
        title="t",
        labels=["1", "2", "3"],
        series=[charts.Series("s", [0.5, None, 1.0])],
        percent=True,
    )
    assert line.count("<circle") == 2  # two runs of one point each
    assert "style=" not in svg + line  # the CSP forbids inline styles


def test_the_settings_are_one_row_edited_in_the_admin(db):
    from quality import selectors
    from quality.models import QualitySettings

    boss = person("boss", roles.ADMIN)
    boss.is_staff = boss.is_superuser = True
    boss.save()
    client = signed_in(boss)
    assert selectors.quality_settings().k_low == 2  # the defaults, before any row exists
    form = {
        "low_band_below": 0.7,
        "k_low": 3,
        "k_high": 1,
        "audit_sample_rate": 0.05,
        "gold_rate": 0.02,
        "min_reliability": 0.7,
        "max_labels": 5,
        "accept_confidence": 0.66,
    }

    response = client.post("/admin/quality/qualitysettings/add/", form)

    assert response.status_code == 302, response.content[:2000]
    assert QualitySettings.objects.get().pk == 1
    assert selectors.quality_settings().k_low == 3  # this process sees it at once
    assert client.get("/admin/quality/qualitysettings/add/").status_code == 403  # one row only
