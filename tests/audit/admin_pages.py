"""What the tests of the audit trail's admin pages share: people, and events at set times."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client

import audit
from annotations import roles
from audit import context
from tests import factories

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def fast_password_hashing(settings):
    """Each test makes several people; PBKDF2 would cost a second a test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def person(username: str, *role_names: str):
    user = factories.UserFactory(username=username)
    user.groups.set(Group.objects.filter(name__in=role_names))
    return user


def signed_in(user, *, recently_confirmed: bool = False) -> Client:
    """A client signed in with password + TOTP; ``recently_confirmed``: the password was
    also just confirmed on allauth's re-authentication form (what exports ask for)."""
    client = Client()
    client.force_login(user)
    if recently_confirmed:
        confirmed = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
        assert confirmed.status_code == 302, confirmed.content[:300]
    return client


def record_at(moment: datetime, *, request_id: str = "", **kwargs):
    """``audit.record`` as if at ``moment``, within a request with ``request_id``."""
    token = context.bind(context.RequestContext(request_id=request_id, ip_address="10.1.2.3"))
    try:
        with time_machine.travel(moment, tick=False):
            return audit.record(**kwargs)
    finally:
        context.unbind(token)


def record_many(count: int, *, action: str = "accounts.sign_out", actor=None):
    """``count`` events a minute apart from START, oldest first."""
    return [
        record_at(START + timedelta(minutes=number), actor=actor, action=action)
        for number in range(count)
    ]


def admin(username: str = "boss"):
    return person(username, roles.ADMIN)
