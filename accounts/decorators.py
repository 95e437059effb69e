"""Re-authentication before sensitive actions (exports, role and MFA changes)."""

from functools import wraps
from urllib.parse import urlencode

from allauth.account.decorators import reauthentication_required
from allauth.core.exceptions import ReauthenticationRequired
from django.http import JsonResponse
from django.urls import reverse

from accounts import access

REAUTH_MESSAGE = (
    "Confirm it is you: this action needs a password or second-factor confirmation from "
    "the last few minutes."
)


def require_recent_auth(view_func):
    """allauth's re-authentication, for pages and for the API alike.

    A page (any method) is sent to allauth's re-authentication form, which replays the
    request afterwards. An API call gets 403 with a message and the form's URL, so the
    browser app can send the person there. For a DRF view, decorate the handler method
    with ``method_decorator(require_recent_auth)``.
    """
    checked = reauthentication_required(view_func)

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        if not access.is_api_call(request):
            return checked(request, *args, **kwargs)
        try:
            return checked(request, *args, **kwargs)
        except ReauthenticationRequired:
            url = reverse("account_reauthenticate")
            return JsonResponse(
                {
                    "detail": REAUTH_MESSAGE,
                    "reauthenticate_url": f"{url}?{urlencode({'next': request.path})}",
                },
                status=403,
            )

    return wrapper
