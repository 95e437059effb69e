"""Per-request rules of a signed-in session: its age, and its second factor.

Both read only the session (already loaded for authentication): no query on the hot path.
"""

import time
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts import access, services, sessions

MFA_REQUIRED_MESSAGE = (
    "Two-factor authentication is required. Set up an authenticator app or a passkey, "
    "or confirm your sign-in with it, at /accounts/2fa/."
)


class SessionTimeoutMiddleware:
    """Signs a session out after 30 idle minutes or 8 hours in all (settings decide).

    Placed after ``AuthenticationMiddleware``; the request goes on as anonymous, so pages
    redirect to the sign-in form and the API answers 403.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if access.is_signed_in_session(request):
            self._enforce(request)
        return self.get_response(request)

    def _enforce(self, request: HttpRequest) -> None:
        now = time.time()
        session = request.session
        if sessions.is_past_absolute_limit(session, now):
            services.session_expire(request=request, reason="absolute timeout")
            logout(request)
        elif sessions.is_idle_too_long(session, now):
            services.session_expire(request=request, reason="idle timeout")
            logout(request)
        else:
            sessions.touch(session, now)


class MfaRequiredMiddleware:
    """allauth offers MFA; this makes it mandatory.

    A signed-in session that has not completed a second factor reaches only sign-in,
    sign-out and MFA set-up: pages redirect there, the API answers 403 with a message.
    Service-token API calls are not session calls and pass (their permission classes
    decide).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if access.passes_mfa_gate(request):
            return None
        if access.is_api_call(request):
            return JsonResponse({"detail": MFA_REQUIRED_MESSAGE}, status=403)
        return redirect(_mfa_step_url(request))


def _mfa_step_url(request: HttpRequest) -> str:
    """Confirm with the authenticator the account has, or set one up (a first sign-in goes
    straight to the authenticator app's QR code, then its recovery codes)."""
    name = "mfa_reauthenticate" if services.user_has_mfa(request.user) else "mfa_activate_totp"
    return f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"
