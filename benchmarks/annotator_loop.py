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

This module is the entry point; the jobs live in ``benchmarks/loop/`` (``database``,
``seeding``, ``server``, ``load``, ``report``), and the names other benchmarks use are
importable from here.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks.loop.database import (  # noqa: F401  names other benchmarks import from here
    BENCH_KEYS,
    BENCH_REDIS_URL,
    REPO,
    BenchDatabase,
    _inherited_environment,
    bench_environment,
    flush_bench_redis,
    migrate,
)
from benchmarks.loop.load import RunResult, reference_ms, reference_seconds, run_level  # noqa: F401
from benchmarks.loop.report import summarize_profile, table
from benchmarks.loop.seeding import (  # noqa: F401
    bench_usernames,
    quality_defaults,
    reset_queue,
    seed,
    session_for,
    signed_in,
)
from benchmarks.loop.server import (  # noqa: F401
    ServerOptions,
    ServerSampler,
    server_rss_mb,
    start_server,
    stop_server,
)

log = logging.getLogger("benchmarks.annotator_loop")
log.setLevel(logging.INFO)  # Django's LOGGING sets the root to WARNING


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
