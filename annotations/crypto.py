"""Envelope encryption of donated images (AES-256-GCM, from ``cryptography``).

Each donation has its own random data key. The data key is stored wrapped by the
master key; destroying the wrapped key makes every blob of that donation unreadable
(crypto-shredding), wherever copies of the ciphertext live.

Blob layout: ``b"DT1" | nonce (12 bytes) | ciphertext+tag``. The associated data
binds a blob to its donation and its name, so blobs cannot be swapped between
donations or positions without failing authentication.
"""

import base64
import hashlib
import os
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

BLOB_MAGIC = b"DT1"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class DecryptionError(Exception):
    """Ciphertext that does not open with the key given: wrong key, edited or swapped."""


@cache
def _master_key() -> bytes:
    encoded = settings.DROPTURK_MASTER_KEY
    if not encoded:
        from dbkit.local_secrets import load_or_create_master_key

        encoded = load_or_create_master_key(settings.DROPTURK_MASTER_KEY_FILE)
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("DROPTURK_MASTER_KEY is not valid base64") from exc
    if len(key) != _KEY_BYTES:
        raise ImproperlyConfigured(
            f"DROPTURK_MASTER_KEY must decode to {_KEY_BYTES} bytes, got {len(key)}"
        )
    return key


def master_key_id() -> str:
    """A short fingerprint of the master key, stored beside each wrapped key for rotation."""
    return hashlib.sha256(b"dropturk-master-key-id" + _master_key()).hexdigest()[:16]


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return BLOB_MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if not sealed.startswith(BLOB_MAGIC) or len(sealed) < len(BLOB_MAGIC) + _NONCE_BYTES + 16:
        raise DecryptionError("not a DropTurk encrypted blob")
    nonce = sealed[len(BLOB_MAGIC) : len(BLOB_MAGIC) + _NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[len(BLOB_MAGIC) + _NONCE_BYTES :], aad)
    except InvalidTag as exc:
        raise DecryptionError("authentication failed: wrong key or altered blob") from exc


def wrap_data_key(data_key: bytes, *, donation_id: str) -> bytes:
    return _seal(_master_key(), data_key, f"data-key:{donation_id}".encode())


def unwrap_data_key(wrapped: bytes, *, donation_id: str) -> bytes:
    return _open(_master_key(), bytes(wrapped), f"data-key:{donation_id}".encode())


def encrypt_blob(data_key: bytes, plaintext: bytes, *, donation_id: str, name: str) -> bytes:
    return _seal(data_key, plaintext, f"blob:{donation_id}:{name}".encode())


def decrypt_blob(data_key: bytes, sealed: bytes, *, donation_id: str, name: str) -> bytes:
    return _open(data_key, sealed, f"blob:{donation_id}:{name}".encode())
