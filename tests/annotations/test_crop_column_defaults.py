"""The page reader's crop columns (migration 0009) have database defaults: a row written
without them (an older worker during a rolling deploy, a raw SQL insert) is accepted,
with the same values the model's Python defaults give."""

import pytest
from django.db import connection

from annotations.models import WordCrop
from tests import factories

pytestmark = pytest.mark.django_db

READER_COLUMNS = {"decision", "source_boxes", "detector_version"}


def test_a_crop_inserted_without_the_reader_columns_gets_their_defaults(service_token):
    donation = factories.make_ready_donation(source=service_token, confidences=[0.5])
    crop = donation.crops.get()
    table = WordCrop._meta.db_table
    with connection.cursor() as cursor:
        columns = [
            column.name
            for column in connection.introspection.get_table_description(cursor, table)
            if column.name not in READER_COLUMNS | {"id"}
        ]
        quote = connection.ops.quote_name
        # The older worker's row: a copy of the crop at another index, the new columns left out.
        selected = [f"{quote(name)} + 1000" if name == "index" else quote(name) for name in columns]
        names = ", ".join(quote(name) for name in columns)
        picked = ", ".join(selected)
        sql = f"INSERT INTO {quote(table)} ({names}) SELECT {picked} FROM {quote(table)}"  # noqa: S608
        cursor.execute(sql + " WHERE id = %s", [crop.pk])

    written = WordCrop.objects.get(donation=donation, index=crop.index + 1000)
    python_defaults = WordCrop(donation=donation, index=0, x=0, y=0, width=1, height=1)
    assert (written.decision, written.source_boxes, written.detector_version) == (
        python_defaults.decision,
        python_defaults.source_boxes,
        python_defaults.detector_version,
    )
    assert (written.decision, written.source_boxes, written.detector_version) == ("", 1, "")
