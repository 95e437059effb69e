"""The embedded default (no REDIS_URL) keeps its promises across processes: uWSGI runs
several workers, and what one worker counts or marks used must hold in the others.

Each worker here is a separate interpreter on one SQLite database; the shared cache is the
database's cache table (settings: DatabaseCache when REDIS_URL is unset; ``migrate``
creates it). With a cache per process, both workers accepted the same TOTP code and each
counted failed sign-ins on its own.
"""

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import factories

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("embedded")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DROPTURK_DATA_DIR=str(data),
        DROPTURK_SECRETS_DIR=str(data / "secrets"),
        DJANGO_SECRET_KEY="embedded-test-" + "x" * 40,
        DROPTURK_MASTER_KEY=base64.b64encode(b"m" * 32).decode(),
        DJANGO_SECURE_COOKIES="0",
        LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=TIMEOUT,
        capture_output=True,
    )
    secret = _worker(env, "setup")["secret"]
    return env, secret


def _start(env, *args) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 — our own module, fixed arguments
        [sys.executable, "-m", "tests.faults.embedded_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err[-2000:]
    line = [item for item in out.splitlines() if item.startswith("RESULT ")][-1]
    return json.loads(line.removeprefix("RESULT "))


def _worker(env, *args) -> dict:
    return _result(_start(env, *args))


def test_the_default_cache_is_shared_without_redis(embedded_env):
    env, _ = embedded_env
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
            " 'dropturk.settings'); django.setup(); from django.conf import settings;"
            " from django.core.cache import cache;"
            " print(settings.CACHES['default']['BACKEND'], cache._max_entries)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    backend, max_entries = probe.stdout.split()[-2:]
    assert backend.endswith("DatabaseCache")
    # Django's default (300) would cull live keys, used TOTP codes among them, by name.
    assert int(max_entries) >= 50_000


def test_a_totp_code_is_accepted_once_across_two_processes(embedded_env):
    env, secret = embedded_env
    # Given one current code, sent by two worker processes at the same moment
    now = time.time()
    period_left = 30 - now % 30
    if period_left < 12:  # leave the code's 30 s window time to be used twice
        time.sleep(period_left + 0.5)
    code = factories.totp_code(secret)
    start_at = time.time() + 6  # both have started Django and posted the password by then

    # When both sign in with it
    workers = [_start(env, "totp", code, str(start_at)) for _ in range(2)]
    results = [_result(worker) for worker in workers]

    # Then exactly one is let in (302 on to the app); the other is told the code is wrong
    assert sorted(result["code"] for result in results) == [200, 302], results
    assert all(result["password"] == 302 for result in results)


def test_failed_sign_ins_are_throttled_across_processes(embedded_env):
    env, _ = embedded_env
    # Given 8 failed sign-ins from one address in one process
    assert _worker(env, "wrong-passwords", "8", "first")["limited"] == 0

    # When another process sees 6 more within the minute
    second = _worker(env, "wrong-passwords", "6", "second")

    # Then it counts them with the first's (10 a minute): the last ones are refused
    assert second["limited"] >= 3, second


def test_wrong_totp_codes_are_throttled_across_processes(embedded_env):
    env, _ = embedded_env
    # Given 6 wrong codes for one account in one process
    first = _worker(env, "wrong-codes", "6")
    assert first == {"password": 302, "limited": 0}, first

    # When another process sends 6 more
    second = _worker(env, "wrong-codes", "6")

    # Then the account's limit (10) counts both: the last ones are refused
    assert second["password"] == 302, second
    assert second["limited"] >= 2, second
