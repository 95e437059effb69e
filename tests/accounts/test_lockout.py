"""Brute force: 5 failed sign-ins per username+IP lock that pair out for 15 minutes."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from annotations import roles
from audit.models import AuditEvent
from tests.accounts.conftest import sign_in_with_password

pytestmark = pytest.mark.django_db


def fail(client, username: str, times: int, **extra):
    return [
        sign_in_with_password(client, username, "wrong password!", **extra).status_code
        for _ in range(times)
    ]


def test_fifth_failure_locks_out_and_the_right_password_is_refused(client, make_person):
    make_person("ann", roles.ANNOTATOR)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert fail(client, "ann", 5) == [200, 200, 200, 200, 429]

        locked = sign_in_with_password(client, "ann")

        assert locked.status_code == 429
        assert b"Too many failed sign-ins" in locked.content
        assert b"Even the right password is refused" in locked.content
        assert client.get("/").status_code == 302  # not signed in
    # the locking failure and the refused right password
    assert AuditEvent.objects.filter(action="accounts.lockout").count() == 2
    assert AuditEvent.objects.filter(action="accounts.sign_in_failed").count() >= 5

    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in_with_password(client, "ann").status_code == 429
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        assert sign_in_with_password(client, "ann").status_code == 302  # on to the MFA step


def test_lockout_is_per_username_and_address(client, make_person):
    make_person("ann", roles.ANNOTATOR)
    make_person("bob", roles.ANNOTATOR)
    fail(client, "ann", 5)

    assert sign_in_with_password(client, "bob").status_code == 302
    client.post("/accounts/logout/")
    elsewhere = sign_in_with_password(client, "ann", REMOTE_ADDR="10.0.0.9")
    assert elsewhere.status_code == 302


def test_lockout_counts_the_email_address_as_the_same_account(client, make_person):
    make_person("ann", roles.ANNOTATOR)
    fail(client, "ANN", 5)

    assert sign_in_with_password(client, "ann").status_code == 429
