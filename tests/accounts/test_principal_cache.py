"""The signed-in user comes from the cache, and every change to them takes effect at once."""

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from annotations import roles

URL = "/api/v1/labels/mine/"


def _user_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return [
        q["sql"] for q in queries if '"auth_user"' in q["sql"] or "auth_user_groups" in q["sql"]
    ]


def test_a_signed_in_request_reads_the_user_from_the_cache(annotator_client):
    assert annotator_client.get(URL).status_code == 200  # fills the cache
    assert _user_queries(annotator_client) == []


def test_a_removed_role_stops_working_at_once(annotator_client, annotator):
    assert annotator_client.get(URL).status_code == 200
    annotator.groups.remove(Group.objects.get(name=roles.ANNOTATOR))
    assert annotator_client.get(URL).status_code == 403


def test_a_changed_password_ends_the_session(annotator_client, annotator):
    assert annotator_client.get(URL).status_code == 200
    annotator.set_password("another long passphrase 42")
    annotator.save()
    assert annotator_client.get(URL).status_code in (401, 403)


def test_deactivation_takes_effect_at_once(annotator_client, annotator, reviewer):
    assert annotator_client.get(URL).status_code == 200
    account_services.account_deactivate(actor=reviewer, user=annotator)
    assert annotator_client.get(URL).status_code in (401, 403)
