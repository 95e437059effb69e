"""The app as deployed (uWSGI, or gunicorn to compare) on a free port, and the sampler that
measures its processes' CPU and memory (and the database backends') from a process of
its own."""

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.loop.database import REPO

CPU_EVERY = 0.25  # seconds between samples of the server's and the database's CPU time
RSS_EVERY = 0.5  # ... and of the server's memory


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
