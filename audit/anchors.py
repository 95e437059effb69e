"""Chain heads copied out of the database, so that a chain rewritten from scratch is caught.

Every few minutes (Celery beat) the head of the sealed chain is written as a small JSON
object to the ``audit`` storage: a folder in the embedded default, an S3 bucket in
production, where ``AUDIT_OBJECT_LOCK_DAYS`` puts each anchor under S3 Object Lock
(compliance mode) so that not even the bucket's owner can change or delete it.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from audit.chain import chain_head

FOLDER = "anchors"


def _storage():
    return storages["audit"]


def anchor_name(seq: int) -> str:
    return f"{FOLDER}/{seq:015d}.json"


def write_anchor() -> tuple[int, str] | None:
    """Copies the current chain head out; None when nothing is sealed or it is copied already."""
    seq, chain_hash = chain_head()
    if seq == 0:
        return None
    name = anchor_name(seq)
    storage = _storage()
    if storage.exists(name):
        return None
    body = {"seq": seq, "chain_hash": chain_hash, "written_at": timezone.now().isoformat()}
    storage.save(name, ContentFile(json.dumps(body).encode()))
    return seq, chain_hash


def read_anchors() -> list[tuple[int, str]]:
    """Every anchor in storage, as (seq, chain hash), oldest first."""
    storage = _storage()
    try:
        _, files = storage.listdir(FOLDER)
    except FileNotFoundError:
        return []
    anchors = []
    for file_name in sorted(files):
        if not file_name.endswith(".json"):
            continue
        with storage.open(f"{FOLDER}/{file_name}", "rb") as handle:
            body = json.loads(handle.read())
        anchors.append((int(body["seq"]), str(body["chain_hash"])))
    return anchors


def object_lock_parameters() -> dict:
    """S3 put parameters that lock an anchor for ``AUDIT_OBJECT_LOCK_DAYS`` (0: no lock)."""
    days = settings.AUDIT_OBJECT_LOCK_DAYS
    if not days:
        return {}
    return {
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockRetainUntilDate": timezone.now() + timedelta(days=days),
    }
