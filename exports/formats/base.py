"""What every format writer shares: the sample it is given, the files it yields.

A writer is a generator of ``(path, data)`` members, crop by crop: images are yielded as
they come and never kept; the text files that list every crop (per-split indexes) grow in
spools (``exports.spool``: encrypted, out of memory) and are yielded at the end as
streams. The archive, the directory sink and the manifest all consume the same members;
a consumer reads a member's data wholly before it asks for the next member.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from exports.selectors import SPLITS, ExportRow
from exports.spool import Data, Entries, Spool, Spools

Member = tuple[str, Data]


@dataclass(frozen=True)
class Sample:
    row: ExportRow
    png: bytes  # the crop image, decrypted in memory


@dataclass
class WriteContext:
    """What a writer may ask for besides the crops: the page image of a document."""

    document_image: Callable[[ExportRow], bytes]
    notes: list[str]
    # Where writers keep what grows with the export; the build closes them when it ends.
    spools: Spools = field(default_factory=Spools)
    # Crops left out because their stored image could not be read (manifest "skipped").
    skipped: Skipped = field(default_factory=lambda: Skipped())


@dataclass
class Skipped:
    """Crops an export left out, each with why; the first ``KEPT`` are named."""

    KEPT = 1000
    count: int = 0
    crops: list[dict] = field(default_factory=list)

    def add(self, crop_id: int, reason: str) -> None:
        self.count += 1
        if len(self.crops) < self.KEPT:
            self.crops.append({"crop_id": crop_id, "reason": reason})


class Writer:
    name: str = ""
    # Given a directory, writes its own layout there (LMDB: one database per split)
    # instead of the streamed members.
    writes_directory: bool = False

    def members(self, samples: Iterable[Sample], ctx: WriteContext) -> Iterator[Member]:
        raise NotImplementedError

    def write_dir(self, samples: Iterable[Sample], ctx: WriteContext, out: Path) -> list[str]:
        raise NotImplementedError


class SplitEntries:
    """One growing text file per split (the indexes written after the images)."""

    def __init__(self, ctx: WriteContext, *, separator: bytes = b"") -> None:
        self._ctx = ctx
        self._separator = separator
        self._entries: dict[str, Entries] = {}

    def add(self, split: str, text: str) -> None:
        entries = self._entries.get(split)
        if entries is None:
            spool = self._ctx.spools.new()
            entries = self._entries[split] = Entries(spool, separator=self._separator)
        entries.add(text)

    def items(self) -> Iterator[tuple[str, Spool]]:
        for split in SPLITS:
            if split in self._entries:
                yield split, self._entries[split].spool


def json_line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n"


def crop_file(row: ExportRow) -> str:
    return f"{row.crop_id:09d}.png"


# A cell a spreadsheet would run as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@")
FORMULA_GUARD = "'"


def formula_guarded(text: str) -> str:
    """``text`` as a spreadsheet shows it but never runs it: a leading ``'`` before a
    label that begins with ``=``, ``+``, ``-`` or ``@``."""
    return FORMULA_GUARD + text if text.startswith(FORMULA_STARTS) else text


def formula_guarded_labels(
    samples: Iterable[Sample], ctx: WriteContext, fmt: str
) -> Iterator[Sample]:
    """The samples with their labels guarded (``formula_guarded``) for the plain-text
    formats a person may open in a spreadsheet; how many, and that one leading ``'``
    is to be stripped before training on them, goes in the manifest's notes."""
    guarded = 0
    for sample in samples:
        text = formula_guarded(sample.row.text)
        if text != sample.row.text:
            guarded += 1
            sample = replace(sample, row=replace(sample.row, text=text))
        yield sample
    if guarded:
        ctx.notes.append(
            f"{fmt}: {guarded} label(s) beginning with =, +, - or @ written with a leading ' "
            "so that a spreadsheet does not run them as formulas; strip one leading ' from "
            "such labels before training (jsonl keeps every label as typed)"
        )


def one_line_labels(samples: Iterable[Sample], ctx: WriteContext, fmt: str) -> Iterator[Sample]:
    """The samples whose label fits on one line of a text format; the others are left
    out and counted in the manifest's notes."""
    skipped = 0
    for sample in samples:
        if any(char in sample.row.text for char in "\t\r\n"):
            skipped += 1
            continue
        yield sample
    if skipped:
        ctx.notes.append(f"{fmt}: {skipped} label(s) with a tab or line break left out")
