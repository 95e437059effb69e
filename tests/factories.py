"""factory_boy factories; ``build()`` where no database is needed."""

import base64
import hashlib
import hmac
import io
import struct
import time

import factory
from django.contrib.auth import get_user_model
from django.test import Client

from accounts import sessions as account_sessions
from annotations.images import normalize_image
from annotations.models import DocumentKind
from annotations.services import donation_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


# Django's own force_login: a session that signed in with no second factor.
sign_in_password_only = Client.force_login


def sign_in_with_mfa(client: Client, user, backend: str | None = None) -> None:
    """A session as after password + TOTP through allauth (what the MFA gate lets through).

    ``tests/conftest.py`` makes every ``client.force_login`` do this.
    """
    sign_in_password_only(client, user, backend)
    session = client.session
    account_sessions.fill_signed_in_session(session, user=user)
    session.save()


def totp_code(secret: str, *, at: float | None = None, period: int = 30) -> str:
    """The RFC 6238 code an authenticator app shows for ``secret`` (written out here, so
    the tests do not check allauth against itself)."""
    counter = int((time.time() if at is None else at) // period)
    digest = hmac.new(base64.b32decode(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def png_bytes(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def synthetic_document_png(*, kind: str = "receipt", seed: int = 0) -> bytes:
    from ocr.synthetic import render_document

    return png_bytes(render_document(kind=kind, seed=seed).image)


def make_donation(
    *, source, kind: str = DocumentKind.RECEIPT, seed: int = 0, png: bytes | None = None
):
    """A donation stored the way the API stores one (encrypted), without HTTP."""
    data = png if png is not None else synthetic_document_png(kind=kind, seed=seed)
    return donation_create(source=source, kind=kind, image=normalize_image(data))


def word_png(text: str = "word") -> bytes:
    from ocr.synthetic import render_word

    return png_bytes(render_word(text))


def make_ready_donation(*, source, confidences: list[float], engine: str = "test-prefill"):
    """A donation cut into len(confidences) crops with prefills, through the real services.

    Stands in for the OCR pipeline where a test is about what comes after it.
    """
    from annotations.services import (
        CropInput,
        Prefill,
        donation_finish_prefill,
        donation_start_processing,
        donation_store_crops,
    )

    donation = make_donation(source=source, png=word_png("page"))
    donation = donation_start_processing(donation_id=donation.pk)
    donation_store_crops(
        donation=donation,
        crops=[
            CropInput(x=10 * i, y=0, width=40, height=20, png=word_png(f"w{i}"))
            for i in range(len(confidences))
        ],
    )
    crops = list(donation.crops.order_by("index"))
    donation_finish_prefill(
        donation_id=donation.pk,
        prefills=[
            Prefill(
                crop_id=crop.pk,
                text=f"w{crop.index}",
                confidence=conf,
                char_confidences=(conf, conf),
            )
            for crop, conf in zip(crops, confidences, strict=True)
        ],
        engine=engine,
        engine_version="1",
    )
    donation.refresh_from_db()
    return donation


# Bulk rows for query-plan tests: thousands of crops, tasks and labels in three statements.
BULK_FIRST_INDEX = 100  # crops added by bulk_crops_with_tasks have index >= this


def bulk_crops_with_tasks(cursor, *, beside_crop_id: int, count: int, status: str) -> None:
    """``count`` more crops of ``beside_crop_id``'s donation, each with a task in ``status``
    (open: unlabeled; otherwise labeled once)."""
    cursor.execute(
        "INSERT INTO annotations_wordcrop (donation_id, index, x, y, width, height,"
        " image_name, prefill_text, prefill_char_confidences, prefill_engine,"
        " prefill_engine_version, created_at, decision, source_boxes, detector_version)"
        " SELECT donation_id, %s + n, 0, 0, 1, 1, '', '', '[]', '', '', now(), '', 1, ''"
        " FROM annotations_wordcrop, generate_series(1, %s) n"
        " WHERE annotations_wordcrop.id = %s",
        [BULK_FIRST_INDEX - 1, count, beside_crop_id],
    )
    cursor.execute(
        "INSERT INTO annotations_task (crop_id, status, priority, confidence, lease_blind,"
        " labels_needed, labels_count, created_at) SELECT id, %s, 0, 0.5, false, 1, %s,"
        " now() FROM annotations_wordcrop WHERE index >= %s",
        [status, 0 if status == "open" else 1, BULK_FIRST_INDEX],
    )


def bulk_labels(cursor, *, annotator_id: int) -> None:
    """A label by ``annotator_id`` on every task ``bulk_crops_with_tasks`` made."""
    cursor.execute(
        "INSERT INTO annotations_label (task_id, crop_id, annotator_id, text, rotated,"
        " non_english, unreadable, kind, created_at) SELECT t.id, t.crop_id, %s, 'w', false,"
        " false, false, 'annotation', now() FROM annotations_task t"
        " JOIN annotations_wordcrop c ON c.id = t.crop_id WHERE c.index >= %s",
        [annotator_id, BULK_FIRST_INDEX],
    )
