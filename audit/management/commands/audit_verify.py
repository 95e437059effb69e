"""``manage.py audit_verify``: walks the whole audit chain; exit status 1 names the first fault."""

from django.core.management.base import BaseCommand, CommandError

from audit import anchors, chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain, its archives and its anchors."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-seal",
            action="store_true",
            help="check only what is sealed now (default: seal pending events first)",
        )
        parser.add_argument("--skip-anchors", action="store_true", help="don't read the anchors")

    def handle(self, *args, no_seal: bool = False, skip_anchors: bool = False, **options) -> None:
        if not no_seal:
            chain.seal()
        known = [] if skip_anchors else anchors.read_anchors()
        report = chain.verify(anchors=known)
        if not report.ok:
            raise CommandError(f"audit chain broken at {report.problems[0]}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain ok: {report.checked} events checked up to seq {report.head_seq}, "
                f"{report.archived} in archives, {report.anchors} anchors, "
                f"{report.unsealed} not sealed yet"
            )
        )
