"""The annotator-loop benchmark samples the server from a process of its own, so that
its /proc scans never hold back the load generator's event loop."""

import os
import subprocess
import sys
import time

from benchmarks.annotator_loop import ServerSampler, server_rss_mb

# A stand-in for the server's master: on each line read, a worker child burns that many
# seconds of CPU; it exits at the end of its input.
BUSY = "import time, sys\nend = time.process_time() + float(sys.argv[1])\n" + (
    "while time.process_time() < end: pass"
)
MASTER = f"""
import subprocess, sys
for line in sys.stdin:
    subprocess.run([sys.executable, "-c", {BUSY!r}, line.strip()], check=True)
    print("done", flush=True)
"""


def _master() -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603  our own argv
        [sys.executable, "-c", MASTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _burn(master: subprocess.Popen, seconds: float) -> None:
    """Starts a worker that burns ``seconds`` of CPU (returns at once)."""
    master.stdin.write(f"{seconds}\n")
    master.stdin.flush()


def test_the_sampler_counts_the_servers_cpu_and_memory_over_the_window_only():
    # Given a server whose worker burns CPU before the measured window and then 1 s in it
    master = _master()
    sampler = ServerSampler(master_pid=master.pid, database="dropturk_no_such_database")
    assert sampler._process.pid not in (os.getpid(), master.pid)  # sampling happens apart
    _burn(master, 0.5)
    assert master.stdout.readline() == "done\n"
    opens = time.perf_counter() + 0.3
    sampler.window(measure_from=opens, until=opens + 2.0)
    time.sleep(max(0.0, opens - time.perf_counter()))
    _burn(master, 1.0)

    # When the window closes
    peak_mb, (workers_cpu, backends_cpu) = sampler.result()
    assert master.stdout.readline() == "done\n"
    master.stdin.close()
    master.wait(timeout=30)

    # Then the window's CPU second is counted and not the half second before it (allowing
    # a tick's rounding and a last quarter second the final sample may miss), the
    # database had no backends, and the peak memory is at least the master's own
    assert 0.7 <= workers_cpu <= 1.1
    assert backends_cpu == 0.0
    assert peak_mb > 1


def test_an_idle_server_costs_nothing_and_its_memory_is_read():
    # Given a server doing nothing
    master = _master()
    sampler = ServerSampler(master_pid=master.pid, database="dropturk_no_such_database")
    opens = time.perf_counter() + 0.3

    # When a window with no work in it is measured
    sampler.window(measure_from=opens, until=opens + 0.6)
    peak_mb, (workers_cpu, backends_cpu) = sampler.result()

    # Then nothing is counted, and the peak is the master's memory
    assert (workers_cpu, backends_cpu) == (0.0, 0.0)
    assert abs(peak_mb - server_rss_mb(master.pid)) < 2
    master.stdin.close()
    master.wait(timeout=30)
