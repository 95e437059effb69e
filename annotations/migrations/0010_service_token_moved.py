"""Service tokens moved to ``accounts`` (``accounts.0001_service_token``): by state only,
the table and the foreign key stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_service_token"),
        ("annotations", "0009_crop_page_reading"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="donation",
                    name="source",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="donations",
                        to="accounts.servicetoken",
                    ),
                ),
                migrations.DeleteModel(name="ServiceToken"),
            ],
        ),
    ]
