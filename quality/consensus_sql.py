"""Consensus's statements on the annotator loop: the labels that count toward a crop's
decision, read on every second label. A PostgreSQL statement prepared once per database
session (``dbkit.prepared``) with its ORM twin next to it, joined by ``dbkit.by_backend``;
``tests/quality/test_consensus_sql.py`` runs both on the same rows and compares.

"Which labels count" is written here once: annotators' labels and reviewers' fixes
(``COUNTED_KINDS``; gold answers never), and of a corrected label only its correction.
"""

from annotations.models import Label, LabelKind
from dbkit.prepared import Prepared, by_backend, model_from_row

COUNTED_KINDS = (LabelKind.ANNOTATION, LabelKind.REVIEW)

_LABEL_ATTNAMES = [field.attname for field in Label._meta.concrete_fields]
# Columns named, not ``*`` (see ``dbkit.prepared``).
COUNTED_LABELS = Prepared(
    "dropturk_counted_labels",
    f"""
    SELECT {", ".join(f'label."{field.column}"' for field in Label._meta.concrete_fields)}
    FROM {Label._meta.db_table} label
    WHERE label.task_id = %(task)s AND label.kind = ANY(%(kinds)s)
      AND NOT EXISTS (
        SELECT 1 FROM {Label._meta.db_table} later WHERE later.revises_id = label.id
      )
    ORDER BY label.id
    """,  # noqa: S608  our own model's table and columns
)


def counted_labels_sql(*, task_id: int) -> list[Label]:
    rows = COUNTED_LABELS.fetchall({"task": task_id, "kinds": list(COUNTED_KINDS)})
    return [model_from_row(Label, _LABEL_ATTNAMES, row) for row in rows]


def counted_labels_orm(*, task_id: int) -> list[Label]:
    return list(
        Label.objects.filter(
            task_id=task_id, revision__isnull=True, kind__in=COUNTED_KINDS
        ).order_by("id")
    )


# The task's labels that count toward its decision, oldest first.
counted_labels = by_backend(counted_labels_sql, counted_labels_orm)
