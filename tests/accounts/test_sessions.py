"""Sessions: 30 idle minutes, 8 hours in all, a new id at sign-in, hardened cookies;
deactivation and admins end sessions."""

from datetime import timedelta

import pytest
import time_machine
from allauth.usersessions.models import UserSession
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts import services
from annotations import roles
from audit.models import AuditEvent
from tests.accounts.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def start():
    return timezone.now().replace(microsecond=0)


def signed_out(client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_idle_session_ends_after_30_minutes(client, annotator, start):
    with time_machine.travel(start, tick=False):
        client.force_login(annotator)
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=58), tick=False):
        assert client.post("/api/v1/tasks/next/").status_code == 204  # 29 idle minutes
    with time_machine.travel(start + timedelta(minutes=89), tick=False):
        assert signed_out(client)  # 31 idle minutes
    event = AuditEvent.objects.get(action="accounts.session_end")
    assert event.data["reason"] == "idle timeout"


def test_busy_session_still_ends_after_8_hours(client, annotator, start):
    with time_machine.travel(start, tick=False):
        client.force_login(annotator)
    for minutes in range(20, 8 * 60, 20):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert client.post("/api/v1/tasks/next/").status_code == 204
    with time_machine.travel(start + timedelta(hours=8, minutes=1), tick=False):
        assert client.post("/api/v1/tasks/next/").status_code == 401
        assert signed_out(client)
    event = AuditEvent.objects.get(action="accounts.session_end")
    assert event.data["reason"] == "absolute timeout"


def test_sign_in_gives_a_new_session_id_in_a_hardened_cookie(client, settings, make_person):
    person = make_person("ann", roles.ANNOTATOR)
    before = client.session
    before["visited"] = True
    before.save()
    anonymous_key = before.session_key

    response = sign_in(client, person)

    assert settings.SESSION_COOKIE_NAME == "__Host-dropturk_session"
    assert settings.CSRF_COOKIE_NAME == "__Host-dropturk_csrf"
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value != anonymous_key
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""
    assert not response.has_header("Strict-Transport-Security")  # plain HTTP here
    assert client.get("/", secure=True).has_header("Strict-Transport-Security")


def test_deactivation_ends_every_session_at_once(client, make_person):
    person = make_person("ann", roles.ANNOTATOR)
    admin = make_person("boss", roles.ADMIN).user
    sign_in(client, person)
    assert client.get("/label/").status_code == 200
    assert UserSession.objects.filter(user=person.user).count() == 1

    services.account_deactivate(actor=admin, user=person.user)

    assert not UserSession.objects.filter(user=person.user).exists()
    assert signed_out(client)
    assert client.post("/api/v1/tasks/next/").status_code == 401
    assert AuditEvent.objects.filter(action="accounts.account_deactivate").count() == 1
    assert AuditEvent.objects.get(action="accounts.session_end").data["reason"] == (
        "account deactivated"
    )


def admin_person(make_person):
    person = make_person("boss", roles.ADMIN)
    person.user.is_staff = True
    person.user.save()
    return person


def test_admin_sees_and_ends_anyones_sessions(client, make_person):
    from django.test import Client

    annotator = make_person("ann", roles.ANNOTATOR)
    annotator_client = Client()
    sign_in(annotator_client, annotator)
    sign_in(client, admin_person(make_person))

    listing = client.get("/admin/usersessions/usersession/")
    assert listing.status_code == 200
    assert b"ann" in listing.content
    session = UserSession.objects.get(user=annotator.user)
    ended = client.post(
        "/admin/usersessions/usersession/",
        {"action": "end_sessions", "_selected_action": [session.pk]},
    )

    assert ended.status_code == 302
    assert signed_out(annotator_client)
    assert client.get("/").status_code == 200  # the admin's own session goes on
    event = AuditEvent.objects.get(action="accounts.session_end")
    assert event.data == {"reason": "ended by an admin", "username": "ann", "ip": "127.0.0.1"}


def change_form(user, group_ids: list[int]) -> dict:
    joined = user.date_joined
    return {
        "username": user.username,
        "email": user.email,
        "is_active": "on",
        "groups": group_ids,
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
    }


def test_role_change_needs_recent_reauthentication_and_is_audited(client, make_person):
    person = make_person("ann", roles.ANNOTATOR)
    sign_in(client, admin_person(make_person))
    url = f"/admin/auth/user/{person.user.pk}/change/"
    reviewer_group = Group.objects.get(name=roles.REVIEWER)

    refused = client.post(url, change_form(person.user, [reviewer_group.pk]))
    assert refused.status_code == 302
    assert refused["Location"].startswith("/accounts/reauthenticate/")
    assert list(person.user.groups.values_list("name", flat=True)) == [roles.ANNOTATOR]

    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    saved = client.post(url, change_form(person.user, [reviewer_group.pk]))

    assert saved.status_code == 302, saved.content[-3000:]
    assert list(person.user.groups.values_list("name", flat=True)) == [roles.REVIEWER]
    event = AuditEvent.objects.get(action="accounts.roles_change")
    assert event.data == {"username": "ann", "added": ["reviewer"], "removed": ["annotator"]}


def test_admin_deactivation_in_the_form_ends_sessions(client, make_person):
    from django.test import Client

    person = make_person("ann", roles.ANNOTATOR)
    annotator_client = Client()
    sign_in(annotator_client, person)
    sign_in(client, admin_person(make_person))
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    form = change_form(person.user, [Group.objects.get(name=roles.ANNOTATOR).pk])
    del form["is_active"]

    saved = client.post(f"/admin/auth/user/{person.user.pk}/change/", form)

    assert saved.status_code == 302
    assert signed_out(annotator_client)
    assert "is_active" in AuditEvent.objects.get(action="accounts.account_change").data["fields"]
    assert AuditEvent.objects.filter(action="accounts.account_deactivate").count() == 1
