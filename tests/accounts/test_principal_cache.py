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


class _CountingCache:
    """The shared cache, counting the reads that reach it."""

    def __init__(self, real) -> None:
        self.real = real
        self.gets = 0

    def get(self, key, default=None):
        self.gets += 1
        return self.real.get(key, default)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_burst_of_requests_asks_the_shared_cache_once(annotator_client, monkeypatch):
    from accounts import backends

    counting = _CountingCache(backends.cache)
    monkeypatch.setattr(backends, "cache", counting)
    for _ in range(3):
        assert annotator_client.get(URL).status_code == 200
    assert counting.gets == 1


def test_each_request_gets_its_own_copy_of_the_user(annotator):
    from accounts.backends import CachedModelBackend

    backend = CachedModelBackend()
    first = backend.get_user(annotator.pk)
    first.first_name = "changed by one request"
    second = backend.get_user(annotator.pk)
    assert second is not first
    assert second.first_name != "changed by one request"


def test_a_change_made_in_another_process_arrives_within_the_local_seconds(
    annotator_client, annotator, monkeypatch
):
    from accounts import backends

    assert annotator_client.get(URL).status_code == 200
    # Another process removes the role: the rows change and that process's signal
    # receivers empty the shared cache, but not this process's copy.
    annotator.groups.through.objects.filter(user=annotator).delete()  # no signal here
    backends.cache.delete(backends._key(annotator.pk))
    roles.forget_roles([annotator.pk])
    assert annotator_client.get(URL).status_code == 200  # the local copy, still fresh
    later = backends.time.monotonic() + backends.PRINCIPAL_LOCAL_SECONDS + 0.01
    monkeypatch.setattr(backends.time, "monotonic", lambda: later)
    assert annotator_client.get(URL).status_code == 403
