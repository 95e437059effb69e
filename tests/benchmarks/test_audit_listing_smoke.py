"""The audit listing benchmark runs end to end on a tiny trail (PostgreSQL only).

Its times are not asserted (a timed test would be flaky); what must hold is that it
works against the current pages and that each case is served by an index, not by
reading the table.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNINDEXED_CASES: set[str] = set()

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="the benchmark seeds a PostgreSQL database (set DATABASE_URL)",
)


def test_benchmark_runs_and_every_filter_uses_an_index():
    command = [
        sys.executable,
        "-m",
        "benchmarks.audit_listing",
        "--events=20000",
        "--repeat=1",
        "--database=dropturk_bench_audit_smoke",
    ]

    finished = subprocess.run(  # noqa: S603  our own argv
        command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    assert result["events"] == 20000
    by_case = {case["case"]: case for case in result["cases"]}
    assert by_case["first page"]["rows"] == 50
    for name, case in by_case.items():
        if name not in UNINDEXED_CASES:
            assert not any(plan.startswith("SEQ SCAN") for plan in case["indexes"]), name
