"""Secrets for the single machine set-up, generated once into files outside the repo.

Production passes its secrets in the environment; these helpers only run when a
variable is absent, and say so in the log.
"""

import base64
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def _load_or_create(path: Path, make: Callable[[], str], what: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    logger.warning("No %s in the environment: generated one into %s", what, path)
    return value


def load_or_create_secret_key(path: Path) -> str:
    return _load_or_create(path, lambda: secrets.token_urlsafe(50), "DJANGO_SECRET_KEY")


def load_or_create_master_key(path: Path) -> str:
    """A base64 AES-256 key. Losing this file makes every stored donation unreadable."""
    return _load_or_create(
        path, lambda: base64.b64encode(secrets.token_bytes(32)).decode(), "DROPTURK_MASTER_KEY"
    )
