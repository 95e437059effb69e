import base64
import io
import secrets

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from annotations import roles
from annotations.images import normalize_image
from annotations.models import ServiceToken
from annotations.services import donation_create, service_token_create
from ocr.synthetic import render_document

DEMO_PEOPLE = {
    "annotator": [roles.ANNOTATOR],
    "reviewer": [roles.REVIEWER, roles.ANNOTATOR],
    "mlengineer": [roles.ML_ENGINEER],
    "admin": [roles.ADMIN],
}
DEMO_TOKEN = "demo-donations"  # noqa: S105  the token's name, not a secret
DEMO_DOCUMENTS = [("receipt", 1), ("receipt", 2), ("invoice", 3), ("letter", 4)]


class Command(BaseCommand):
    help = (
        "Create demo accounts (new passwords and TOTP secrets printed on every run) and, "
        "once, a few demo documents rendered by our own synthetic generator."
    )

    def handle(self, *args, **options) -> None:
        self._people()
        self._documents()

    @transaction.atomic
    def _people(self) -> None:
        user_model = get_user_model()
        self.stdout.write(
            "Demo accounts (password and TOTP secret are new on every run of seed_demo; add\n"
            "the secret or the otpauth:// URI to any authenticator app, then sign in with\n"
            "the password and the app's 6-digit code):"
        )
        for username, role_names in DEMO_PEOPLE.items():
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.is_active = True
            user.is_staff = user.is_superuser = username == "admin"
            user.save()
            user.groups.set(Group.objects.filter(name__in=role_names))
            secret = self._totp(user)
            self.stdout.write(f"  {username:<11} {password}   roles: {', '.join(role_names)}")
            self.stdout.write(f"  {'':<11} TOTP secret {secret}")
            self.stdout.write(f"  {'':<11} {get_mfa_adapter().build_totp_url(user, secret)}")

    @staticmethod
    def _totp(user) -> str:
        """A fresh TOTP authenticator, stored the way allauth's set-up page stores one."""
        secret = base64.b32encode(secrets.token_bytes(20)).decode()
        Authenticator.objects.filter(user=user).delete()
        Authenticator.objects.create(
            user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret)}
        )
        return secret

    def _documents(self) -> None:
        token = ServiceToken.objects.filter(name=DEMO_TOKEN).first()
        if token is not None and token.donations.exists():
            self.stdout.write("Demo documents exist already.")
            return
        if token is None:
            token, _ = service_token_create(name=DEMO_TOKEN)
        for kind, seed in DEMO_DOCUMENTS:
            rendered = render_document(kind=kind, seed=seed).image
            out = io.BytesIO()
            rendered.save(out, format="PNG")
            donation = donation_create(
                source=token, kind=kind, image=normalize_image(out.getvalue())
            )
            self.stdout.write(
                f"  demo {kind} donated: {donation.pk} (the worker will cut it into words)"
            )
