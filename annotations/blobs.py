"""Encrypted image blobs of a donation, through Django's storage API.

The storage behind it is ``STORAGES["donations"]``: S3 (django-storages) in
production, a local folder otherwise. Either way it only ever sees ciphertext;
plaintext exists in memory only.
"""

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from annotations import crypto
from annotations.models import Donation


class KeyDestroyed(Exception):
    """The donation's data key is gone (withdrawn): its images can no longer be read."""


# A blob that fails its authentication tag, or is gone from storage: a damaged donation
# or crop, not an outage (a storage outage raises something else, and is retried).
DAMAGED_BLOB_ERRORS = (crypto.DecryptionError, FileNotFoundError)


def _storage():
    return storages["donations"]


def document_name(donation_id: object, image_format: str) -> str:
    return f"donations/{donation_id}/document.{image_format}.enc"


def crop_name(donation_id: object, index: int) -> str:
    return f"donations/{donation_id}/crops/{index:05d}.png.enc"


def data_key_for(donation: Donation) -> bytes:
    if donation.wrapped_key is None:
        raise KeyDestroyed(f"donation {donation.pk} has no data key")
    return crypto.unwrap_data_key(donation.wrapped_key, donation_id=str(donation.pk))


def blob_put(
    *, donation: Donation, name: str, plaintext: bytes, data_key: bytes | None = None
) -> None:
    key = data_key if data_key is not None else data_key_for(donation)
    sealed = crypto.encrypt_blob(key, plaintext, donation_id=str(donation.pk), name=name)
    saved_as = _storage().save(name, ContentFile(sealed))
    if saved_as != name:  # a storage that renames would orphan the row's reference
        raise RuntimeError(f"storage saved {name!r} as {saved_as!r}; overwrite must be allowed")


def blob_get(*, donation: Donation, name: str, data_key: bytes | None = None) -> bytes:
    key = data_key if data_key is not None else data_key_for(donation)
    with _storage().open(name, "rb") as handle:
        sealed = handle.read()
    return crypto.decrypt_blob(key, sealed, donation_id=str(donation.pk), name=name)


def blob_delete(*, name: str) -> None:
    _storage().delete(name)
