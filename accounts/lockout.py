"""What django-axes counts failures against: the account, whatever name was typed."""

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest


def _typed_name(request: HttpRequest, credentials: dict | None) -> str:
    if credentials:
        typed = credentials.get("username") or credentials.get("email")
        if typed:
            return str(typed).strip().lower()
    data = getattr(request, "POST", {}) if request is not None else {}
    return str(data.get("login", "")).strip().lower()


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The account a sign-in attempt is for, by its username (lower case).

    allauth's form takes a username or an e-mail address (``login``) and passes
    ``username=`` or ``email=`` to ``authenticate``; both name the same account, so both
    count against one lockout (an e-mail address gave five more guesses). A name that is
    no account's counts as typed.
    """
    typed = _typed_name(request, credentials)
    if not typed:
        return typed
    user_model = get_user_model()
    username = (
        user_model.objects.filter(Q(username__iexact=typed) | Q(email__iexact=typed))
        .order_by("pk")
        .values_list("username", flat=True)
        .first()
    )
    return username.lower() if username else typed
