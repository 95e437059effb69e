"""What django-axes counts failures against."""

from django.http import HttpRequest


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The name typed into allauth's form (``login``: a username or an e-mail address).

    allauth passes ``username=`` or ``email=`` to ``authenticate`` depending on what was
    typed; both count against the same lockout as the raw form field.
    """
    if credentials:
        typed = credentials.get("username") or credentials.get("email")
        if typed:
            return str(typed).strip().lower()
    data = getattr(request, "POST", {}) if request is not None else {}
    return str(data.get("login", "")).strip().lower()
