from django.core.management.base import BaseCommand, CommandError

from annotations.models import ServiceToken
from annotations.services import service_token_create


class Command(BaseCommand):
    help = "Create a service token for the donation service and print it (shown once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="A name to tell this token apart, e.g. donation-app")

    def handle(self, *args, name: str, **options) -> None:
        if ServiceToken.objects.filter(name=name).exists():
            raise CommandError(
                f"A service token named {name!r} exists already; choose another name."
            )
        _, raw = service_token_create(name=name)
        self.stderr.write(f"Service token {name!r} created. It is shown once; store it now:")
        self.stdout.write(raw)
