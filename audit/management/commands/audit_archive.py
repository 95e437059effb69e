"""``manage.py audit_archive --older-than-days N``: retention, verified before removal."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from audit.archive import ArchiveError, archive_older_than


class Command(BaseCommand):
    help = "Move sealed audit events older than N days into signed, chained archive files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than-days", type=float, required=True)

    def handle(self, *args, older_than_days: float, **options) -> None:
        if older_than_days < 0:
            raise CommandError("--older-than-days must not be negative")
        try:
            created = archive_older_than(timedelta(days=older_than_days))
        except ArchiveError as error:
            raise CommandError(str(error)) from error
        for item in created:
            self.stdout.write(f"archived seq {item.first_seq}-{item.last_seq} to {item.file_name}")
        self.stdout.write(self.style.SUCCESS(f"{len(created)} archive file(s) written"))
