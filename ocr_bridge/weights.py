"""Model weights in storage, encrypted, and the crnn engine of the active version.

Weights learned from donated crops are personal-data-derived, so they are kept like the
donations' blobs: AES-256-GCM under the version's own key, that key wrapped by the
master key, the version id and blob name as associated data. They are decrypted into
memory only, checked against their recorded SHA-256, and each process keeps the engines
of the last few versions it read with.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction

import ocr.orientation
import ocr.recognition
from annotations import crypto
from ocr_bridge.engines import CrnnEngine
from ocr_bridge.models import ModelStatus, ModelVersion

if TYPE_CHECKING:
    from ocr.orientation.predictor import OrientationClassifier

logger = logging.getLogger(__name__)

# The shipped files (the predictors' DEFAULT_WEIGHTS), named here without importing the
# predictors: they import torch, which the web processes that list models never need.
DEFAULT_WEIGHTS = Path(ocr.recognition.__file__).parent / "weights" / "crnn.pt"
ORIENTATION_WEIGHTS = Path(ocr.orientation.__file__).parent / "weights" / "orientation.pt"
SHIPPED_NAME = "synth-1"  # the name the shipped weights' prefills have carried since issue 6
ENGINES_KEPT = 2  # the active version and the one before, while a promotion settles


def file_digest(data: bytes | Path) -> str:
    return hashlib.sha256(data if isinstance(data, bytes) else data.read_bytes()).hexdigest()


class WeightsMismatch(Exception):
    """Stored weights whose SHA-256 is not the one recorded: refuse to read with them."""


def _storage():
    return storages["donations"]


def _key_id(version_id: int) -> str:
    return f"model:{version_id}"


def weights_name(version_id: int, *, kind: str = "crnn") -> str:
    return f"models/{version_id}/{kind}.pt.enc"


def _seal_and_save(*, version: ModelVersion, key: bytes, name: str, plaintext: bytes) -> None:
    sealed = crypto.encrypt_blob(key, plaintext, donation_id=_key_id(version.pk), name=name)
    saved_as = _storage().save(name, ContentFile(sealed))
    if saved_as != name:
        raise RuntimeError(f"storage saved {name!r} as {saved_as!r}; overwrite must be allowed")


def _open(version: ModelVersion, name: str) -> bytes:
    if version.wrapped_key is None:
        raise WeightsMismatch(f"model {version.name} has no key")
    key = crypto.unwrap_data_key(version.wrapped_key, donation_id=_key_id(version.pk))
    with _storage().open(name, "rb") as handle:
        sealed = handle.read()
    return crypto.decrypt_blob(key, sealed, donation_id=_key_id(version.pk), name=name)


def weights_store(
    *, version: ModelVersion, weights: bytes, orientation: bytes | None = None
) -> None:
    """Encrypts and stores the version's weights (and its orientation classifier's, when
    it has its own) under one new key; fills the key, names, hashes and size fields.

    Saves nothing on the row: the caller writes these fields with its own change.
    """
    key = crypto.new_data_key()
    version.weights_name = weights_name(version.pk)
    _seal_and_save(version=version, key=key, name=version.weights_name, plaintext=weights)
    if orientation is not None:
        version.orientation_name = weights_name(version.pk, kind="orientation")
        name = version.orientation_name
        _seal_and_save(version=version, key=key, name=name, plaintext=orientation)
        version.orientation_sha256 = file_digest(orientation)
    version.wrapped_key = crypto.wrap_data_key(key, donation_id=_key_id(version.pk))
    version.weights_sha256 = file_digest(weights)
    version.weights_bytes = len(weights)


def weights_read(version: ModelVersion) -> bytes:
    """The version's weights file, in memory, checked against its recorded hash."""
    if version.builtin:
        weights = DEFAULT_WEIGHTS.read_bytes()
    elif not version.weights_name:
        raise WeightsMismatch(f"model {version.name} has no stored weights")
    else:
        weights = _open(version, version.weights_name)
    if file_digest(weights) != version.weights_sha256:
        raise WeightsMismatch(f"the weights of model {version.name} are not the ones registered")
    return weights


def orientation_read(version: ModelVersion) -> bytes | None:
    """The version's own orientation weights, checked; None: it uses the shipped ones."""
    if not version.orientation_name:
        return None
    weights = _open(version, version.orientation_name)
    if file_digest(weights) != version.orientation_sha256:
        raise WeightsMismatch(f"the orientation weights of {version.name} are not the registered")
    return weights


def weights_delete(version: ModelVersion) -> None:
    for name in (version.weights_name, version.orientation_name):
        if name:
            _storage().delete(name)


def shipped_version_ensure() -> ModelVersion:
    """The registry's row for the weights shipped in the package, created on first use.

    The first shipped version becomes active when nothing is; weights rebuilt by
    ``make train`` (another hash) are registered beside it as ready.
    """
    sha256 = file_digest(DEFAULT_WEIGHTS)
    existing = ModelVersion.objects.filter(builtin=True, weights_sha256=sha256).first()
    if existing is not None:
        return existing
    first = not ModelVersion.objects.filter(builtin=True).exists()
    name = SHIPPED_NAME if first else f"synth-{sha256[:8]}"
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                name=name,
                builtin=True,
                status=ModelStatus.READY,
                weights_sha256=sha256,
                weights_bytes=DEFAULT_WEIGHTS.stat().st_size,
                config={"source": "shipped", "training": "synthetic words only (make train)"},
                stage="shipped",
            )
            if not ModelVersion.objects.filter(status=ModelStatus.ACTIVE).exists():
                version.status = ModelStatus.ACTIVE
                version.save(update_fields=["status"])
    except IntegrityError:  # another process registered it (or made one active) first
        return ModelVersion.objects.get(builtin=True, weights_sha256=sha256)
    logger.info("registered the shipped recognizer as %s (%s)", version.name, version.status)
    return version


def active_version() -> ModelVersion:
    """The version the crnn engine reads with; the shipped one until another is promoted."""
    active = ModelVersion.objects.filter(status=ModelStatus.ACTIVE).first()
    if active is not None:
        return active
    shipped = shipped_version_ensure()
    return ModelVersion.objects.filter(status=ModelStatus.ACTIVE).first() or shipped


_engines: OrderedDict[tuple[int, str], CrnnEngine] = OrderedDict()
_engines_lock = threading.Lock()


def engine_for(version: ModelVersion) -> CrnnEngine:
    """This process's engine for the version, built once (decrypting, loading are slow)."""
    key = (version.pk, version.weights_sha256)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = CrnnEngine(weights=weights_read(version), version=version.engine_version)
            _engines[key] = engine
            while len(_engines) > ENGINES_KEPT:
                _engines.popitem(last=False)
            logger.info("crnn engine for model %s ready", version.name)
        else:
            _engines.move_to_end(key)
        return engine


def active_engine() -> CrnnEngine:
    return engine_for(active_version())


_orientations: OrderedDict[str, OrientationClassifier] = OrderedDict()


def orientation_for(version: ModelVersion) -> OrientationClassifier | None:
    """This process's orientation classifier for the version (its own, or the shipped);
    None where neither exists (a checkout without the shipped file): crops go unturned."""
    from ocr.orientation.predictor import OrientationClassifier

    key = version.orientation_sha256 or "shipped"
    with _engines_lock:
        classifier = _orientations.get(key)
        if classifier is None:
            own = orientation_read(version)
            if own is None and not ORIENTATION_WEIGHTS.is_file():
                logger.warning("no orientation weights at %s: crops are read as cut", key)
                return None
            classifier = OrientationClassifier(own if own is not None else ORIENTATION_WEIGHTS)
            _orientations[key] = classifier
            while len(_orientations) > ENGINES_KEPT:
                _orientations.popitem(last=False)
        else:
            _orientations.move_to_end(key)
        return classifier


def forget_engines() -> None:
    """Drops the cached engines (tests; a process that must re-read its weights)."""
    with _engines_lock:
        _engines.clear()
        _orientations.clear()
