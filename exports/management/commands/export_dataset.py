"""``manage.py export_dataset --format F --out DIR --user NAME [filters]``: an export
written as plain files into a directory, for engineers with server access. Audited with
``--user`` as the actor, who must hold the ML engineer role."""

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from exports import selectors, services
from exports.formats import WRITERS
from exports.selectors import FLAGS, ExportFilters


class Command(BaseCommand):
    help = "Export accepted labeled word crops in an OCR trainer's format into a directory."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--format", required=True, choices=sorted(WRITERS))
        parser.add_argument("--out", required=True, type=Path, help="A new or empty directory")
        parser.add_argument("--user", required=True, help="Who exports (ML engineer role)")
        parser.add_argument("--date-from", help="Labels from this date (YYYY-MM-DD)")
        parser.add_argument("--date-to", help="Labels up to this date, inclusive")
        parser.add_argument("--kind", action="append", default=[], help="Document kind")
        parser.add_argument("--min-confidence", type=float)
        parser.add_argument("--include-flag", action="append", default=[], choices=FLAGS)
        parser.add_argument("--exclude-flag", action="append", default=[], choices=FLAGS)
        parser.add_argument(
            "--engine-version", action="append", default=[], help="Prefill model version"
        )

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None or not selectors.can_export(user):
            raise CommandError(f"{options['user']!r} is not an active ML engineer")
        try:
            filters = ExportFilters.from_dict(
                {
                    "date_from": options["date_from"],
                    "date_to": options["date_to"],
                    "kinds": options["kind"],
                    "min_confidence": options["min_confidence"],
                    "flags_include": options["include_flag"],
                    "flags_exclude": options["exclude_flag"],
                    "engine_versions": options["engine_version"],
                }
            )
            manifest = services.export_to_directory(
                user=user, fmt=options["format"], filters=filters, out=options["out"]
            )
        except (ValidationError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        counts = {split: manifest.counts.get(split, 0) for split in selectors.SPLITS}
        self.stdout.write(json.dumps({"format": options["format"], "counts": counts}))
