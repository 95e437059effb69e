"""``manifest.json``: what was asked, what came out, what looks wrong, where it came from,
and the SHA-256 of every file, built while the files stream past."""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from exports.formats.base import Sample

# Longer labels than the recognizer reads in one crop (its training words are shorter).
MAX_LABEL_CHARS = 32
EXAMPLES_KEPT = 20


def _charset() -> frozenset[str]:
    from ocr.recognition.charset import CHARACTERS

    return frozenset(CHARACTERS)


class ManifestBuilder:
    def __init__(self, *, header: dict[str, Any]) -> None:
        self.header = header
        # '"path": "sha256",' lines: a tenth of a dict's memory at 100,000 files.
        self._files = io.BytesIO()
        self.counts: Counter[str] = Counter()
        self.donations: set[str] = set()
        self.engine_versions: Counter[str] = Counter()
        self.lint: dict[str, dict[str, Any]] = {
            key: {"count": 0, "crop_ids": []}
            for key in ("outside_charset", "over_long", "empty", "duplicate_images")
        }
        self.outside_characters: Counter[str] = Counter()
        self._image_hashes: set[bytes] = set()
        self._charset = _charset()
        self.notes: list[str] = []

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
            self.donations.add(row.donation_id)
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
            digest = hashlib.sha256(sample.png).digest()[:16]
            if digest in self._image_hashes:
                self._flag("duplicate_images", row.crop_id)
            else:
                self._image_hashes.add(digest)
            yield sample

    def add_file(self, path: str, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        self._files.write(f'\n  {json.dumps(path, ensure_ascii=False)}: "{digest}",'.encode())

    def render(self) -> bytes:
        lint = dict(self.lint)
        lint["outside_charset"]["characters"] = dict(self.outside_characters.most_common(50))
        lint["over_long"]["max_chars"] = MAX_LABEL_CHARS
        manifest = {
            **self.header,
            "counts": {
                **{s: self.counts.get(s, 0) for s in ("train", "validation", "test")},
                "total": sum(self.counts.values()),
            },
            "documents": len(self.donations),
            "lint": lint,
            "lineage": {
                **self.header.get("lineage", {}),
                "prefill_engines": dict(self.engine_versions),
            },
            "notes": self.notes,
            "files": {},
        }
        head = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        assert head.endswith(b'"files": {}\n}')  # noqa: S101  the splice below relies on it
        files = self._files.getbuffer()[:-1] if self._files.tell() else b""  # last comma
        return b"".join([head[: -len(b"}\n}")], files, b"\n }\n}"])


def verify(manifest: dict[str, Any], read: Any) -> list[str]:
    """The files whose SHA-256 differs from the manifest's (``read(path) -> bytes``)."""
    return [
        path
        for path, digest in manifest["files"].items()
        if hashlib.sha256(read(path)).hexdigest() != digest
    ]
