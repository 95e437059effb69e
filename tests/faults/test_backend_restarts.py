"""Redis and PostgreSQL restarted under load: private instances on free ports (never the
suite's own), the app on them, annotators leasing and submitting throughout. The loop
resumes after each restart and every acknowledged label is stored once; sessions survive
Redis's restart (they are written through to the database).

Skipped where ``redis-server`` or PostgreSQL's server binaries are not installed.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.faults.annotator_loop import annotate, stored_client_keys
from tests.live_server import EmbeddedServer, free_port

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), "")
REDIS = shutil.which("redis-server")
TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    not (REDIS and PG_BIN and Path(PG_BIN, "pg_ctl").exists()),
    reason="redis-server or PostgreSQL's server binaries are not installed",
)


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the postgres account then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT)  # noqa: S603


class PrivatePostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dt-faults-pg-"))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.data = self.root / "data"
        _run(
            _as_postgres(
                [f"{PG_BIN}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            )
        )

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(_as_postgres([f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-o", options, "-w", *args]))

    def start(self) -> None:
        self._ctl("-l", str(self.root / "log"), "start")

    def restart(self) -> None:
        self._ctl("-m", "fast", "-l", str(self.root / "log"), "restart")

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 — the installed redis-server
            [
                REDIS,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=TIMEOUT)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="module")
def backends():
    postgres, redis = PrivatePostgres(), PrivateRedis()
    postgres.start()
    redis.start()
    try:
        yield postgres, redis
    finally:
        redis.stop()
        postgres.stop()


@pytest.fixture(scope="module")
def server(backends, tmp_path_factory):
    postgres, redis = backends
    server = EmbeddedServer(tmp_path_factory.mktemp("restarts"))
    server.env.update(DATABASE_URL=postgres.url, REDIS_URL=redis.url)
    try:
        server.start(timeout=180)
        yield server
    finally:
        server.stop()


def _wait_for_more(server, acked: list, more: int, what: str) -> float:
    """Seconds until ``more`` labels beyond those acknowledged now are acknowledged."""
    started, target = time.monotonic(), len(acked) + more
    server.wait_for(lambda: len(acked) >= target, timeout=TIMEOUT, what=what)
    return time.monotonic() - started


def test_the_loop_resumes_after_redis_and_postgres_restart(server, backends):
    postgres, redis = backends
    server.django(
        "from annotations.services import service_token_create\n"
        "from tests.factories import make_ready_donation\n"
        "token, _ = service_token_create(name='seed')\n"
        "for _ in range(4):\n"
        "    make_ready_donation(source=token, confidences=[0.5] * 25)\n"
    )
    names = ["ann1", "ann2"]
    for name in names:
        server.create_person(name, roles=["annotator"])
    clients = [server.session(name) for name in names]
    acked: list[str] = []
    errors: list[int] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=annotate, args=(server, c, acked, stop, errors), daemon=True)
        for c in clients
    ]
    for thread in threads:
        thread.start()
    _wait_for_more(server, acked, 10, "labels before the restarts")

    # When Redis (cache, broker, session cache) restarts empty
    redis.stop()
    time.sleep(1)
    redis.start()
    after_redis = _wait_for_more(server, acked, 10, "labels after Redis's restart")

    # ... and PostgreSQL restarts under the same load
    postgres.restart()
    after_postgres = _wait_for_more(server, acked, 10, "labels after PostgreSQL's restart")

    stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)

    # Then every acknowledged label is stored, once; the sessions held throughout
    stored = stored_client_keys(server)
    assert sorted(set(acked) - set(stored)) == []
    assert len(stored) == len(set(stored)), "a label was stored twice"
    whoami = clients[0].post(server.url("/api/v1/tasks/next/"), timeout=10)
    assert whoami.status_code in (200, 204), whoami.status_code  # still signed in
    print(
        f"restarts: {len(acked)} labels acknowledged, all stored once; 10 more labels "
        f"{after_redis:.1f} s after Redis's restart, {after_postgres:.1f} s after "
        f"PostgreSQL's; server errors answered meanwhile: {len(errors)}"
    )
