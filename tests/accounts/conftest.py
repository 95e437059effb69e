"""People with a TOTP authenticator, and the real sign-in flow through allauth's forms."""

import base64
import secrets
from dataclasses import dataclass

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth.models import Group

from tests import factories

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """These tests sign in through the form many times; PBKDF2 is what makes that slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Person:
    user: object
    secret: str  # TOTP secret, base32

    @property
    def username(self) -> str:
        return self.user.username

    def code(self, at: float | None = None) -> str:
        return factories.totp_code(self.secret, at=at)


def add_totp(user) -> str:
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret)}
    )
    return secret


@pytest.fixture
def make_person(db):
    def make(username: str, *role_names: str, totp: bool = True) -> Person:
        user = factories.UserFactory(username=username)
        user.groups.set(Group.objects.filter(name__in=role_names))
        return Person(user=user, secret=add_totp(user) if totp else "")

    return make


def sign_in_with_password(client, username: str, password: str = PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": username, "password": password}, **extra)


def sign_in(client, person: Person, *, code: str | None = None):
    """Password, then the TOTP code; returns the response to the code."""
    first = sign_in_with_password(client, person.username)
    assert first.status_code == 302, first.content[:500]
    assert first["Location"] == "/accounts/2fa/authenticate/"
    return client.post("/accounts/2fa/authenticate/", {"code": code or person.code()})
