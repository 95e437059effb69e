"""``manifest.json``: what was asked, what came out, what looks wrong, where it came from,
and the SHA-256 of every file, built while the files stream past.

Constant memory: the file list, the documents and the duplicate check's keys go to
spools (``exports.spool``), the rest are counters bounded by the charset and the engines.
Rows come grouped by document (``selectors.export_labels`` orders them so).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from exports.formats.base import Sample, Skipped
from exports.spool import Data, DuplicateFinder, Entries, Joined, Spools, chunks_of

# Longer labels than the recognizer reads in one crop (its training words are shorter).
MAX_LABEL_CHARS = 32
EXAMPLES_KEPT = 20


def _charset() -> frozenset[str]:
    from ocr.recognition.charset import CHARACTERS

    return frozenset(CHARACTERS)


class ManifestBuilder:
    def __init__(self, *, header: dict[str, Any], spools: Spools | None = None) -> None:
        self.header = header
        self.spools = spools or Spools()
        # '"path": "sha256"' entries, spliced into the rendered JSON.
        self._files = Entries(self.spools.new(), separator=b",")
        self.counts: Counter[str] = Counter()
        self._donations = Entries(self.spools.new())  # one id a line, in row order
        self._last_donation: str | None = None
        self.engine_versions: Counter[str] = Counter()
        self.lint: dict[str, dict[str, Any]] = {
            key: {"count": 0, "crop_ids": []} for key in ("outside_charset", "over_long", "empty")
        }
        self.outside_characters: Counter[str] = Counter()
        self._image_hashes = DuplicateFinder(self.spools)
        self._charset = _charset()
        self.notes: list[str] = []
        self.skipped = Skipped()

    def _flag(self, key: str, crop_id: int) -> None:
        entry = self.lint[key]
        entry["count"] += 1
        if len(entry["crop_ids"]) < EXAMPLES_KEPT:
            entry["crop_ids"].append(crop_id)

    def observe(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        """Passes the samples through, counting and linting each one."""
        for sample in samples:
            row = sample.row
            self.counts[row.split] += 1
            if row.donation_id != self._last_donation:
                self._donations.add(f"{row.donation_id}\n")
                self._last_donation = row.donation_id
            self.engine_versions[f"{row.prefill_engine} {row.prefill_engine_version}"] += 1
            text = unicodedata.normalize("NFC", row.text)
            if not text.strip():
                self._flag("empty", row.crop_id)
            if len(text) > MAX_LABEL_CHARS:
                self._flag("over_long", row.crop_id)
            outside = [char for char in text if char not in self._charset]
            if outside:
                self._flag("outside_charset", row.crop_id)
                self.outside_characters.update(outside)
            self._image_hashes.add(hashlib.sha256(sample.png).digest(), row.crop_id)
            yield sample

    @property
    def documents(self) -> int:
        return self._donations.count

    def donation_ids(self, *, batch: int = 1000) -> Iterator[list[str]]:
        """The exported documents' ids, in batches, in row order (sorted)."""
        ids: list[str] = []
        for line in self._donations.spool.lines():
            ids.append(line)
            if len(ids) == batch:
                yield ids
                ids = []
        if ids:
            yield ids

    def add_file(self, path: str, data: Data) -> None:
        sha256 = hashlib.sha256()
        for chunk in chunks_of(data):
            sha256.update(chunk)
        self._files.add(f'\n  {json.dumps(path, ensure_ascii=False)}: "{sha256.hexdigest()}"')

    def render(self) -> Joined:
        """The manifest's JSON; its file list streams from the spool."""
        lint = dict(self.lint)
        count, crop_ids = self._image_hashes.result(keep=EXAMPLES_KEPT)
        lint["duplicate_images"] = {"count": count, "crop_ids": crop_ids}
        lint["outside_charset"]["characters"] = dict(self.outside_characters.most_common(50))
        lint["over_long"]["max_chars"] = MAX_LABEL_CHARS
        manifest = {
            **self.header,
            "counts": {
                **{s: self.counts.get(s, 0) for s in ("train", "validation", "test")},
                "total": sum(self.counts.values()),
            },
            "documents": self.documents,
            "lint": lint,
            "lineage": {
                **self.header.get("lineage", {}),
                "prefill_engines": dict(self.engine_versions),
            },
            "notes": self.notes,
            "skipped": {"count": self.skipped.count, "crops": self.skipped.crops},
            "files": {},
        }
        head = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        assert head.endswith(b'"files": {}\n}')  # noqa: S101  the splice below relies on it
        return Joined(head[: -len(b"}\n}")], self._files.spool, b"\n }\n}")


def verify(manifest: dict[str, Any], read: Any) -> list[str]:
    """The files whose SHA-256 differs from the manifest's (``read(path) -> bytes``)."""
    return [
        path
        for path, digest in manifest["files"].items()
        if hashlib.sha256(read(path)).hexdigest() != digest
    ]
