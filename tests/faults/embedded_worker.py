"""A separate process of the embedded default (no REDIS_URL, SQLite), for the tests in
``test_embedded_shared_cache.py``: each run is its own interpreter with its own memory,
as each uWSGI worker is, so only what the processes share (the database, its cache
table) can carry a used code or a throttle from one to the other.

    python -m tests.faults.embedded_worker setup
    python -m tests.faults.embedded_worker totp CODE START_AT
    python -m tests.faults.embedded_worker wrong-passwords COUNT PREFIX
    python -m tests.faults.embedded_worker wrong-codes COUNT
"""

import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dropturk.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

# Failed sign-ins are what these runs are made of; PBKDF2 is what makes each one slow.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PASSWORD = "correct horse battery staple"


def setup() -> dict:
    import base64
    import secrets

    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import encrypt
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user("ann", "ann@example.org", PASSWORD)
    user.groups.set(Group.objects.filter(name="annotator"))
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret)}
    )
    return {"secret": secret}


def totp(code: str, start_at: float) -> dict:
    client = Client()
    first = client.post("/accounts/login/", {"login": "ann", "password": PASSWORD})
    time.sleep(max(0.0, start_at - time.time()))  # both processes send the code together
    second = client.post("/accounts/2fa/authenticate/", {"code": code})
    return {"password": first.status_code, "code": second.status_code}


def wrong_codes(count: int) -> dict:
    """Signs in with the password, then sends ``count`` wrong TOTP codes."""
    client = Client(REMOTE_ADDR="10.0.0.2")
    first = client.post("/accounts/login/", {"login": "ann", "password": PASSWORD})
    limited = 0
    for _ in range(count):
        response = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
        limited += response.status_code == 429 or b"Too many failed" in response.content
    return {"password": first.status_code, "limited": limited}


def wrong_passwords(count: int, prefix: str) -> dict:
    client = Client(REMOTE_ADDR="10.0.0.3")
    limited = 0
    for i in range(count):
        # A new name each time: axes' per-name lockout never applies, only the throttle
        # per address (ACCOUNT_RATE_LIMITS login_failed: 10 a minute).
        response = client.post(
            "/accounts/login/", {"login": f"{prefix}{i}", "password": "wrong password!"}
        )
        limited += response.status_code == 429 or b"Too many failed" in response.content
    return {"limited": limited}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        result = setup()
    elif command == "totp":
        result = totp(args[0], float(args[1]))
    elif command == "wrong-codes":
        result = wrong_codes(int(args[0]))
    else:
        result = wrong_passwords(int(args[0]), args[1])
    print("RESULT " + json.dumps(result))
