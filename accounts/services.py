"""Writes of sign-in and administration: each one records its audit event.

Callers check access first (``accounts.access``); these functions say what they assume.
"""

from collections.abc import Iterable

from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

import audit
from accounts import backends
from accounts.models import ServiceToken

# Authenticators that are a second factor on their own (recovery codes are a fallback).
SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def user_has_mfa(user) -> bool:
    if not user.is_authenticated:
        return False
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTOR_TYPES).exists()


def session_expire(*, request: HttpRequest, reason: str) -> None:
    """Audits a session the timeout middleware is about to sign out."""
    user = request.user
    audit.record(
        actor=user if user.is_authenticated else None,
        action="accounts.session_end",
        data={"reason": reason, "username": user.get_username()},
    )


def sessions_end_for_user(*, actor, user, reason: str, keep_session_key: str = "") -> int:
    """Ends every tracked session of ``user`` (but ``keep_session_key``); returns how many.

    Sessions are tracked by allauth.usersessions at every sign-in. A session made
    otherwise (``force_login`` in tests) dies anyway once the account is deactivated:
    Django's ModelBackend refuses inactive users.
    """
    ended = 0
    for user_session in UserSession.objects.filter(user_id=user.pk).exclude(
        session_key=keep_session_key
    ):
        session_end(actor=actor, user_session=user_session, reason=reason)
        ended += 1
    return ended


def session_end(*, actor, user_session: UserSession, reason: str) -> None:
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="accounts.session_end",
            target=user_session.user,
            data={
                "reason": reason,
                "username": user_session.user.get_username(),
                "ip": user_session.ip,
            },
        )
        user_session.end()


def account_deactivate(*, actor, user) -> None:
    """Deactivates ``user`` and ends all their sessions at once.

    Assumes ``actor`` is an admin who re-authenticated recently (the admin checks both).
    """
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)
        backends.forget([user.pk])  # update() sends no post_save
        user.is_active = False
        audit.record(
            actor=actor,
            action="accounts.account_deactivate",
            target=user,
            data={"username": user.get_username()},
        )
        sessions_end_for_user(actor=actor, user=user, reason="account deactivated")


def account_record_change(*, actor, user, fields: Iterable[str]) -> None:
    audit.record(
        actor=actor,
        action="accounts.account_change",
        target=user,
        data={"username": user.get_username(), "fields": sorted(fields)},
    )


def roles_record_change(*, actor, user, before: set[str], after: set[str]) -> None:
    """Audits a change of ``user``'s roles (Django groups) made by ``actor``."""
    if before == after:
        return
    audit.record(
        actor=actor,
        action="accounts.roles_change",
        target=user,
        data={
            "username": user.get_username(),
            "added": sorted(after - before),
            "removed": sorted(before - after),
        },
    )


def role_names(user) -> set[str]:
    return set(Group.objects.filter(user=user).values_list("name", flat=True))


def service_token_revoke(*, actor, token: ServiceToken) -> bool:
    """Revokes ``token`` at once (its next call gets 401); False if it was revoked already."""
    with transaction.atomic():
        revoked = ServiceToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit.record(
                actor=actor,
                action="accounts.service_token_revoke",
                target=token,
                data={"name": token.name},
            )
    token.refresh_from_db(fields=["revoked_at"])
    return bool(revoked)
