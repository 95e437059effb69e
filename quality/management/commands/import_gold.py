"""Import gold answers (crops with a known answer) from a TSV file.

One line per crop: ``crop_id<TAB>text[<TAB>flags]``, flags a comma-separated subset of
rotated, non_english, unreadable. A first line starting with ``crop_id`` is a header.
All or nothing: one bad line and nothing is imported.
"""

import csv
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.models import WordCrop
from quality import services
from quality.consensus import FLAGS


def parse_gold_tsv(lines) -> list[services.GoldRow]:
    rows = []
    for number, fields in enumerate(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
        if not fields or (number == 1 and fields[0].strip().lower() == "crop_id"):
            continue
        if len(fields) not in (2, 3):
            raise CommandError(f"line {number}: expected crop_id, text and optional flags")
        try:
            crop_id = int(fields[0])
        except ValueError as exc:
            raise CommandError(f"line {number}: crop_id {fields[0]!r} is not a number") from exc
        flags = (
            {f.strip() for f in fields[2].split(",") if f.strip()} if len(fields) == 3 else set()
        )
        if unknown := flags - set(FLAGS):
            raise CommandError(f"line {number}: unknown flag(s) {', '.join(sorted(unknown))}")
        text = fields[1].strip()
        if not text and "unreadable" not in flags:
            raise CommandError(f"line {number}: empty text needs the unreadable flag")
        answer = services.ReviewAnswer(text=text, **{flag: flag in flags for flag in FLAGS})
        rows.append(services.GoldRow(crop_id=crop_id, answer=answer))
    return rows


class Command(BaseCommand):
    help = "Import gold answers from a TSV file (crop_id, text, optional flags); '-' for stdin."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="The TSV file, or - to read standard input")

    def handle(self, *args, path: str, **options) -> None:
        if path == "-":
            rows = parse_gold_tsv(sys.stdin)
        else:
            source = Path(path)
            if not source.is_file():
                raise CommandError(f"no such file: {path}")
            with source.open(encoding="utf-8", newline="") as handle:
                rows = parse_gold_tsv(handle)
        if not rows:
            raise CommandError("no gold answers in the file")
        try:
            count = services.gold_import(rows=rows)
        except WordCrop.DoesNotExist as exc:
            raise CommandError(f"{exc}; nothing was imported") from exc
        self.stdout.write(f"Imported {count} gold answer(s).")
