"""Many writers and sealers at once, in threads and in other processes: still one chain."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections

import audit
from audit import chain
from audit.models import AuditEvent

REPO = Path(__file__).resolve().parents[2]
THREADS = 6
EVENTS_PER_WRITER = 40

_WRITER = """
import django, sys
django.setup()
import audit
from audit import chain
for i in range(int(sys.argv[1])):
    audit.record(actor=None, action="ocr_bridge.document_read", target_id=f"p{i}")
    if i % 7 == 0:
        chain.seal()
chain.seal()
"""


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
        return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
    return f"sqlite:///{settings['NAME']}"


def _write_and_seal(errors: list, barrier: threading.Barrier) -> None:
    try:
        barrier.wait()
        for i in range(EVENTS_PER_WRITER):
            audit.record(actor=None, action="ocr_bridge.document_read", target_id=f"t{i}")
            if i % 5 == 0:
                chain.seal()
        chain.seal()
    except Exception as error:  # reported by the test below
        errors.append(error)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sealers_never_fork_the_chain():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("other processes cannot open an in-memory SQLite database")
    env = {**os.environ, "DATABASE_URL": _database_url()}
    processes = [
        subprocess.Popen(  # noqa: S603  our own interpreter and script
            [sys.executable, "-c", _WRITER, str(EVENTS_PER_WRITER)], cwd=REPO, env=env
        )
        for _ in range(2)
    ]
    errors: list[Exception] = []
    barrier = threading.Barrier(THREADS)
    threads = [
        threading.Thread(target=_write_and_seal, args=(errors, barrier)) for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    assert errors == []

    chain.seal()
    total = (THREADS + 2) * EVENTS_PER_WRITER
    assert AuditEvent.objects.count() == total
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, total + 1))
    report = chain.verify()
    assert report.ok, report.problems
    assert report.checked == total
