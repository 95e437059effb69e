"""What every format writer shares: the sample it is given, the files it yields.

A writer is a generator of ``(path, bytes)`` members, crop by crop: images are yielded as
they come and never kept; only the small per-split text indexes (a few dozen bytes a crop)
are held until the end. The archive, the directory sink and the manifest all consume the
same stream.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from exports.selectors import SPLITS, ExportRow

Member = tuple[str, bytes]


@dataclass(frozen=True)
class Sample:
    row: ExportRow
    png: bytes  # the crop image, decrypted in memory


@dataclass
class WriteContext:
    """What a writer may ask for besides the crops: the page image of a document."""

    document_image: Callable[[ExportRow], bytes]
    notes: list[str]


class Writer:
    name: str = ""
    # Given a directory, writes its own layout there (LMDB: one database per split)
    # instead of the streamed members.
    writes_directory: bool = False

    def members(self, samples: Iterable[Sample], ctx: WriteContext) -> Iterator[Member]:
        raise NotImplementedError

    def write_dir(self, samples: Iterable[Sample], ctx: WriteContext, out: Path) -> list[str]:
        raise NotImplementedError


class SplitBuffers:
    """One growing text file per split (the indexes written after the images)."""

    def __init__(self) -> None:
        self._buffers: dict[str, io.BytesIO] = {}

    def write(self, split: str, text: str) -> None:
        self._buffers.setdefault(split, io.BytesIO()).write(text.encode("utf-8"))

    def items(self) -> Iterator[tuple[str, bytes]]:
        for split in SPLITS:
            if split in self._buffers:
                # A view, not a copy: the member is hashed and written from it.
                yield split, self._buffers.pop(split).getbuffer()


def json_line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n"


def crop_file(row: ExportRow) -> str:
    return f"{row.crop_id:09d}.png"


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
