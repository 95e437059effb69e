"""The access checks of sign-in and administration: one condition per function.

Object-level reach (whose crops, whose donations) lives with the reads in
``annotations.selectors``; role membership in ``annotations.roles``.
"""

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest

from accounts import roles, sessions
from accounts.tokens import TOKEN_PREFIX

# URL names a signed-in session without a second factor may still reach: signing in
# and out, re-authenticating, and setting up (not removing) an authenticator.
MFA_SETUP_URL_NAMES = frozenset(
    {
        "account_login",
        "account_logout",
        "account_reauthenticate",
        "mfa_index",
        "mfa_activate_totp",
        "mfa_add_webauthn",
        "mfa_reauthenticate",
        "mfa_authenticate",
        "mfa_login_webauthn",
        "mfa_view_recovery_codes",
    }
)
# Reachable by anyone, whatever their session: monitoring, and the browser's icon.
PUBLIC_URL_NAMES = frozenset({"healthz", "favicon"})
SERVICE_TOKEN_HEADER_PREFIX = f"Bearer {TOKEN_PREFIX}"


def is_signed_in_session(request: HttpRequest) -> bool:
    return SESSION_KEY in request.session


def is_signed_in(request: HttpRequest) -> bool:
    """A live account is signed in (a deactivated one's session counts as anonymous)."""
    return request.user.is_authenticated


def has_completed_mfa(request: HttpRequest) -> bool:
    return sessions.has_completed_mfa(request.session)


def is_mfa_setup_route(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and match.url_name in MFA_SETUP_URL_NAMES


def is_public_route(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and match.url_name in PUBLIC_URL_NAMES


def is_api_call(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def is_service_token_call(request: HttpRequest) -> bool:
    """An API call carrying a service token: DRF authenticates it by the token alone,
    never by the session (``ServiceTokenAuthentication`` comes first and either accepts
    the token or refuses the call)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return is_api_call(request) and header.startswith(SERVICE_TOKEN_HEADER_PREFIX)


def passes_mfa_gate(request: HttpRequest) -> bool:
    return (
        is_public_route(request)
        or is_service_token_call(request)
        or not is_signed_in(request)
        or has_completed_mfa(request)
        or is_mfa_setup_route(request)
    )


def is_admin(user) -> bool:
    return roles.has_role(user, roles.ADMIN)
