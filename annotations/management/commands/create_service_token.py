from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import ServiceToken, TokenScope
from accounts.tokens import service_token_create


class Command(BaseCommand):
    help = "Create a service token for the donation service and print it (shown once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="A name to tell this token apart, e.g. donation-app")
        parser.add_argument(
            "--scope",
            action="append",
            choices=TokenScope.values,
            dest="scopes",
            help="What the token may do; repeat for several (default: ingest)",
        )

    def handle(self, *args, name: str, scopes: list[str] | None, **options) -> None:
        if ServiceToken.objects.filter(name=name).exists():
            raise CommandError(
                f"A service token named {name!r} exists already; choose another name."
            )
        with transaction.atomic():
            token, raw = service_token_create(name=name)
            if scopes:
                token.scopes = sorted(set(scopes))
                token.save(update_fields=["scopes"])
        self.stderr.write(f"Service token {name!r} created. It is shown once; store it now:")
        self.stdout.write(raw)
