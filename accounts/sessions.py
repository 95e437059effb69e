"""What a signed-in session carries besides Django's own keys, and the clock rules on it.

Three values, all plain session entries so that the per-request checks need no query:

- ``MFA_USER_KEY``: the id of the user who completed a second-factor step in this
  session (allauth's MFA stage, a passkey sign-in, MFA re-authentication, or setting up
  a first authenticator). Compared with Django's ``_auth_user_id``, so a flag can never
  vouch for another account.
- ``SIGNED_IN_AT_KEY``: when the session signed in (the absolute timeout counts from it).
- ``SEEN_AT_KEY``: when the session was last used, rewritten at most once a minute (the
  idle timeout counts from it), so a busy annotator does not cause a session write per
  request.
"""

import time
from collections.abc import MutableMapping
from typing import Any

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from django.conf import settings
from django.contrib.auth import SESSION_KEY

MFA_USER_KEY = "dropturk_mfa_user"
SIGNED_IN_AT_KEY = "dropturk_signed_in_at"
SEEN_AT_KEY = "dropturk_seen_at"
# How stale SEEN_AT_KEY may get before it is rewritten; far below the idle timeout.
SEEN_AT_RESOLUTION_SECONDS = 60
# allauth ties its authentication records to a user id under this key (not exported).
_ALLAUTH_RECORDS_USER_KEY = "account_authentication_methods_user"

Session = MutableMapping[str, Any]


def stamp_sign_in(session: Session) -> None:
    now = time.time()
    session[SIGNED_IN_AT_KEY] = now
    session[SEEN_AT_KEY] = now


def mark_mfa_complete(session: Session, *, user_id: int) -> None:
    session[MFA_USER_KEY] = str(user_id)


def forget_mfa(session: Session) -> None:
    session.pop(MFA_USER_KEY, None)


def has_completed_mfa(session: Session) -> bool:
    """The signed-in user of this session did a second-factor step in it."""
    user_id = session.get(SESSION_KEY)
    return user_id is not None and session.get(MFA_USER_KEY) == user_id


def is_past_absolute_limit(session: Session, now: float) -> bool:
    signed_in_at = session.get(SIGNED_IN_AT_KEY)
    return signed_in_at is None or now - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS


def is_idle_too_long(session: Session, now: float) -> bool:
    seen_at = session.get(SEEN_AT_KEY)
    return seen_at is None or now - seen_at > settings.SESSION_IDLE_SECONDS


def touch(session: Session, now: float) -> None:
    if now - session.get(SEEN_AT_KEY, 0) > SEEN_AT_RESOLUTION_SECONDS:
        session[SEEN_AT_KEY] = now


def fill_signed_in_session(session: Session, *, user, mfa_type: str = "totp") -> None:
    """Make ``session`` look like one that signed in with password + ``mfa_type`` now.

    For tools that sign people in without the sign-in form (the benchmark, test
    fixtures): the same keys allauth and these middlewares read after a real sign-in.
    The caller has already set Django's auth keys (``login`` or by hand).
    """
    now = time.time()
    stamp_sign_in(session)
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": now, "username": user.get_username()},
        {"method": "mfa", "at": now, "type": mfa_type},
    ]
    session[_ALLAUTH_RECORDS_USER_KEY] = str(user.pk)
    mark_mfa_complete(session, user_id=user.pk)
