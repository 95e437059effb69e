"""Benchmark: receipts per second from upload to ready, through the real broker and database.

    make bench-pipeline      # or: .venv/bin/python -m benchmarks.pipeline --pages 40

A scratch PostgreSQL database, Redis as the broker (``BENCH_REDIS_URL``) and a temporary
blob folder; one Celery worker (``--concurrency`` processes, default 2: one per core of
the target machine) consuming the ``ocr`` queue, as `make run`'s worker does. This
process uploads each receipt through the REST API (``POST /api/v1/donations/`` with a
service token, in-process: validation, re-encoding, encryption, storage, enqueue on
commit) one after the other, while the worker reads the pages (``ocr.page.read_page``),
cuts and stores the crops and opens their tasks. Upload and pipeline share the cores.

A few warm-up receipts first load the models in every worker process; then the clock
runs from the first upload to the last donation ready. Prints the figures and ends with
one JSON line: ``{"receipts_per_s", "pages", "crops_per_page", "latency_median_s",
"latency_p95_s", "upload_per_s", "concurrency", "load_before"}``. Real receipts from
the development sample are used when present (read only), synthetic receipts otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.loop.database import BenchDatabase, bench_environment, flush_bench_redis, migrate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sroie-receipts"
WARM_UP = 4  # receipts before the clock starts: every worker process loads its models
POLL_SECONDS = 0.05

log = logging.getLogger("benchmarks.pipeline")
log.setLevel(logging.INFO)


def load_pages(data: Path, count: int) -> tuple[str, list[bytes]]:
    receipts = sorted(data.glob("*.jpg")) if data.is_dir() else []
    if receipts:
        chosen = [receipts[i % len(receipts)] for i in range(count)]
        return "SROIE receipts", [path.read_bytes() for path in chosen]
    from ocr.synthetic import render_document

    pages = []
    for seed in range(count):
        out = io.BytesIO()
        render_document(kind="receipt", seed=seed).image.save(out, format="PNG")
        pages.append(out.getvalue())
    return "synthetic receipts", pages


def start_worker(env: dict[str, str], concurrency: int, log_path: Path) -> subprocess.Popen:
    worker_env = {**env, "OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}
    with log_path.open("w") as log_file:
        return subprocess.Popen(  # noqa: S603  our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dropturk",
                "worker",
                "-Q",
                "ocr,default",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "-O",
                "fair",
                "--prefetch-multiplier",
                "1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "WARNING",
            ],
            cwd=REPO,
            env=worker_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def upload(client, page: bytes) -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/v1/donations/",
        {"image": SimpleUploadedFile("receipt", page), "kind": "receipt"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload refused: {response.status_code} {response.content[:300]!r}")
    return response.json()["id"]


def wait_ready(ids: list[str], *, timeout: float, worker: subprocess.Popen) -> dict[str, float]:
    """When (perf_counter) each donation was first seen ready; fails on a failed one."""
    from annotations.models import Donation, DonationStatus

    seen: dict[str, float] = {}
    deadline = time.perf_counter() + timeout
    while len(seen) < len(ids):
        if time.perf_counter() > deadline or worker.poll() is not None:
            raise RuntimeError(f"{len(ids) - len(seen)} donation(s) not ready in time")
        rows = Donation.objects.filter(pk__in=[i for i in ids if i not in seen]).values_list(
            "pk", "status", "failure_reason"
        )
        now = time.perf_counter()
        for pk, status, reason in rows:
            if status == DonationStatus.READY:
                seen[str(pk)] = now
            elif status == DonationStatus.FAILED:
                raise RuntimeError(f"donation {pk} failed: {reason}")
        time.sleep(POLL_SECONDS)
    return seen


def measure(pages: list[bytes], client, worker, *, timeout: float) -> dict:
    from annotations.models import WordCrop

    warm = [upload(client, page) for page in pages[:WARM_UP]]
    wait_ready(warm, timeout=timeout, worker=worker)
    measured = pages[WARM_UP:]
    started = time.perf_counter()
    sent: dict[str, float] = {}
    for page in measured:
        sent[upload(client, page)] = time.perf_counter()
    uploaded = time.perf_counter() - started
    ready = wait_ready(list(sent), timeout=timeout, worker=worker)
    elapsed = max(ready.values()) - started
    latencies = sorted(ready[i] - sent[i] for i in sent)
    crops = WordCrop.objects.filter(donation_id__in=list(sent)).count()
    return {
        "receipts_per_s": round(len(measured) / elapsed, 2),
        "pages": len(measured),
        "crops_per_page": round(crops / len(measured), 1),
        "latency_median_s": round(statistics.median(latencies), 2),
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "upload_per_s": round(len(measured) / uploaded, 1),
        "seconds": round(elapsed, 1),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__)
    parser.add_argument("--pages", type=int, default=40, help="receipts measured")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--database", default="dropturk_bench_pipeline")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    source, pages = load_pages(args.data, args.pages + WARM_UP)
    load_before = [round(x, 2) for x in os.getloadavg()]
    database = BenchDatabase(admin_url=args.admin_url, name=args.database)
    data_dir = Path(tempfile.mkdtemp(prefix="dropturk-bench-pipeline-"))
    env = bench_environment(database=database, data_dir=data_dir)
    env["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,testserver"
    database.recreate()
    flush_bench_redis()
    worker = None
    try:
        migrate(env)
        os.environ.update(env)
        import django

        django.setup()
        from django.test import Client

        from annotations.services import service_token_create

        _, raw = service_token_create(name="pipeline-bench")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        worker = start_worker(env, args.concurrency, data_dir / "worker.log")
        log.info("worker started (%d processes); %d warm-up receipts", args.concurrency, WARM_UP)
        try:
            figures = measure(pages, client, worker, timeout=args.timeout)
        except RuntimeError:
            sys.stderr.write((data_dir / "worker.log").read_text()[-3000:])
            raise
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        from django.db import connections

        connections.close_all()
        flush_bench_redis()
        database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)  # the run's encrypted blobs
    print(
        f"pipeline on {figures['pages']} {source}, {args.concurrency} worker processes "
        f"(load average before: {load_before[0]}):\n"
        f"  upload to ready: {figures['receipts_per_s']} receipts/s "
        f"({figures['seconds']} s; {figures['crops_per_page']} crops a page)\n"
        f"  latency: median {figures['latency_median_s']} s, p95 {figures['latency_p95_s']} s\n"
        f"  uploads alone: {figures['upload_per_s']} receipts/s"
    )
    print(
        json.dumps(
            {**figures, "concurrency": args.concurrency, "load_before": load_before},
            separators=(",", ":"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
