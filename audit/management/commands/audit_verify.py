"""``manage.py audit_verify``: walks the whole audit chain; exit status 1 names the first fault.

It only reads. Sealing is the sealer's job (beat's ``audit.seal_chain`` and
``audit.write_anchor``): a verifier that sealed would itself link in events an attacker
had edited, re-hashed and unsealed.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from audit import anchors, chain


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain, its archives and its anchors, and that every "
        "event older than the anchor window is sealed and anchored. Reads only."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--skip-anchors", action="store_true", help="don't read the anchors")
        parser.add_argument(
            "--window",
            type=int,
            default=None,
            help="seconds after which an event must be sealed and anchored "
            "(default: AUDIT_ANCHOR_WINDOW_SECONDS)",
        )

    def handle(self, *args, skip_anchors: bool = False, window=None, **options) -> None:
        known = [] if skip_anchors else anchors.read_anchor_records()
        report = chain.verify(anchors=[(anchor.seq, anchor.chain_hash) for anchor in known])
        if not report.ok:
            raise CommandError(f"audit chain broken at {report.problems[0]}")
        if not skip_anchors:
            span = timedelta(seconds=window) if window is not None else anchors.anchor_window()
            problems = anchors.coverage_problems(known, window=span)
            if problems:
                raise CommandError(f"audit chain not protected: {problems[0]}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain ok: {report.checked} events checked up to seq {report.head_seq}, "
                f"{report.archived} in archives, {report.anchors} anchors, "
                f"{report.unsealed} not sealed yet"
            )
        )
