"""The in-process cost benchmark runs end to end on a tiny queue (PostgreSQL only).

Its figures are not asserted beyond being measured: a timed test would be flaky.
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
    reason="the benchmark seeds a PostgreSQL database (set DATABASE_URL)",
)


def test_cost_benchmark_labels_through_the_whole_stack_and_reports_units():
    command = [
        sys.executable,
        "-m",
        "benchmarks.request_cost",
        "--crops=200",
        "--cycles=20",
        "--warmup=2",
        "--database=dropturk_bench_cost_smoke",
    ]
    finished = subprocess.run(  # noqa: S603  our own argv
        command, cwd=REPO, capture_output=True, text=True, timeout=180, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    assert figures["cycles"] == 20
    for call in ("next", "image", "submit"):
        assert figures[f"{call}_cpu_ms"] > 0
    assert figures["units_per_cycle"] == pytest.approx(
        figures["cpu_ms_per_cycle"] / figures["reference_ms"], rel=0.01
    )
