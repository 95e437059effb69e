"""Filling the bench database: encrypted crop blobs, crops and tasks by COPY, signed-in
annotators, and the queue reset between runs."""

import io
import json
import logging
import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from benchmarks.loop.database import BenchDatabase

log = logging.getLogger("benchmarks.annotator_loop")


BLOBS_PER_DONATION = 50
CROPS_PER_DONATION = 5_000
WORDS = ["total", "cash", "change", "receipt", "invoice", "date", "amount", "tax", "item", "qty"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GOLD_EVERY = 500  # one crop in 500 is a gold item
TYPO_RATE = 0.05  # submitted texts that differ from the prefill (disagreements)


@dataclass(frozen=True)
class Annotator:
    username: str
    session_key: str


def session_for(user) -> str:
    """A signed-in session for ``user``, stored the way ``django.contrib.auth.login`` does,
    marked as after password + TOTP (``accounts.sessions.fill_signed_in_session``) so the
    mandatory-MFA and session-timeout middlewares let it through.
    """
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.sessions import fill_signed_in_session

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "accounts.backends.CachedModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    fill_signed_in_session(store, user=user)
    store.create()
    return store.session_key


def _png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _seed_blobs(*, donations: int) -> list[tuple[str, int, int, int]]:
    """Donations made through the real service, each with a pool of real crop blobs.

    Returns (donation id, blob number, width, height) per blob. Several crop rows of one
    donation share a blob: its associated data binds it to the donation and the name.
    """
    from annotations import blobs
    from annotations.images import normalize_image
    from annotations.models import Donation, DonationStatus
    from annotations.services import donation_create, service_token_create
    from ocr.synthetic import render_word

    words = [
        render_word(WORDS[n % len(WORDS)], seed=n, height=28 + n % 12)
        for n in range(BLOBS_PER_DONATION)
    ]
    pngs = [(_png(word), word.width, word.height) for word in words]
    document = normalize_image(_png(render_word("donation", seed=0, height=64)))
    token, _ = service_token_create(name=f"bench-{uuid.uuid4().hex[:8]}")
    pool = []
    for _ in range(donations):
        donation = donation_create(source=token, kind="receipt", image=document)
        data_key = blobs.data_key_for(donation)
        for number, (png, width, height) in enumerate(pngs):
            name = blobs.crop_name(donation.pk, number)
            blobs.blob_put(donation=donation, name=name, plaintext=png, data_key=data_key)
            pool.append((str(donation.pk), number, width, height))
    Donation.objects.update(status=DonationStatus.READY)
    return pool


def _crop_rows(*, crops: int, pool: list[tuple[str, int, int, int]], donations: int):
    """Tab-separated rows for COPY into annotations_wordcrop, in chunks."""
    from annotations import blobs

    rng = random.Random(42)
    per_donation = math.ceil(crops / donations)
    now = datetime.now().astimezone().isoformat()
    out = io.StringIO()
    for n in range(crops):
        donation_number, index = divmod(n, per_donation)
        donation_id, blob, width, height = pool[
            donation_number * BLOBS_PER_DONATION + index % BLOBS_PER_DONATION
        ]
        word = WORDS[blob % len(WORDS)]
        confidence = round(rng.random(), 4)
        chars = json.dumps([round(min(1.0, confidence + rng.random() / 4), 3) for _ in word])
        out.write(
            f"{donation_id}\t{index}\t{index % 40 * 60}\t{index // 40 * 40}\t{width}\t{height}\t"
            f"{blobs.crop_name(donation_id, blob)}\t{word}\t{confidence}\t{chars}\t"
            f"bench\t1\t{now}\t{now}\taccepted\t1\tbench\n"
        )
        if out.tell() > 8_000_000:
            yield out
            out = io.StringIO()
    yield out


def bench_usernames(count: int) -> list[str]:
    """The bench's annotators, as `seed` creates them."""
    return [f"bench-annotator-{number:03d}" for number in range(count)]


def signed_in(usernames: list[str]) -> list[Annotator]:
    """A new signed-in session for each of these (existing) bench users."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(usernames, field_name="username")
    return [Annotator(username=name, session_key=session_for(users[name])) for name in usernames]


def seed(*, database: BenchDatabase, crops: int, annotators: int) -> list[Annotator]:
    """Fills the (migrated) bench database; assumes Django is set up against it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connections

    from annotations import roles

    donations = max(1, math.ceil(crops / CROPS_PER_DONATION))
    started = time.perf_counter()
    pool = _seed_blobs(donations=donations)
    log.info(
        "seed: %d donations with %d encrypted crop blobs each in %.1f s",
        donations,
        BLOBS_PER_DONATION,
        time.perf_counter() - started,
    )

    group = Group.objects.get(name=roles.ANNOTATOR)
    usernames = bench_usernames(annotators)
    for username in usernames:
        user = get_user_model().objects.create(username=username)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.groups.add(group)
    people = signed_in(usernames)
    connections.close_all()

    started = time.perf_counter()
    connection = database.connect()
    connection.autocommit = False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        for chunk in _crop_rows(crops=crops, pool=pool, donations=donations):
            chunk.seek(0)
            cursor.copy_expert(
                "COPY annotations_wordcrop (donation_id, index, x, y, width, height, image_name,"
                " prefill_text, prefill_confidence, prefill_char_confidences, prefill_engine,"
                " prefill_engine_version, prefilled_at, created_at, decision, source_boxes,"
                " detector_version) FROM STDIN",
                chunk,
            )
        copied = time.perf_counter()
        # The tasks derive from the crops: one INSERT … SELECT inside the server moves no
        # rows through Python at all. 1% get a higher priority so that the whole key of
        # task_queue_idx (priority DESC, confidence, id) is exercised. Redundancy as the
        # project's default quality settings ask.
        cursor.execute(
            "INSERT INTO annotations_task (crop_id, status, priority, confidence, created_at,"  # noqa: S608  our own SQL; values are parameters
            " lease_blind, labels_needed, labels_count)"
            " SELECT id, 'open', CASE WHEN id %% 100 = 0 THEN 1 ELSE 0 END,"
            " COALESCE(prefill_confidence, 0), created_at, false,"
            f" {_labels_needed_sql(crop_id='id', confidence='COALESCE(prefill_confidence, 0)')},"
            " 0 FROM annotations_wordcrop ORDER BY id",
            quality_defaults(),
        )
        # Gold items (imported answers) among them, served at the default gold rate.
        cursor.execute(
            "UPDATE annotations_task SET status = 'gold' WHERE crop_id %% %(every)s = 7",
            {"every": GOLD_EVERY},
        )
        cursor.execute(
            "INSERT INTO quality_golditem (crop_id, text, rotated, non_english, unreadable,"
            " source, created_at) SELECT c.id, c.prefill_text, false, false, false,"
            " 'import', c.created_at FROM annotations_wordcrop c"
            " JOIN annotations_task t ON t.crop_id = c.id AND t.status = 'gold'"
        )
    connection.commit()
    connection.autocommit = True
    tasks_done = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    log.info(
        "seed: %d crops copied in %.1f s, tasks in %.1f s, VACUUM ANALYZE in %.1f s",
        crops,
        copied - started,
        tasks_done - copied,
        time.perf_counter() - tasks_done,
    )
    return people


def _labels_needed_sql(*, crop_id: str, confidence: str) -> str:
    """quality.services.labels_needed_for in SQL, with ``quality_defaults()`` parameters:
    k_low below the low band, k_high above, at least two for an audit sample (chosen by
    a multiplicative hash of the crop id rather than SHA-256: the same share)."""
    return (
        f"CASE WHEN {confidence} < %(low_band)s THEN %(k_low)s"
        f" WHEN ({crop_id} * 2654435761) %% 1000000 < %(audit)s * 1000000"
        " THEN GREATEST(%(k_high)s, 2) ELSE %(k_high)s END"
    )


def quality_defaults() -> dict[str, float]:
    """The project's default quality settings (an unsaved row), as the seed uses them."""
    from quality.models import QualitySettings

    defaults = QualitySettings()
    return {
        "low_band": defaults.low_band_below,
        "k_low": defaults.k_low,
        "k_high": defaults.k_high,
        "audit": defaults.audit_sample_rate,
    }


def reset_queue(*, database: BenchDatabase, crops: int, reopen_below: float = 0.5) -> None:
    """Between runs: every lease returns; when the queue ran low, every labeled task
    reopens with its labels, consensus and skips gone (the lease passes over tasks a
    person already labeled, so reopening without them would leave the queue blocked)."""
    connection = database.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE annotations_task SET leased_to_id = NULL, lease_expires_at = NULL"
                " WHERE leased_to_id IS NOT NULL"
            )
            cursor.execute("SELECT count(*) FROM annotations_task WHERE status = 'open'")
            if cursor.fetchone()[0] < (crops - crops // GOLD_EVERY) * reopen_below:
                cursor.execute(
                    "TRUNCATE quality_cropconsensus, annotations_skip, annotations_label"
                )
                cursor.execute(
                    "UPDATE annotations_task SET labels_count = 0, labels_needed ="  # noqa: S608  our own SQL
                    f" {_labels_needed_sql(crop_id='crop_id', confidence='confidence')},"
                    " status = CASE WHEN status = 'gold' THEN 'gold' ELSE 'open' END"
                    " WHERE status IN ('done', 'review') OR labels_count <> 0",
                    quality_defaults(),
                )
                log.info("reset: %d labeled tasks reopened", cursor.rowcount)
            cursor.execute("VACUUM ANALYZE annotations_task")
    finally:
        connection.close()
