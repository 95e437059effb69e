"""Gunicorn config for ``annotator_loop --profile DIR``: where a request's time goes.

Each worker profiles every request with cProfile (one profiler per handling thread, so
it works with gthread) and counts the SQL queries and the time spent in them, per
endpoint. On exit each worker writes ``worker-<pid>.pstats`` and ``worker-<pid>.json``
into ``$BENCH_PROFILE_DIR``; the benchmark merges them. Profiling slows the server
down (about 2×): take its figures as shares of the time, not as speeds.
"""

import cProfile
import json
import os
import re
import threading
import time
from pathlib import Path

_local = threading.local()
_profiles: list[cProfile.Profile] = []
_profiles_lock = threading.Lock()
_endpoints: dict[str, dict[str, float]] = {}
_ID = re.compile(r"/\d+(?=/|$)")


def _endpoint(method: str, path: str) -> str:
    return f"{method} {_ID.sub('/{id}', path)}"


class _QueryTimer:
    def __init__(self) -> None:
        self.queries = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries += 1
            self.seconds += time.perf_counter() - started


def pre_request(worker, req):
    from django.db import connection

    profile = getattr(_local, "profile", None)
    if profile is None:
        profile = _local.profile = cProfile.Profile()
        with _profiles_lock:
            _profiles.append(profile)
    _local.timer = _QueryTimer()
    connection.execute_wrappers.append(_local.timer)
    _local.started = time.perf_counter()
    profile.enable()


def post_request(worker, req, environ, resp):
    from django.db import connection

    _local.profile.disable()
    elapsed = time.perf_counter() - _local.started
    timer = _local.timer
    if timer in connection.execute_wrappers:
        connection.execute_wrappers.remove(timer)
    with _profiles_lock:
        row = _endpoints.setdefault(
            _endpoint(req.method, req.path), {"requests": 0, "queries": 0, "db_s": 0.0, "s": 0.0}
        )
        row["requests"] += 1
        row["queries"] += timer.queries
        row["db_s"] += timer.seconds
        row["s"] += elapsed


def worker_exit(server, worker):
    import pstats

    folder = Path(os.environ["BENCH_PROFILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    with _profiles_lock:
        profiles = [p for p in _profiles if p.getstats()]
        if profiles:
            stats = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                stats.add(profile)
            stats.dump_stats(folder / f"worker-{os.getpid()}.pstats")
        (folder / f"worker-{os.getpid()}.json").write_text(json.dumps(_endpoints))
