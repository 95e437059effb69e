"""Audit events as CSV or JSON lines, produced as a stream of text chunks.

The chunks come from ``selectors.events_iter`` (keyset pages), so an export of millions
of events holds one page in memory. CSV cells that a spreadsheet would run as a formula
(starting with = + - @, tab or carriage return) get a leading apostrophe (OWASP's advice
on CSV injection); JSON lines are data, never evaluated, and are left as recorded.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from audit.actions import describe
from audit.chain import CANONICAL_FIELDS
from audit.models import AuditEvent

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
# The fields an event's content hash covers, in their canonical order, then the rest.
COLUMNS = (
    "id",
    *CANONICAL_FIELDS,
    "description",
    "content_hash",
    "seq",
    "prev_hash",
    "chain_hash",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 64 * 1024  # one write to the client per this much text, not one per row


def neutralise(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def event_row(event: AuditEvent) -> dict[str, Any]:
    row = {column: getattr(event, column, None) for column in COLUMNS}
    row["occurred_at"] = event.occurred_at.isoformat()
    row["description"] = describe(event.action, target_id=event.target_id, data=event.data)
    return row


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return neutralise(str(value))


def _chunked(lines: Iterable[str]) -> Iterator[str]:
    buffer = io.StringIO()
    for line in lines:
        buffer.write(line)
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer = io.StringIO()
    if buffer.tell():
        yield buffer.getvalue()


def _csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    line = io.StringIO()
    writer = csv.writer(line)

    def render(cells: Iterable[str]) -> str:
        line.seek(0)
        line.truncate()
        writer.writerow(cells)
        return line.getvalue()

    yield render(COLUMNS)
    for event in events:
        row = event_row(event)
        yield render(_csv_cell(row[column]) for column in COLUMNS)


def _jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event_row(event), ensure_ascii=False) + "\n"


def stream(events: Iterable[AuditEvent], *, fmt: str) -> Iterator[str]:
    lines = _csv_lines(events) if fmt == "csv" else _jsonl_lines(events)
    return _chunked(lines)
