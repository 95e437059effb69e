"""Service tokens belong to accounts: the model moves from ``annotations`` by state only.

The table keeps its name (``annotations_servicetoken``) and its rows; nothing is copied.
``annotations.0010_service_token_moved`` points donations' ``source`` here and drops the
old model from ``annotations``' state. Audit events written before name their target
``annotations.servicetoken``; the audit pages read both names as one (``audit.selectors``).
"""

from django.db import migrations, models

import accounts.models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("annotations", "0004_service_token_scopes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ServiceToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        (
                            "prefix",
                            models.CharField(
                                help_text="First characters, to tell tokens apart", max_length=12
                            ),
                        ),
                        ("token_hash", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "scopes",
                            models.JSONField(
                                default=accounts.models.default_token_scopes,
                                help_text="What the token may do: ingest, withdraw",
                            ),
                        ),
                    ],
                    options={"db_table": "annotations_servicetoken"},
                ),
            ],
        ),
    ]
