"""The benchmark's output: the table of runs and a profile's summary."""

import io
import json
from pathlib import Path

from benchmarks.loop.load import RunResult


def table(results: list[RunResult]) -> str:
    head = (
        f"{'annot':>5} {'batch':>5} {'crops':>9} {'cycles/s':>9}"
        f" {'next p50/p95/p99 ms':>21} {'image p50/p95/p99 ms':>21}"
        f" {'submit p50/p95/p99 ms':>22} {'dup':>4} {'err':>4} {'rss MB':>7} {'client cpu':>10}"
        f" {'cpu ms/cycle (db)':>17} {'ref ms':>6}"
    )
    lines = [head, "-" * len(head)]
    for result in results:
        calls = []
        for call, width in (("next", 21), ("image", 21), ("submit", 22)):
            figures = "/".join(
                f"{result.percentile_ms(call, share):.1f}" for share in (0.5, 0.95, 0.99)
            )
            calls.append(f"{figures:>{width}}")
        lines.append(
            f"{result.annotators:>5} {result.batch:>5} {result.crops:>9}"
            f" {result.cycles / result.seconds:>9.1f} {' '.join(calls)}"
            f" {result.duplicates:>4} {result.errors:>4} {result.server_rss_mb:>7.0f}"
            f" {result.client_cpu:>9.0%}"
            f" {result.server_cpu_ms_per_cycle:>9.1f} ({result.db_cpu_ms_per_cycle:.1f})"
            f" {result.reference_ms:>6.1f}"
        )
    return "\n".join(lines)


def summarize_profile(folder: Path, top: int = 40) -> str:
    """Merges the workers' profiles and query counts into ``summary.txt``; returns it."""
    import pstats

    out = io.StringIO()
    endpoints: dict[str, dict[str, float]] = {}
    for part in folder.glob("worker-*.json"):
        for name, row in json.loads(part.read_text()).items():
            total = endpoints.setdefault(name, {"requests": 0, "queries": 0, "db_s": 0.0, "s": 0.0})
            for key, value in row.items():
                total[key] += value
    out.write(f"{'endpoint':<40} {'requests':>8} {'queries/req':>11} {'ms/req':>8} {'db ms':>7}\n")
    for name, row in sorted(endpoints.items(), key=lambda item: -item[1]["requests"]):
        requests = max(1, row["requests"])
        out.write(
            f"{name:<40} {row['requests']:>8.0f} {row['queries'] / requests:>11.1f}"
            f" {row['s'] * 1000 / requests:>8.2f} {row['db_s'] * 1000 / requests:>7.2f}\n"
        )
    parts = sorted(folder.glob("worker-*.pstats"))
    if parts:
        stats = pstats.Stats(str(parts[0]), stream=out)
        for part in parts[1:]:
            stats.add(str(part))
        stats.dump_stats(folder / "merged.pstats")
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
    (folder / "summary.txt").write_text(out.getvalue())
    return out.getvalue()
