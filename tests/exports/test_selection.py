"""Which crops an export holds: accepted ones with their current label, never withdrawn."""

import uuid
from collections import Counter

import pytest

from annotations.models import Label, Task, TaskStatus
from annotations.services import donation_withdraw, label_revise
from exports.selectors import ExportFilters, export_rows, split_of
from tests import factories
from tests.exports.conftest import label_all

pytestmark = pytest.mark.django_db


def rows(**filters):
    return list(export_rows(filters=ExportFilters.from_dict(filters)))


def test_one_row_per_labeled_crop_with_its_newest_unrevised_label(labeled, annotator):
    crop = labeled[0].crops.get(index=0)
    first = Label.objects.get(crop=crop)
    label_revise(user=annotator, label_id=first.pk, text="fixed")

    exported = rows()

    assert len(exported) == 9
    assert Counter(row.crop_id for row in exported).most_common(1)[0][1] == 1
    assert next(row for row in exported if row.crop_id == crop.pk).text == "fixed"
    assert {row.consensus_confidence for row in exported} == {1.0}


def test_open_tasks_are_not_exported(service_token, annotator):
    donation = factories.make_ready_donation(source=service_token, confidences=[0.2, 0.3])
    label_all(donation, annotator=annotator)
    Task.objects.filter(crop__donation=donation, crop__index=1).update(status=TaskStatus.OPEN)

    assert [row.crop_index for row in rows()] == [0]


def test_withdrawn_donations_never_appear(labeled, service_token):
    donation_withdraw(source=service_token, donation_id=labeled[1].pk)

    exported = rows()

    assert len(exported) == 6
    assert str(labeled[1].pk) not in {row.donation_id for row in exported}


def test_filters_narrow_the_selection(labeled, annotator, service_token):
    other = factories.make_ready_donation(source=service_token, confidences=[0.4])
    label_all(other, annotator=annotator, unreadable=True)

    assert len(rows(flags_include=["unreadable"])) == 1
    assert len(rows(flags_exclude=["unreadable"])) == 9
    assert len(rows(kinds=["invoice"])) == 0
    assert len(rows(kinds=["receipt"])) == 10
    assert len(rows(engine_versions=["2"])) == 0
    assert len(rows(engine_versions=["1"])) == 10
    assert len(rows(min_confidence=1.0)) == 10
    assert len(rows(date_to="2000-01-01")) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"kinds": ["poster"]},
        {"flags_include": ["blurry"]},
        {"min_confidence": 2},
        {"date_from": "yesterday"},
        {"consensus_state": "disputed"},
        {"colour": "red"},
    ],
)
def test_nonsense_filters_are_refused(bad):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ExportFilters.from_dict(bad)


def test_splits_are_stable_per_document_and_roughly_80_10_10():
    ids = [uuid.UUID(int=n) for n in range(3000)]
    splits = Counter(split_of(donation_id) for donation_id in ids)

    assert [split_of(donation_id) for donation_id in ids[:50]] == [
        split_of(str(donation_id)) for donation_id in ids[:50]
    ]
    assert 0.77 < splits["train"] / 3000 < 0.83
    assert 0.08 < splits["validation"] / 3000 < 0.12
    assert 0.08 < splits["test"] / 3000 < 0.12


def test_all_crops_of_a_document_share_its_split(labeled):
    by_document = {}
    for row in rows():
        by_document.setdefault(row.donation_id, set()).add(row.split)
    assert all(len(splits) == 1 for splits in by_document.values())


def test_the_export_cursor_is_planned_for_all_its_rows(labeled):
    """The server-side cursor is declared while cursor_tuple_fraction is 1 (a plan for
    reading everything, not the first tenth), and the session's value comes back."""
    from django.db import connection

    seen = []

    def record(execute, sql, params, many, context):
        with connection.connection.cursor() as raw:  # past the wrappers
            raw.execute("SHOW cursor_tuple_fraction")
            seen.append((sql.split()[0], raw.fetchone()[0]))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        exported = rows()

    assert len(exported) == 9
    assert ("SELECT", "1") in seen
    with connection.cursor() as cursor:
        cursor.execute("SHOW cursor_tuple_fraction")
        assert cursor.fetchone()[0] == "0.1"
