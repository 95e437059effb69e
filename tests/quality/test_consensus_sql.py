"""``quality/consensus_sql.py``'s statement against its ORM twin, and the generic insert
(``dbkit.prepared.insert``) against the ORM's, on the same rows.

On PostgreSQL both twins run from the same state and must agree; on SQLite the ORM twin
runs alone.
"""

import uuid
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from annotations.models import Label, LabelKind, Task
from dbkit import prepared
from quality import consensus_sql
from quality.models import ConsensusState, CropConsensus
from tests.factories import make_ready_donation

ON_POSTGRESQL = connection.vendor == "postgresql"


def test_the_counted_labels_statement_and_its_orm_twin_count_the_same_labels(
    service_token, annotator, other_annotator, reviewer
):
    # Given a task's labels of every kind, one of them corrected
    donation = make_ready_donation(source=service_token, confidences=[0.2])
    task = Task.objects.get(crop__donation=donation)

    def label(who, text, **fields):
        return Label.objects.create(
            task=task, crop_id=task.crop_id, annotator=who, text=text, **fields
        )

    first = label(annotator, "TOTAL", client_key=uuid.uuid4())
    corrected = label(other_annotator, "T0TAL")
    correction = label(other_annotator, "TOTAL:", revises=corrected)
    label(reviewer, "TOTAL", kind=LabelKind.REVIEW)
    label(reviewer, "gold", kind=LabelKind.GOLD_ANSWER)

    # When both twins read them
    twins = [consensus_sql.counted_labels_orm]
    if ON_POSTGRESQL:
        twins.insert(0, consensus_sql.counted_labels_sql)
    read = [twin(task_id=task.pk) for twin in twins]

    # Then they agree, field by field, with the ORM's types
    fields = [field.attname for field in Label._meta.concrete_fields]
    rows = [[[getattr(row, name) for name in fields] for row in labels] for labels in read]
    assert all(other == rows[0] for other in rows)
    counted = read[0]
    assert [row.text for row in counted] == ["TOTAL", "TOTAL:", "TOTAL"]
    assert counted[1].pk == correction.pk
    assert isinstance(counted[0].client_key, uuid.UUID)
    assert counted[0].client_key == first.client_key
    assert isinstance(counted[0].created_at, datetime)
    assert counted[0].created_at.tzinfo is not None


def test_the_prepared_upsert_and_the_orms_leave_the_same_consensus_row(service_token):
    donation = make_ready_donation(source=service_token, confidences=[0.2])
    crop_id = donation.crops.get().pk

    def decide(text):
        return CropConsensus(
            crop_id=crop_id,
            state=ConsensusState.ACCEPTED,
            text=text,
            confidence=0.9,
            n_labels=2,
            updated_at=timezone.now(),
        )

    inserts = [prepared.insert_orm]
    if ON_POSTGRESQL:
        inserts.insert(0, prepared.insert_sql)
    left = []
    for insert in inserts:
        with transaction.atomic():
            insert(decide("first"))
            again = decide("second")
            insert(again, upsert_on="crop")  # the crop's row is updated, not doubled
            rows = list(CropConsensus.objects.values_list("crop_id", "text", "n_labels"))
            left.append((rows, again.pk == CropConsensus.objects.get().pk))
            transaction.set_rollback(True)
    assert all(other == left[0] for other in left)
    assert left[0] == ([(crop_id, "second", 2)], True)
