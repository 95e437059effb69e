"""The annotator-loop benchmark runs end to end on tiny sizes (PostgreSQL only).

Its figures are not asserted: a timed test would be flaky. What must hold is that the
benchmark works against the current app and that no task is handed out twice.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="the benchmark seeds and serves a PostgreSQL database (set DATABASE_URL)",
)


def test_benchmark_runs_and_never_hands_a_task_out_twice():
    # Given a tiny queue and two annotators, on a database of its own
    command = [
        sys.executable,
        "-m",
        "benchmarks.annotator_loop",
        "--crops=200",
        "--levels=2",
        "--batch",
        "1",
        "5",
        "--seconds=2",
        "--warmup=0.5",
        "--workers=2",
        "--database=dropturk_bench_smoke",
    ]

    # When the benchmark runs
    finished = subprocess.run(  # noqa: S603  our own argv
        command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )

    # Then it prints one JSON line per run, last, with work done and no duplicate holds
    assert finished.returncode == 0, finished.stderr[-3000:]
    runs = [json.loads(line) for line in finished.stdout.strip().splitlines()[-2:]]
    assert [run["annotators"] for run in runs] == [2, 2]
    for run in runs:
        assert run["crops"] == 200
        assert run["cycles_per_s"] > 0
        assert run["duplicates"] == 0
        assert run["errors"] == 0
        assert {"next_p99_ms", "image_p99_ms", "submit_p99_ms", "server_rss_mb"} <= run.keys()


def test_a_reused_bench_database_signs_its_people_in_again():
    # Given a bench database kept from a first run, whose sessions are gone since (timed
    # out, or flushed with the bench's Redis database)
    import psycopg2

    from benchmarks.annotator_loop import flush_bench_redis

    database = "dropturk_bench_smoke_reuse"
    common = [
        sys.executable,
        "-m",
        "benchmarks.annotator_loop",
        "--crops=100",
        "--levels=2",
        "--seconds=1",
        "--warmup=0.3",
        "--server-warmup=0",
        "--workers=1",
        f"--database={database}",
    ]
    kept = subprocess.run(  # noqa: S603  our own argv
        [*common, "--keep-db"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert kept.returncode == 0, kept.stderr[-3000:]
    admin = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg2.connect(f"{admin}/{database}") as connection, connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_session")
    flush_bench_redis()

    # When the benchmark runs again on it (and then drops it)
    reused = subprocess.run(  # noqa: S603  our own argv
        [*common, "--reuse-db"], cwd=REPO, capture_output=True, text=True, timeout=120
    )

    # Then both people work: no 401s from dead sessions
    assert reused.returncode == 0, reused.stderr[-3000:]
    run = json.loads(reused.stdout.strip().splitlines()[-1])
    assert run["errors"] == 0
    assert run["cycles_per_s"] > 0
