"""Benchmark: the admin's audit event list on a large trail (PostgreSQL).

Creates a scratch database, migrates it, fills ``audit_auditevent`` with N events in SQL
(``INSERT … SELECT FROM generate_series``: a realistic spread of actions, people, service
tokens, targets, outcomes and requests over a year), ANALYZEs, then asks the list page
for each case (first page, a deep keyset page, each filter, time ranges, histories) as a
signed-in admin through Django's test client, and times the view's query function alone
too. Prints p50/p95 per case with the indexes PostgreSQL chose, then one JSON line.

    make bench-audit                                   # 10,000,000 events
    .venv/bin/python -m benchmarks.audit_listing --events 1000000

The events' hashes are placeholders computed in SQL (md5 of the row number), not the
chain ``audit.record`` and the sealer build: this measures listing, not recording, and
``audit_verify`` on this database would (rightly) fail.
"""

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.annotator_loop import (
    REPO,
    BenchDatabase,
    _default_admin_url,
    bench_environment,
    flush_bench_redis,
    session_for,
)

log = logging.getLogger("benchmarks.audit_listing")
log.setLevel(logging.INFO)  # Django's LOGGING sets the root to WARNING

SEED_CHUNK = 1_000_000
PEOPLE = 2000
CROPS = 5_000_000
DONATIONS = 100_000
YEAR = timedelta(days=365)
# (share in 1/1000, action, actor kind, target kind, outcome, details)
PROFILES = [
    (380, "annotations.crop_image_view", "user", "crop", "success", {}),
    (5, "annotations.crop_image_view", "user", "crop", "denied", {}),
    (275, "annotations.label_submit", "user", "label", "success", {}),
    (20, "annotations.label_revise", "user", "label", "success", {}),
    (40, "annotations.task_skip", "user", "task", "success", {}),
    (60, "annotations.donation_create", "service", "donation", "success", {}),
    (60, "ocr_bridge.document_read", "system", "donation", "success", {}),
    (60, "ocr_bridge.crops_read", "system", "donation", "success", {"count": 40}),
    (60, "annotations.donation_ready", "system", "donation", "success", {"crops": 40}),
    (20, "accounts.sign_in", "user", "none", "success", {"methods": "password, totp"}),
    (10, "accounts.sign_out", "user", "none", "success", {}),
    (8, "accounts.sign_in_failed", "anonymous", "none", "failure", {"username": "mallory"}),
    (2, "accounts.mfa_failed", "user", "none", "failure", {"type": "totp"}),
]
assert sum(profile[0] for profile in PROFILES) == 1000

SEED_SQL = """
WITH profile(lo, hi, action, actor_kind, target_kind, outcome, details) AS (
    VALUES {profiles}
), numbered AS (
    SELECT g,
           floor(random() * 1000)::int AS r,
           1 + floor(random() * {people})::int AS person,
           1 + floor(random() * {crops})::int AS crop,
           1 + floor(random() * {donations})::int AS donation
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
)
INSERT INTO audit_auditevent (
    id, occurred_at, actor_type, actor_id, actor_label, action, target_type, target_id,
    outcome, ip_address, request_id, data, content_hash, seq, prev_hash, chain_hash
)
SELECT g,
       %(start)s::timestamptz + (g - 1) * %(step)s::interval,
       CASE p.actor_kind WHEN 'anonymous' THEN 'user' ELSE p.actor_kind END,
       CASE p.actor_kind WHEN 'user' THEN person::text
                         WHEN 'service' THEN (1 + person %% 5)::text ELSE '' END,
       CASE p.actor_kind WHEN 'user' THEN 'annotator-' || person
                         WHEN 'service' THEN 'service:donation-app-' || (1 + person %% 5)
                         ELSE p.actor_kind END,
       p.action,
       CASE p.target_kind WHEN 'crop' THEN 'annotations.wordcrop'
                          WHEN 'label' THEN 'annotations.label'
                          WHEN 'task' THEN 'annotations.task'
                          WHEN 'donation' THEN 'annotations.donation' ELSE '' END,
       CASE p.target_kind WHEN 'crop' THEN crop::text
                          WHEN 'label' THEN g::text
                          WHEN 'task' THEN crop::text
                          WHEN 'donation' THEN donation::text ELSE '' END,
       p.outcome,
       ('10.' || person / 250 || '.' || person %% 250 || '.1')::inet,
       md5((g / 3)::text),
       p.details::jsonb || CASE p.target_kind WHEN 'label'
                               THEN jsonb_build_object('crop_id', crop) ELSE '{{}}' END,
       md5(g::text) || md5(g::text || 'c'),
       g,
       md5((g - 1)::text) || md5((g - 1)::text || 'h'),
       md5(g::text) || md5(g::text || 'h')
FROM numbered JOIN profile p ON numbered.r >= p.lo AND numbered.r < p.hi
"""


def _profile_rows() -> str:
    rows, low = [], 0
    for share, action, actor, target, outcome, details in PROFILES:
        rows.append(
            f"({low}, {low + share}, '{action}', '{actor}', '{target}', '{outcome}', "
            f"'{json.dumps(details)}')"
        )
        low += share
    return ", ".join(rows)


def seed_events(*, database: BenchDatabase, events: int, end: datetime) -> None:
    """``events`` rows, one id and one time step each, ending at ``end``.

    The secondary indexes are dropped first and built again afterwards from their own
    definitions: building an index once is far cheaper than updating it per row.
    """
    connection = database.connect()
    sql = SEED_SQL.format(profiles=_profile_rows(), people=PEOPLE, crops=CROPS, donations=DONATIONS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute("SELECT setseed(0.42)")
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'audit_auditevent' AND indexname NOT LIKE '%pkey'"
            )
            indexes = cursor.fetchall()
            for name, _ in indexes:
                # unique ones are constraints (seq)
                cursor.execute(
                    "SELECT conname FROM pg_constraint WHERE conindid = %s::regclass", [name]
                )
                constraint = cursor.fetchone()
                if constraint:
                    cursor.execute(
                        f'ALTER TABLE audit_auditevent DROP CONSTRAINT "{constraint[0]}"'
                    )
                else:
                    cursor.execute(f'DROP INDEX "{name}"')
            step = YEAR / events
            start = end - YEAR
            started = time.perf_counter()
            for low in range(1, events + 1, SEED_CHUNK):
                high = min(events, low + SEED_CHUNK - 1)
                cursor.execute(sql, {"lo": low, "hi": high, "start": start, "step": step})
                log.info("seed: %d events in %.0f s", high, time.perf_counter() - started)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), %s)", [events]
            )
            for _, definition in indexes:
                cursor.execute(definition)
            log.info("seed: indexes built again, %.0f s in all", time.perf_counter() - started)
            cursor.execute("VACUUM ANALYZE audit_auditevent")
            log.info("seed: vacuumed and analyzed, %.0f s in all", time.perf_counter() - started)
    finally:
        connection.close()


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    params: dict[str, str]


def _target_near(target_type: str, *, event_id: int) -> str:
    """The target of the newest event of ``target_type`` at or before ``event_id``."""
    from audit.models import AuditEvent

    return (
        AuditEvent.objects.filter(target_type=target_type, id__lte=event_id)
        .order_by("-id")
        .values_list("target_id", flat=True)
        .first()
        or "1"
    )


def cases(*, events: int, end: datetime, person_id: int) -> list[Case]:
    def minute(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M")

    middle = end - YEAR / 2
    request_of_middle = _md5(str(events // 2 // 3))
    crop = _target_near("annotations.wordcrop", event_id=events // 2)
    donation = _target_near("annotations.donation", event_id=events // 2)
    return [
        Case("first page", "/audit/", {}),
        Case("deep keyset page (middle)", "/audit/", {"before": str(events // 2)}),
        Case("oldest page", "/audit/", {"before": "60"}),
        Case("action, common", "/audit/", {"action": "annotations.crop_image_view"}),
        Case("action, rare", "/audit/", {"action": "accounts.mfa_failed"}),
        Case(
            "action, deep page",
            "/audit/",
            {"action": "annotations.label_submit", "before": str(events // 2)},
        ),
        Case("actor by id", "/audit/", {"actor_type": "user", "actor_id": str(person_id)}),
        Case("actor by name", "/audit/", {"actor_label": "bench-annotator"}),
        Case("actor: system", "/audit/", {"actor_type": "system"}),
        Case("actor: service token", "/audit/", {"actor_type": "service", "actor_id": "3"}),
        Case(
            "target type + id",
            "/audit/",
            {"target_type": "annotations.wordcrop", "target_id": crop},
        ),
        Case("outcome: denied", "/audit/", {"outcome": "denied"}),
        Case(
            "time range: 1 day, 6 months ago",
            "/audit/",
            {"since": minute(middle), "until": minute(middle + timedelta(days=1))},
        ),
        Case("time range: last hour", "/audit/", {"since": minute(end - timedelta(hours=1))}),
        Case(
            "time range + action",
            "/audit/",
            {
                "since": minute(middle),
                "until": minute(middle + timedelta(days=1)),
                "action": "accounts.sign_in",
            },
        ),
        Case("request id", "/audit/", {"request_id": request_of_middle}),
        Case("history of a person", f"/audit/history/auth.user/{person_id}/", {}),
        Case("history of a donation", f"/audit/history/annotations.donation/{donation}/", {}),
        Case("history of a crop", f"/audit/history/annotations.wordcrop/{crop}/", {}),
    ]


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324  the seed's request ids


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _plan_indexes(plan: dict) -> set[str]:
    found = set()
    if "Index Name" in plan:
        found.add(plan["Index Name"])
    elif plan.get("Node Type") == "Seq Scan":
        found.add(f"SEQ SCAN {plan.get('Relation Name', '')}")
    for child in plan.get("Plans", []):
        found |= _plan_indexes(child)
    return found


def measure(case: Case, *, client, repeat: int) -> dict:
    from django.http import QueryDict

    from audit import selectors
    from audit.forms import EventFilterForm

    data = QueryDict(mutable=True)
    data.update(case.params)
    if case.path.startswith("/audit/history/"):
        _, _, _, subject_type, subject_id, _ = case.path.split("/")
        data.update({"subject_type": subject_type, "subject_id": subject_id})
    form = EventFilterForm(data)
    assert form.is_valid(), form.errors
    filters = form.filters()
    before = int(case.params["before"]) if "before" in case.params else None

    indexes = set()
    for query in selectors.branch_querysets(filters, before=before, limit=selectors.PAGE_SIZE + 1):
        plan = json.loads(query.explain(format="json"))
        indexes |= _plan_indexes(plan[0]["Plan"])

    page_ms, query_ms, rows = [], [], 0
    for _ in range(repeat + 1):  # the first is a warm-up, not counted
        started = time.perf_counter()
        page = selectors.event_page(filters=filters, before=before)
        query_ms.append((time.perf_counter() - started) * 1000)
        rows = len(page.events)
        started = time.perf_counter()
        response = client.get(case.path, case.params)
        page_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (case.name, response.status_code)
    page_ms, query_ms = page_ms[1:], query_ms[1:]
    return {
        "case": case.name,
        "rows": rows,
        "query_p50_ms": round(statistics.median(query_ms), 2),
        "query_p95_ms": round(_percentile(query_ms, 0.95), 2),
        "page_p50_ms": round(statistics.median(page_ms), 2),
        "page_p95_ms": round(_percentile(page_ms, 0.95), 2),
        "indexes": sorted(indexes),
    }


def table(results: list[dict]) -> str:
    header = f"{'case':<34} {'rows':>4} {'query p50/p95 ms':>17} {'page p50/p95 ms':>16}  plan"
    lines = [header, "-" * len(header)]
    for row in results:
        lines.append(
            f"{row['case']:<34} {row['rows']:>4}"
            f" {row['query_p50_ms']:>8.1f}/{row['query_p95_ms']:<8.1f}"
            f" {row['page_p50_ms']:>7.1f}/{row['page_p95_ms']:<8.1f}  {', '.join(row['indexes'])}"
        )
    return "\n".join(lines)


def _signed_in_admin():
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from annotations import roles

    people = get_user_model().objects
    admin = people.create(username="bench-admin")
    admin.groups.set([Group.objects.get(name=roles.ADMIN)])
    person = people.create(username="bench-annotator")
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_for(admin)
    return client, person.pk


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per case")
    parser.add_argument("--database", default="dropturk_bench_audit")
    parser.add_argument("--admin-url", default=_default_admin_url())
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    database = BenchDatabase(admin_url=args.admin_url, name=args.database)
    data_dir = Path(tempfile.mkdtemp(prefix="dropturk-bench-audit-"))
    env = bench_environment(database=database, data_dir=data_dir)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    started = time.perf_counter()
    database.recreate()
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity=0"],
            cwd=REPO,
            env=env,
            check=True,
        )
        log.info("database %s migrated in %.1f s", database.name, time.perf_counter() - started)
        os.environ.update(env)
        import django

        django.setup()
        client, person_id = _signed_in_admin()
        seed_events(database=database, events=args.events, end=end)
        seed_seconds = time.perf_counter() - started
        results = [
            measure(case, client=client, repeat=args.repeat)
            for case in cases(events=args.events, end=end, person_id=person_id)
        ]
    finally:
        from django.db import connections

        connections.close_all()
        flush_bench_redis()
        if args.keep_db:
            log.info("kept database %s", database.name)
        else:
            database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\nAudit event list: {args.events:,} events, {args.repeat} timed requests per case")
    print(table(results))
    print(
        json.dumps(
            {"events": args.events, "seed_s": round(seed_seconds, 1), "cases": results},
            separators=(",", ":"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
