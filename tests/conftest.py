"""Fixtures shared by the whole suite.

The suite runs against whatever DATABASE_URL and REDIS_URL say; ``make test`` points
them at the real PostgreSQL and Redis on 127.0.0.1.
"""

import base64
import os
import socket

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from annotations import crypto, roles
from annotations.services import service_token_create
from tests import factories

TEST_MASTER_KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(autouse=True)
def _isolated_storage_and_keys(settings, tmp_path):
    """Each test gets its own blob folder, a known master key and an empty cache."""
    # A process-local cache: the shared Redis database also carries Celery messages,
    # and a role cached by one test must not leak into another.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.STORAGES = {
        **settings.STORAGES,
        "donations": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "blobs", "allow_overwrite": True},
        },
    }
    settings.DROPTURK_MASTER_KEY = TEST_MASTER_KEY
    crypto._master_key.cache_clear()
    # locmem caches of one name share their storage across instances: empty it, so
    # rate-limit counters and used TOTP codes do not carry over between tests.
    cache.clear()
    yield
    crypto._master_key.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_quality_caches():
    """Quality settings, annotator weights and signed-in users are cached per process (the
    hot path reads them): every test starts without what an earlier, rolled-back test
    cached."""
    from accounts import backends
    from quality import selectors

    selectors.forget_quality_settings()
    selectors.forget_annotator_weights()
    backends.forget_all_locally()


@pytest.fixture(autouse=True)
def _force_login_means_mfa(monkeypatch):
    """In tests, ``client.force_login(user)`` is a full sign-in: password and TOTP.

    MFA is mandatory, and most tests are about what comes after signing in. Tests of
    the MFA gate itself use ``factories.sign_in_password_only``.
    """
    monkeypatch.setattr(Client, "force_login", factories.sign_in_with_mfa)


@pytest.fixture
def blob_dir(tmp_path):
    return tmp_path / "blobs"


def stored_files(storage_root) -> list:
    return (
        sorted(p for p in storage_root.rglob("*") if p.is_file()) if storage_root.exists() else []
    )


@pytest.fixture
def service_token(db):
    token, raw = service_token_create(name="donation-app")
    token.raw = raw
    return token


@pytest.fixture
def service_client(client, service_token):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {service_token.raw}"
    return client


def _user_with_roles(*role_names: str, username: str):
    user = factories.UserFactory(username=username)
    user.groups.set(Group.objects.filter(name__in=role_names))
    return user


@pytest.fixture
def annotator(db):
    return _user_with_roles(roles.ANNOTATOR, username="ann")


@pytest.fixture
def other_annotator(db):
    return _user_with_roles(roles.ANNOTATOR, username="ann2")


@pytest.fixture
def reviewer(db):
    return _user_with_roles(roles.REVIEWER, username="rev")


@pytest.fixture
def annotator_client(client, annotator):
    client.force_login(annotator)
    return client


def redis_reachable(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set; `make test` sets it to the local Redis")
    if not redis_reachable(url):
        pytest.fail(f"REDIS_URL={url} is set but Redis does not answer")
    return url


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    """The app as `make run` starts it (SQLite, local blobs, filesystem broker, the web
    server process and a Celery worker) on a free port, one per test module; see
    ``tests/live_server.py`` for its API (``base_url``, ``manage``, ``session``...)."""
    from tests.live_server import EmbeddedServer

    with EmbeddedServer.started(tmp_path_factory.mktemp("embedded")) as server:
        yield server
