"""The load: K simulated annotators (lease → image → submit, zero think time) for a fixed
time, their latencies and duplicate holds, and the machine's speed as a reference loop."""

import asyncio
import json
import logging
import math
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from benchmarks.http_client import Connection
from benchmarks.loop.seeding import PNG_SIGNATURE, TYPO_RATE, Annotator
from benchmarks.loop.server import ServerSampler

log = logging.getLogger("benchmarks.annotator_loop")


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
