"""Benchmark: the CPU one annotator-loop cycle costs the app, in-process, whatever the
machine's speed that minute.

The load benchmark (``annotator_loop``) measures a server on shared, noisy cores: the same
VM has been seen to run plain Python twice as fast one minute as the next. This one calls
the app's WSGI handler directly (lease → image → submit, as the browser does, through every
middleware, against PostgreSQL and Redis), and every ten cycles times a fixed piece of
plain Python (``annotator_loop.reference_seconds``, shorter). CPU per cycle divided by
that reference ("units") compares two versions of the code on the same machine, even an
hour apart; run each version several times, alternating.

    .venv/bin/python -m benchmarks.request_cost --cycles 400
    .venv/bin/python -m benchmarks.request_cost --reuse-db --cycles 400   # again, same data

Only this process's CPU is counted (not PostgreSQL's or Redis's); the last line is JSON.
"""

import argparse
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.annotator_loop import (
    BENCH_KEYS,
    BenchDatabase,
    bench_environment,
    bench_usernames,
    flush_bench_redis,
    migrate,
    reference_seconds,
    reset_queue,
    seed,
    signed_in,
)

log = logging.getLogger(__name__)
CSRF = "c" * 32  # Django accepts a 32-character token chosen by the client
REFERENCE_EVERY = 10
REFERENCE_ITERATIONS = 10_000  # a tenth of the load benchmark's: about 2 ms on a quiet core


class App:
    """The app's WSGI handler, called as gunicorn or uWSGI would, signed in as one person."""

    def __init__(self, session_key: str) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.cookie = f"sessionid={session_key}; csrftoken={CSRF}"

    def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        route, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": route,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_COOKIE": self.cookie,
            "HTTP_X_CSRFTOKEN": CSRF,
            "HTTP_ACCEPT": "application/json",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
        }
        status: list[str] = []
        content = b"".join(self.handler(environ, lambda line, headers, *_: status.append(line)))
        return int(status[0][:3]), content


def cycle(app: App, spent: dict[str, float]) -> None:
    """One label: lease one task, fetch its image, submit the prefill as the text."""
    started = time.process_time()
    status, body = app.call("POST", "/api/v1/tasks/next/?count=1")
    if status != 200:
        raise RuntimeError(f"lease answered {status}: {body[:200]!r}")
    task = json.loads(body)["tasks"][0]
    leased = time.process_time()
    status, body = app.call("GET", task["image_url"])
    if status != 200:
        raise RuntimeError(f"image answered {status}")
    seen = time.process_time()
    label = json.dumps({"text": task["prefill_text"], "client_key": str(uuid.uuid4())})
    status, body = app.call("POST", f"/api/v1/tasks/{task['id']}/submit/", label.encode())
    if status != 201:
        raise RuntimeError(f"submit answered {status}: {body[:200]!r}")
    finished = time.process_time()
    spent["next"] += leased - started
    spent["image"] += seen - leased
    spent["submit"] += finished - seen


def measure(app: App, cycles: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        cycle(app, {"next": 0.0, "image": 0.0, "submit": 0.0})
    spent = {"next": 0.0, "image": 0.0, "submit": 0.0}
    reference = 0.0
    for number in range(cycles):
        if number % REFERENCE_EVERY == 0:
            reference += reference_seconds(REFERENCE_ITERATIONS)
        cycle(app, spent)
    references = -(-cycles // REFERENCE_EVERY)
    reference_ms = reference * 1000 / references
    cpu_ms = {call: seconds * 1000 / cycles for call, seconds in spent.items()}
    total = sum(cpu_ms.values())
    return {
        "cycles": cycles,
        "cpu_ms_per_cycle": round(total, 3),
        **{f"{call}_cpu_ms": round(value, 3) for call, value in cpu_ms.items()},
        "reference_ms": round(reference_ms, 3),
        "units_per_cycle": round(total / reference_ms, 3),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crops", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--admin-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a URL of the server's maintenance database",
    )
    parser.add_argument("--database", default="dropturk_bench_cost")
    parser.add_argument(
        "--reuse-db", action="store_true", help="the data a --keep-db run left (no seeding)"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the data for --reuse-db")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    database = BenchDatabase(admin_url=args.admin_url, name=args.database)
    state_file = Path(tempfile.gettempdir()) / f"{args.database}.cost.json"
    if args.reuse_db:
        state = json.loads(state_file.read_text())
        env = state["env"]
    else:
        env = bench_environment(
            database=database, data_dir=Path(tempfile.mkdtemp(prefix="dropturk-cost-"))
        )
        database.recreate()
        migrate(env)
    os.environ.update(env)
    import django

    django.setup()
    if args.reuse_db:
        # A fresh sign-in: the last run's session may have timed out or been flushed.
        session_key = signed_in(bench_usernames(1))[0].session_key
    else:
        session_key = seed(database=database, crops=args.crops, annotators=1)[0].session_key
    # Every labeled task reopens, so the one person always finds work.
    reset_queue(database=database, crops=args.crops, reopen_below=1.0)
    try:
        figures = measure(App(session_key), args.cycles, args.warmup)
    finally:
        flush_bench_redis()
        if args.keep_db or args.reuse_db:
            kept = {key: env[key] for key in (*BENCH_KEYS, "REDIS_URL")}
            state_file.write_text(json.dumps({"env": kept}))
            state_file.chmod(0o600)  # it holds the bench's master key
        else:
            database.drop()
            shutil.rmtree(env["DROPTURK_DATA_DIR"], ignore_errors=True)
    print(
        f"CPU per cycle {figures['cpu_ms_per_cycle']:.2f} ms (lease {figures['next_cpu_ms']:.2f},"
        f" image {figures['image_cpu_ms']:.2f}, submit {figures['submit_cpu_ms']:.2f});"
        f" reference {figures['reference_ms']:.2f} ms;"
        f" {figures['units_per_cycle']:.2f} units per cycle"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
