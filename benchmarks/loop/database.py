"""The bench's own PostgreSQL database, Redis database and environment, shared by every
benchmark that seeds data (the annotator loop, the request cost, exports, audit, pipeline)."""

import base64
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

REPO = Path(__file__).resolve().parents[2]


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
