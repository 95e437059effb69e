"""Service tokens: the donation service's credentials (shown once, stored hashed)."""

import hashlib
import secrets

from django.db import transaction

import audit
from accounts.models import ServiceToken

TOKEN_PREFIX = "dt_"  # noqa: S105  a public prefix that marks our tokens, not a secret


def hash_token(raw: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no stretching needed).
    return hashlib.sha256(raw.encode()).hexdigest()


def service_token_create(*, name: str) -> tuple[ServiceToken, str]:
    """Returns the token row and the raw token, which is shown once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ServiceToken.objects.create(name=name, prefix=raw[:10], token_hash=hash_token(raw))
        # The action keeps the name it was registered under when tokens were annotations'.
        audit.record(
            actor=None, action="annotations.service_token_create", target=token, data={"name": name}
        )
    return token, raw
