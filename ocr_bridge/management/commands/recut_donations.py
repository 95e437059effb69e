from django.core.management.base import BaseCommand

from ocr_bridge import recut, tasks


class Command(BaseCommand):
    help = (
        "Queue ready donations cut by another word detector than the current one to be read "
        "and cut again (crops with labels, gold items and leased crops are kept as they are)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("donation_ids", nargs="*", help="These donations (default: stale ones)")
        parser.add_argument("--limit", type=int, default=1000, help="At most this many")
        parser.add_argument(
            "--now", action="store_true", help="Cut them here, one after the other, not queued"
        )

    def handle(self, *args, donation_ids: list[str], limit: int, now: bool, **options) -> None:
        import ocr.detector

        current = str(getattr(ocr.detector, "DETECTOR_VERSION", "mser"))
        ids = donation_ids or recut.donations_to_recut(detector_version=current, limit=limit)
        for donation_id in ids[:limit]:
            if now:
                done = recut.donation_recut(donation_id=donation_id)
                self.stdout.write(f"{donation_id}: {'cut anew' if done else 'left as it was'}")
            else:
                tasks.recut_donation.delay(donation_id)
        if not now:
            self.stdout.write(f"{len(ids[:limit])} donation(s) queued to be cut by {current}")
