"""Where allauth, django.contrib.auth and django-axes tell us what happened.

Each receiver stamps the session or writes one audit event; none holds other logic.
"""

from allauth.account import signals as account_signals
from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from axes.signals import user_locked_out
from django.contrib.auth import signals as auth_signals

import audit
from accounts import services, sessions
from audit.models import Outcome

LOCKOUT_USERNAME_MAX = 150


def connect() -> None:
    auth_signals.user_logged_in.connect(_stamp_sign_in, dispatch_uid="accounts.stamp")
    auth_signals.user_logged_out.connect(_audit_sign_out, dispatch_uid="accounts.sign_out")
    auth_signals.user_login_failed.connect(_audit_failed, dispatch_uid="accounts.failed")
    account_signals.user_logged_in.connect(_audit_sign_in, dispatch_uid="accounts.sign_in")
    account_signals.authentication_step_completed.connect(
        _mark_mfa_step, dispatch_uid="accounts.mfa_step"
    )
    mfa_signals.authenticator_added.connect(_mfa_added, dispatch_uid="accounts.mfa_added")
    mfa_signals.authenticator_removed.connect(_mfa_removed, dispatch_uid="accounts.mfa_removed")
    mfa_signals.authenticator_used.connect(_mfa_used, dispatch_uid="accounts.mfa_used")
    mfa_signals.authentication_failed.connect(_mfa_failed, dispatch_uid="accounts.mfa_failed")
    user_locked_out.connect(_audit_lockout, dispatch_uid="accounts.lockout")


def _stamp_sign_in(sender, request, user, **kwargs) -> None:
    # Every login (allauth's and force_login alike) starts the session clocks.
    if request is not None and hasattr(request, "session"):
        sessions.stamp_sign_in(request.session)


def _audit_sign_in(sender, request, user, **kwargs) -> None:
    methods = [record.get("method") for record in get_authentication_records(request, user)]
    audit.record(
        actor=user,
        action="accounts.sign_in",
        target=user,
        data={"methods": methods},
    )


def _audit_sign_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    audit.record(actor=user, action="accounts.sign_out", target=user)


def _attempted_username(credentials: dict) -> str:
    name = credentials.get("username") or credentials.get("email") or ""
    return str(name)[:LOCKOUT_USERNAME_MAX]


def _audit_failed(sender, credentials, request=None, **kwargs) -> None:
    audit.record(
        actor=None,
        action="accounts.sign_in_failed",
        data={"username": _attempted_username(credentials)},
        outcome=Outcome.FAILURE,
    )


def _audit_lockout(sender, request, username, ip_address, **kwargs) -> None:
    audit.record(
        actor=None,
        action="accounts.lockout",
        data={"username": str(username or "")[:LOCKOUT_USERNAME_MAX]},
        ip_address=ip_address,
        outcome=Outcome.FAILURE,
    )


def _mark_mfa_step(sender, request, user, method, **kwargs) -> None:
    if method == "mfa":
        sessions.mark_mfa_complete(request.session, user_id=user.pk)


def _audit_mfa(
    action: str, request, user, authenticator, *, outcome: str = Outcome.SUCCESS, **data
) -> None:
    audit.record(
        actor=user,
        action=action,
        target=user,
        data={"type": getattr(authenticator, "type", ""), **data},
        outcome=outcome,
    )


def _mfa_added(sender, request, user, authenticator, **kwargs) -> None:
    _audit_mfa("accounts.mfa_added", request, user, authenticator)
    # Setting up a first authenticator proves the second factor for this session.
    if authenticator.type in services.SECOND_FACTOR_TYPES:
        sessions.mark_mfa_complete(request.session, user_id=user.pk)


def _mfa_removed(sender, request, user, authenticator, **kwargs) -> None:
    _audit_mfa("accounts.mfa_removed", request, user, authenticator)
    if services.user_has_mfa(user):
        return
    # No second factor left: this session must set one up again, and no other keeps going.
    sessions.forget_mfa(request.session)
    services.sessions_end_for_user(
        actor=user,
        user=user,
        reason="last authenticator removed",
        keep_session_key=request.session.session_key or "",
    )


def _mfa_used(sender, request, user, authenticator, **kwargs) -> None:
    reauthenticated = bool(kwargs.get("reauthenticated"))
    _audit_mfa("accounts.mfa_used", request, user, authenticator, reauthenticated=reauthenticated)


def _mfa_failed(sender, request, user, authenticator=None, **kwargs) -> None:
    _audit_mfa("accounts.mfa_failed", request, user, authenticator, outcome=Outcome.FAILURE)
