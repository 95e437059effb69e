"""The cookies the sign-in page sets, by name, with secure cookies on (the default) and
off (DJANGO_DEBUG=1 or DJANGO_SECURE_COOKIES=0, as `make run`): what the README must name.
Off, they are Django's own names."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = """
import django
django.setup()
from django.test import Client
response = Client().get("/accounts/login/", secure=True)
from django.conf import settings
print(" ".join(sorted(response.cookies)))
print(settings.SESSION_COOKIE_NAME)
"""


def _cookie_names(tmp_path, **env) -> tuple[set[str], str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_DEBUG", "DJANGO_SECURE_COOKIES", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="dropturk.settings",
        DJANGO_SECRET_KEY="cookie-names-" + "x" * 40,
        DROPTURK_SECRETS_DIR=str(tmp_path / "secrets"),
        LOG_LEVEL="WARNING",
        **env,
    )
    done = subprocess.run(  # noqa: S603  our own interpreter and arguments
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sent, session = done.stdout.strip().splitlines()[-2:]
    return set(sent.split()), session


@pytest.mark.parametrize(
    ("env", "session", "csrf"),
    [
        ({}, "__Host-dropturk_session", "__Host-dropturk_csrf"),
        ({"DJANGO_SECURE_COOKIES": "0"}, "sessionid", "csrftoken"),
    ],
)
def test_cookie_names(tmp_path, env, session, csrf):
    sent, session_name = _cookie_names(tmp_path, **env)
    assert sent == {csrf}  # what the sign-in page sets
    assert session_name == session  # what signing in sets
