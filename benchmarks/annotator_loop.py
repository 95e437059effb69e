"""Benchmark: the annotator loop (lease → image → submit) under uWSGI on PostgreSQL.

Seeds N word crops with open tasks into a dedicated database, starts the app as deployed
(uWSGI with ``uwsgi.ini``; ``--server gunicorn`` to compare) against it and drives K
simulated annotators with zero think time for a fixed time per level. Prints a table
(cycles/s, p50/p95/p99 of each call, duplicate holds, server RSS, CPU per cycle, the
machine's speed) and, last, one JSON line per run for scripts.

    make bench-quick    # 10,000 crops, 20 s per level
    make bench          # 100,000 crops, 60 s per level, lease 1 and lease 5
    .venv/bin/python -m benchmarks.annotator_loop --crops 1000000 --levels 32

A cycle is one label: its image fetched and its label submitted, plus the lease call
that handed it out (with ``--batch 5`` one lease serves five cycles, as on the
annotator page, which prefetches). A duplicate hold is a task handed to a second
annotator while the first one's lease is still valid and its label not yet sent (a crop
that needs two labels rightly goes to a second annotator once the first label is in); it
must stay 0. The queue is seeded as the default quality settings ask: two labels for low-
confidence crops, one for the rest plus an audit sample, one crop in 500 a gold item; 5%
of the submitted texts differ from the prefill, so some crops are disagreed on.
"""

import argparse
import asyncio
import base64
import io
import json
import logging
import math
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from benchmarks.http_client import Connection

log = logging.getLogger("benchmarks.annotator_loop")
log.setLevel(logging.INFO)  # Django's LOGGING sets the root to WARNING

REPO = Path(__file__).resolve().parents[1]
BLOBS_PER_DONATION = 50
CROPS_PER_DONATION = 5_000
WORDS = ["total", "cash", "change", "receipt", "invoice", "date", "amount", "tax", "item", "qty"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GOLD_EVERY = 500  # one crop in 500 is a gold item
TYPO_RATE = 0.05  # submitted texts that differ from the prefill (disagreements)
CPU_EVERY = 0.25  # seconds between samples of the server's and the database's CPU time
RSS_EVERY = 0.5  # ... and of the server's memory


@dataclass(frozen=True)
class BenchDatabase:
    admin_url: str  # a URL of the server's maintenance database (``postgres``)
    name: str

    @property
    def url(self) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def connect(self, *, database: str | None = None):
        parts = urlsplit(self.admin_url)
        connection = psycopg2.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname=database or self.name,
        )
        connection.autocommit = True
        return connection

    def _maintenance(self, *statements: str) -> None:
        maintenance = urlsplit(self.admin_url).path.lstrip("/") or "postgres"
        connection = self.connect(database=maintenance)
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def recreate(self) -> None:
        self._maintenance(
            f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"'
        )

    def drop(self) -> None:
        self._maintenance(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


BENCH_KEYS = (
    "DATABASE_URL",
    "DROPTURK_DATA_DIR",
    "DROPTURK_SECRETS_DIR",
    "DROPTURK_MASTER_KEY",
    "DJANGO_SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_DEBUG",
    "DJANGO_SECURE_COOKIES",
    "DJANGO_ALLOWED_HOSTS",
    "LOG_LEVEL",
)


# Production runs with Redis (sessions and the role cache live there): so does the bench,
# on a Redis database of its own. The Celery messages donation_create enqueues while
# seeding land there too, consumed by nobody, and are flushed with it at the end.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def _inherited_environment() -> dict[str, str]:
    # No S3: the blobs stay in a temporary folder.
    env = {key: value for key, value in os.environ.items() if key != "S3_BUCKET"}
    env["REDIS_URL"] = BENCH_REDIS_URL
    return env


def migrate(env: dict[str, str]) -> None:
    """Applies every migration to the database ``env`` names, in a child process."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity=0"],
        cwd=REPO,
        env=env,
        check=True,
    )


def flush_bench_redis() -> None:
    import redis

    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()


def bench_environment(*, database: BenchDatabase, data_dir: Path) -> dict[str, str]:
    """The environment shared by migrate, the seeding (this process) and the server."""
    env = _inherited_environment()
    env.update(
        DATABASE_URL=database.url,
        DROPTURK_DATA_DIR=str(data_dir),
        DROPTURK_SECRETS_DIR=str(data_dir / "secrets"),
        DROPTURK_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_SETTINGS_MODULE="dropturk.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    return env


# --- Seeding ----------------------------------------------------------------------------


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


# --- The server -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerOptions:
    server: str = "uwsgi"  # the project's server (uwsgi.ini); or gunicorn, to compare
    workers: int = 4
    threads: int = 2
    worker_class: str = "gthread"  # gunicorn only
    worker_connections: int = 1000  # gunicorn only (its default)
    preload: bool = False
    profile_dir: Path | None = None  # gunicorn only


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _uwsgi_command(port: int, options: ServerOptions) -> list[str]:
    """The server as deployed (``uwsgi.ini``: the HTTP router, keep-alive, per-request
    dispatch to the workers), on a free port, with the run's process and thread counts."""
    command = [
        str(Path(sys.executable).with_name("uwsgi")),
        f"--ini={REPO / 'uwsgi.ini'}",
        f"--http=127.0.0.1:{port}",
        f"--processes={options.workers}",
        f"--threads={options.threads}",
    ]
    if options.preload:
        command.append("--lazy-apps=false")  # import the app once, before forking
    return command


def _gunicorn_command(port: int, options: ServerOptions) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "dropturk.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={options.workers}",
        f"--worker-class={options.worker_class}",
        f"--threads={options.threads}",
        f"--worker-connections={options.worker_connections}",
        "--log-level=warning",
        "--keep-alive=5",
        "--timeout=60",
    ]
    if options.preload:
        command.append("--preload")  # import the app once, before forking: shared pages
    if options.profile_dir is not None:
        command.append(f"--config=python:{__package__}.gunicorn_profile")
    return command


def start_server(*, env: dict[str, str], options: ServerOptions) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    if options.server == "uwsgi":
        if options.profile_dir is not None:
            raise ValueError("--profile works with --server gunicorn only")
        command = _uwsgi_command(port, options)
    else:
        command = _gunicorn_command(port, options)
    server_env = dict(env)
    if options.profile_dir is not None:
        server_env["BENCH_PROFILE_DIR"] = str(options.profile_dir)
    process = subprocess.Popen(command, cwd=REPO, env=server_env)  # noqa: S603  our own argv
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{options.server} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if probe.recv(64).startswith(b"HTTP/1."):  # any answer: Django is loaded
                    return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"{options.server} did not answer /healthz within 60 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # graceful: workers finish (and write their profiles)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_rss_mb(master_pid: int) -> float:
    """VmRSS of the server's master and its children (workers, uWSGI's router), summed."""
    pids = [master_pid, *_children(master_pid)]
    return sum(_rss_kb(pid) for pid in pids) / 1024


def _children(master_pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == master_pid:
                pids.append(int(entry.name))
    return pids


def _database_backends(database: str) -> list[int]:
    """PostgreSQL's backend processes serving ``database`` (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, UnicodeDecodeError):
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                pids.append(int(entry.name))
    return pids


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system CPU clock ticks each live process has used so far."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


class CpuMeter:
    """CPU seconds a changing set of processes used since it started. Sampled, so that a
    process that exits (a database backend whose connection was recycled) keeps the time
    it used up to its last sample, and one that starts counts from zero."""

    def __init__(self, pids: list[int]) -> None:
        self.base = cpu_ticks(pids)
        self.last = dict(self.base)

    def sample(self, pids: list[int]) -> None:
        self.last.update(cpu_ticks(pids))

    def seconds(self) -> float:
        used = sum(ticks - self.base.get(pid, 0) for pid, ticks in self.last.items())
        return used / os.sysconf("SC_CLK_TCK")


# --- The load ---------------------------------------------------------------------------


@dataclass
class Holds:
    """Who holds which task, as the annotators saw it; counts tasks handed out twice."""

    holder: dict[int, tuple[int, float]] = field(default_factory=dict)
    duplicates: int = 0

    def leased(self, task_id: int, annotator: int, expires_at: float) -> None:
        previous = self.holder.get(task_id)
        if previous is not None and previous[0] != annotator and previous[1] > time.time():
            self.duplicates += 1
            log.error("task %d handed to annotators %d and %d", task_id, previous[0], annotator)
        self.holder[task_id] = (annotator, expires_at)

    def released(self, task_id: int) -> None:
        self.holder.pop(task_id, None)


@dataclass
class RunResult:
    annotators: int
    batch: int
    crops: int
    seconds: float
    cycles: int
    latencies: dict[str, list[float]]
    errors: int
    empty: int
    duplicates: int
    server_rss_mb: float
    client_cpu: float
    # CPU time of the server's processes plus the database's backends (and of the backends
    # alone) per cycle: on a machine shared with other work this, not cycles/s, is the
    # figure to compare.
    server_cpu_ms_per_cycle: float = float("nan")
    db_cpu_ms_per_cycle: float = float("nan")
    # How fast this machine ran plain Python just before the run (``reference_ms``): the
    # same VM has been seen 1.5-3x slower from one day (or minute) to the next.
    reference_ms: float = float("nan")

    def percentile_ms(self, call: str, share: float) -> float:
        values = sorted(self.latencies[call])
        if not values:
            return float("nan")
        return values[min(len(values) - 1, math.ceil(share * len(values)) - 1)] * 1000

    def json_line(self) -> str:
        figures = {
            "annotators": self.annotators,
            "crops": self.crops,
            "cycles_per_s": round(self.cycles / self.seconds, 1),
            **{
                f"{call}_p99_ms": round(self.percentile_ms(call, 0.99), 2)
                for call in ("next", "image", "submit")
            },
            "duplicates": self.duplicates,
            "server_rss_mb": round(self.server_rss_mb, 1),
            "batch": self.batch,
            "seconds": round(self.seconds, 1),
            **{
                f"{call}_p50_ms": round(self.percentile_ms(call, 0.5), 2)
                for call in ("next", "image", "submit")
            },
            "errors": self.errors,
            "queue_empty": self.empty,
            "server_cpu_ms_per_cycle": round(self.server_cpu_ms_per_cycle, 2),
            "db_cpu_ms_per_cycle": round(self.db_cpu_ms_per_cycle, 2),
            "reference_ms": round(self.reference_ms, 2),
        }
        return json.dumps(figures)


def reference_seconds(iterations: int = 100_000) -> float:
    """CPU seconds of a fixed piece of plain Python: a yardstick for the machine's speed
    at that moment (``request_cost`` times it, shorter, between its cycles)."""
    started = time.process_time()
    table: dict[int, int] = {}
    for number in range(iterations):
        table[number % 1024] = table.get(number % 1024, 0) + number * 3 // 7
    return time.process_time() - started


def reference_ms(repeats: int = 5) -> float:
    """The yardstick in milliseconds, best of ``repeats``, just before a run: so runs on
    different days compare."""
    return min(reference_seconds() for _ in range(repeats)) * 1000


class Loop:
    """The shared state of one run: its clock, the figures, and the holds."""

    def __init__(self, *, measure_from: float, until: float) -> None:
        self.measure_from = measure_from
        self.until = until
        self.latencies: dict[str, list[float]] = {"next": [], "image": [], "submit": []}
        self.cycles = 0
        self.errors = 0
        self.empty = 0
        self.holds = Holds()

    def record(self, call: str, started: float) -> None:
        if started >= self.measure_from:
            self.latencies[call].append(time.perf_counter() - started)

    def error(self, call: str, status: int, body: bytes) -> None:
        self.errors += 1
        if self.errors <= 5:
            log.warning("%s answered %d: %s", call, status, body[:200])


async def annotate(
    number: int, connection: Connection, loop: Loop, batch: int, *, start_after: float = 0.0
) -> None:
    """One annotator with zero think time: lease, then for each task image and submit.

    ``start_after`` seconds pass first: people arrive one after another over the warm-up,
    not all in one millisecond (32 connections opened at once land on whichever gunicorn
    worker is accepting at that instant, and keep-alive keeps them there).
    """
    submit_headers = "application/json"
    await asyncio.sleep(start_after)
    while time.perf_counter() < loop.until:
        started = time.perf_counter()
        status, body = await connection.request("POST", f"/api/v1/tasks/next/?count={batch}")
        loop.record("next", started)
        if status == 204:
            loop.empty += 1
            await asyncio.sleep(0.05)
            continue
        if status != 200:
            loop.error("next", status, body)
            await asyncio.sleep(0.05)
            continue
        tasks = json.loads(body)["tasks"]
        for task in tasks:
            expires = datetime.fromisoformat(task["lease_expires_at"].replace("Z", "+00:00"))
            loop.holds.leased(task["id"], number, expires.timestamp())
        for task in tasks:
            cycle_started = time.perf_counter()
            if cycle_started >= loop.until:
                break
            started = time.perf_counter()
            status, body = await connection.request("GET", task["image_url"])
            loop.record("image", started)
            if status != 200 or not body.startswith(PNG_SIGNATURE):
                loop.error("image", status, body)
                continue
            text = task["prefill_text"]
            if random.random() < TYPO_RATE:
                text += "x"
            payload = json.dumps({"text": text, "client_key": str(uuid.uuid4())}).encode()
            # From here the server may free the task: with redundancy a second annotator
            # rightly gets it once this label is in, before this client reads the answer.
            loop.holds.released(task["id"])
            started = time.perf_counter()
            status, body = await connection.request(
                "POST", f"/api/v1/tasks/{task['id']}/submit/", payload, submit_headers
            )
            loop.record("submit", started)
            if status != 201:
                loop.error("submit", status, body)
                continue
            if cycle_started >= loop.measure_from:
                loop.cycles += 1


def _sample_server(master_pid: int, database: str, channel) -> None:
    """Says it is ready, is told the run's measured window, then sends the server's peak
    RSS (from then to the window's end) and the CPU seconds of its workers and of the
    database's backends over the window.

    Run in a process of its own: scanning /proc takes milliseconds, and done in the load
    generator's event loop it held back every answer that arrived meanwhile, which then
    counted as server latency (in the p99s).
    """
    channel.send("ready")
    measure_from, until = channel.recv()
    peak = server_rss_mb(master_pid)
    next_rss = time.perf_counter() + RSS_EVERY
    workers = backends = None
    while time.perf_counter() < until:
        time.sleep(min(CPU_EVERY, max(0.0, until - time.perf_counter())))
        now = time.perf_counter()
        if workers is None and now >= measure_from - CPU_EVERY:
            time.sleep(max(0.0, measure_from - now))
            workers = CpuMeter(_children(master_pid))
            backends = CpuMeter(_database_backends(database))
        elif workers is not None:
            workers.sample(_children(master_pid))
            backends.sample(_database_backends(database))
        if now >= next_rss:
            peak, next_rss = max(peak, server_rss_mb(master_pid)), next_rss + RSS_EVERY
    peak = max(peak, server_rss_mb(master_pid))
    if workers is None:  # a window too short to sample
        channel.send((peak, 0.0, 0.0))
    else:
        channel.send((peak, workers.seconds(), backends.seconds()))
    channel.close()


class ServerSampler:
    """``_sample_server`` in a separate process for one run (spawned: this process holds
    Django's database connections, which a forked child must not share). Started before
    the run's clock, so that it is sampling by the time the measured window opens."""

    def __init__(self, *, master_pid: int, database: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._channel, theirs = context.Pipe()
        self._process = context.Process(
            target=_sample_server, args=(master_pid, database, theirs), daemon=True
        )
        self._process.start()
        theirs.close()
        if self._channel.recv() != "ready":
            raise RuntimeError("the server sampler did not start")

    def window(self, *, measure_from: float, until: float) -> None:
        self._channel.send((measure_from, until))

    def result(self) -> tuple[float, tuple[float, float]]:
        """Peak RSS in MB, and (workers', backends') CPU seconds over the measured time."""
        peak, workers, backends = self._channel.recv()
        self._process.join()
        return peak, (workers, backends)


async def _run_level(
    *,
    port: int,
    master_pid: int,
    people: list[Annotator],
    batch: int,
    seconds: float,
    warmup: float,
    database: str,
    keep_alive: bool = True,
) -> tuple[Loop, float, float, tuple[float, float]]:
    sampler = ServerSampler(master_pid=master_pid, database=database)
    start = time.perf_counter()
    loop = Loop(measure_from=start + warmup, until=start + warmup + seconds)
    sampler.window(measure_from=loop.measure_from, until=loop.until)
    connections = []
    for person in people:
        csrf = secrets.token_hex(16)  # Django accepts a 32-character token chosen by us
        connections.append(
            Connection(
                "127.0.0.1",
                port,
                {
                    "Cookie": f"sessionid={person.session_key}; csrftoken={csrf}",
                    "X-CSRFToken": csrf,
                    "Accept": "application/json",
                },
                keep_alive=keep_alive,
            )
        )
    try:
        await asyncio.gather(
            *(
                annotate(number, connection, loop, batch, start_after=warmup * number / len(people))
                for number, connection in enumerate(connections)
            )
        )
    finally:
        for connection in connections:
            await connection.close()
    finished = time.perf_counter()
    rss, cpu = await asyncio.to_thread(sampler.result)
    return loop, finished - loop.measure_from, rss, cpu


def run_level(
    *,
    port: int,
    master_pid: int,
    people: list[Annotator],
    crops: int,
    batch: int,
    seconds: float,
    warmup: float,
    database: str,
    keep_alive: bool = True,
) -> RunResult:
    reference = reference_ms()
    cpu_started = time.process_time()
    loop, elapsed, rss, server_cpu = asyncio.run(
        _run_level(
            port=port,
            master_pid=master_pid,
            people=people,
            batch=batch,
            seconds=seconds,
            warmup=warmup,
            database=database,
            keep_alive=keep_alive,
        )
    )
    return RunResult(
        annotators=len(people),
        batch=batch,
        crops=crops,
        seconds=elapsed,
        cycles=loop.cycles,
        latencies=loop.latencies,
        errors=loop.errors,
        empty=loop.empty,
        duplicates=loop.holds.duplicates,
        server_rss_mb=rss,
        client_cpu=(time.process_time() - cpu_started) / (elapsed + warmup),
        server_cpu_ms_per_cycle=sum(server_cpu) * 1000 / max(1, loop.cycles),
        reference_ms=reference,
        db_cpu_ms_per_cycle=server_cpu[1] * 1000 / max(1, loop.cycles),
    )


# --- Output -----------------------------------------------------------------------------


def table(results: list[RunResult]) -> str:
    head = (
        f"{'annot':>5} {'batch':>5} {'crops':>9} {'cycles/s':>9}"
        f" {'next p50/p95/p99 ms':>21} {'image p50/p95/p99 ms':>21}"
        f" {'submit p50/p95/p99 ms':>22} {'dup':>4} {'err':>4} {'rss MB':>7} {'client cpu':>10}"
        f" {'cpu ms/cycle (db)':>17} {'ref ms':>6}"
    )
    lines = [head, "-" * len(head)]
    for result in results:
        calls = []
        for call, width in (("next", 21), ("image", 21), ("submit", 22)):
            figures = "/".join(
                f"{result.percentile_ms(call, share):.1f}" for share in (0.5, 0.95, 0.99)
            )
            calls.append(f"{figures:>{width}}")
        lines.append(
            f"{result.annotators:>5} {result.batch:>5} {result.crops:>9}"
            f" {result.cycles / result.seconds:>9.1f} {' '.join(calls)}"
            f" {result.duplicates:>4} {result.errors:>4} {result.server_rss_mb:>7.0f}"
            f" {result.client_cpu:>9.0%}"
            f" {result.server_cpu_ms_per_cycle:>9.1f} ({result.db_cpu_ms_per_cycle:.1f})"
            f" {result.reference_ms:>6.1f}"
        )
    return "\n".join(lines)


def summarize_profile(folder: Path, top: int = 40) -> str:
    """Merges the workers' profiles and query counts into ``summary.txt``; returns it."""
    import pstats

    out = io.StringIO()
    endpoints: dict[str, dict[str, float]] = {}
    for part in folder.glob("worker-*.json"):
        for name, row in json.loads(part.read_text()).items():
            total = endpoints.setdefault(name, {"requests": 0, "queries": 0, "db_s": 0.0, "s": 0.0})
            for key, value in row.items():
                total[key] += value
    out.write(f"{'endpoint':<40} {'requests':>8} {'queries/req':>11} {'ms/req':>8} {'db ms':>7}\n")
    for name, row in sorted(endpoints.items(), key=lambda item: -item[1]["requests"]):
        requests = max(1, row["requests"])
        out.write(
            f"{name:<40} {row['requests']:>8.0f} {row['queries'] / requests:>11.1f}"
            f" {row['s'] * 1000 / requests:>8.2f} {row['db_s'] * 1000 / requests:>7.2f}\n"
        )
    parts = sorted(folder.glob("worker-*.pstats"))
    if parts:
        stats = pstats.Stats(str(parts[0]), stream=out)
        for part in parts[1:]:
            stats.add(str(part))
        stats.dump_stats(folder / "merged.pstats")
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
    (folder / "summary.txt").write_text(out.getvalue())
    return out.getvalue()


# --- Entry point ------------------------------------------------------------------------


def _default_admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return urlunsplit(urlsplit(url)._replace(path="/postgres"))
    return "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=100_000)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[1], help="tasks per lease call (1 5: both)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured time before each")
    parser.add_argument(
        "--server-warmup",
        type=float,
        default=3,
        help="seconds of unmeasured load once the server is up (0: none)",
    )
    parser.add_argument("--database", default="dropturk_bench")
    parser.add_argument("--admin-url", default=_default_admin_url())
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database")
    parser.add_argument("--reuse-db", action="store_true", help="skip seeding (after --keep-db)")
    parser.add_argument(
        "--server",
        choices=("uwsgi", "gunicorn"),
        default="uwsgi",
        help="the project's server (uwsgi.ini), or gunicorn to compare (and to --profile)",
    )
    parser.add_argument("--workers", type=int, default=4, help="server processes")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=1000,
        help="gunicorn's cap on one worker's connections (keep-alive ones stay with it)",
    )
    parser.add_argument(
        "--preload", action="store_true", help="import the app once, before forking"
    )
    parser.add_argument(
        "--close-connections",
        action="store_true",
        help="a new connection per request, as a reverse proxy speaks to gunicorn",
    )
    parser.add_argument(
        "--profile", type=Path, help="profile the server into this folder (gunicorn only)"
    )
    return parser.parse_args(argv)


def _setup_django(env: dict[str, str]) -> None:
    """Django in this process, against the bench database (the seed and the queue reset
    read the models)."""
    os.environ.update(env)
    import django

    django.setup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    database = BenchDatabase(admin_url=args.admin_url, name=args.database)
    data_dir = Path(tempfile.mkdtemp(prefix="dropturk-bench-"))
    state_file = None
    if args.reuse_db:
        state_file = Path(tempfile.gettempdir()) / f"{args.database}.json"
        state = json.loads(state_file.read_text())
        env = {**_inherited_environment(), **state["env"]}
        _setup_django(env)
        # Fresh sign-ins: the last run's sessions may have timed out or been flushed with
        # the bench's Redis database (a dead session makes a person answer 401s, not work).
        people = signed_in([person["username"] for person in state["people"]])
        shutil.rmtree(data_dir)
        data_dir = Path(env["DROPTURK_DATA_DIR"])
    else:
        env = bench_environment(database=database, data_dir=data_dir)
        started = time.perf_counter()
        database.recreate()
        migrate(env)
        log.info(
            "database %s created and migrated in %.1f s",
            database.name,
            time.perf_counter() - started,
        )
        _setup_django(env)
        people = seed(database=database, crops=args.crops, annotators=max(args.levels))
    server, port = start_server(
        env=env,
        options=ServerOptions(
            server=args.server,
            workers=args.workers,
            worker_class=args.worker_class,
            threads=args.threads,
            worker_connections=args.worker_connections,
            preload=args.preload,
            profile_dir=args.profile,
        ),
    )
    log.info(
        "%s on port %d: %d processes × %d threads",
        args.server,
        port,
        args.workers,
        args.threads,
    )
    results = []
    try:
        if args.server_warmup > 0:
            # Unmeasured: every worker thread opens its database connection and prepares its
            # statements, as a long-running server has long done. (uWSGI's router spreads
            # even one person's requests over all the threads.)
            reset_queue(database=database, crops=args.crops)
            run_level(
                port=port,
                master_pid=server.pid,
                people=people[:8],
                crops=args.crops,
                batch=1,
                seconds=args.server_warmup,
                warmup=0.5,
                database=database.name,
                keep_alive=not args.close_connections,
            )
        for batch in args.batch:
            for level in args.levels:
                reset_queue(database=database, crops=args.crops)
                result = run_level(
                    port=port,
                    master_pid=server.pid,
                    people=people[:level],
                    crops=args.crops,
                    batch=batch,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    database=database.name,
                    keep_alive=not args.close_connections,
                )
                log.info("run: %s", result.json_line())
                results.append(result)
    finally:
        stop_server(server)
        flush_bench_redis()
        if args.keep_db:
            state_file = Path(tempfile.gettempdir()) / f"{args.database}.json"
            saved = {key: env[key] for key in BENCH_KEYS}
            state_file.write_text(
                json.dumps({"env": saved, "people": [person.__dict__ for person in people]})
            )
            state_file.chmod(0o600)  # it holds the bench's master key
            log.info("kept database %s (reuse with --reuse-db)", database.name)
        else:
            database.drop()
            shutil.rmtree(data_dir, ignore_errors=True)
            if state_file is not None:
                state_file.unlink(missing_ok=True)
    if args.profile is not None:
        print(summarize_profile(args.profile))
    print(
        f"\nAnnotator loop: {args.crops:,} crops, {args.seconds:g} s per run, {args.server} "
        f"{args.workers} processes × {args.threads} threads"
    )
    print(table(results))
    for result in results:
        print(result.json_line())
    return 1 if any(result.duplicates for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
