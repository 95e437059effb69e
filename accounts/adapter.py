import time
from datetime import UTC, datetime

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context
from allauth.mfa.models import Authenticator


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by an admin; the public sign-up form is closed."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """A first authenticator, set up right after the password sign-in that led there,
        and its recovery codes shown just after, do not ask for the password again (issue
        20: the first sign-in went QR code -> password again). Changing or removing an
        authenticator the account had before this sign-in still does."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        if required and app == "allauth.mfa" and _first_authenticator_after_sign_in():
            return False
        return required


def _first_authenticator_after_sign_in() -> bool:
    request = context.request
    if request is None or not request.user.is_authenticated:
        return False
    records = get_authentication_records(request, request.user)
    signed_in_at = min((record.get("at", 0) for record in records), default=0)
    if time.time() - signed_in_at >= account_settings.REAUTHENTICATION_TIMEOUT:
        return False
    older = Authenticator.objects.filter(
        user=request.user, created_at__lt=datetime.fromtimestamp(signed_in_at, tz=UTC)
    )
    return not older.exists()
