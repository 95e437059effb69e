"""What grows with an export besides its images, kept out of memory.

The per-split label indexes, the manifest's file list, the documents it holds and the
duplicate check's sorted runs grow by a few dozen bytes a crop. They are written to a
``Spool``: AES-256-GCM frames in an anonymous temporary file (no name on any file system,
gone when closed), under a key that exists only in this process's memory. Label text and
image hashes are personal data: the disk sees only ciphertext that nothing can open once
the build ends. Memory holds one frame at a time, whatever the export's size.

A file of an export is then either ``bytes`` or a ``Stream`` (a ``size`` and ``chunks()``
that can be read more than once: once for the manifest's hash, once for the tar).
"""

from __future__ import annotations

import heapq
import os
import struct
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FRAME_BYTES = 1 << 20
_LENGTH = struct.Struct(">I")


class Stream(Protocol):
    """A file of an export that is not held in memory."""

    size: int

    def chunks(self) -> Iterator[bytes]: ...


Data = bytes | memoryview | Stream


def size_of(data: Data) -> int:
    return len(data) if isinstance(data, bytes | memoryview) else data.size


def chunks_of(data: Data) -> Iterator[bytes]:
    if isinstance(data, bytes | memoryview):
        yield data
    else:
        yield from data.chunks()


class Spool:
    """Bytes appended now, read back later (any number of times), never plain on disk.

    Each frame's nonce is its index: a key seals one spool only and a frame is written
    once, so no nonce repeats under a key.
    """

    def __init__(self, *, frame_bytes: int | None = None) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        # O_TMPFILE where the file system has it: no name, ever. Closed by close().
        self._file = tempfile.TemporaryFile(prefix="dropturk-spool-")  # noqa: SIM115
        self._fd = self._file.fileno()
        self._frame_bytes = frame_bytes or FRAME_BYTES
        self._pending = bytearray()
        self._offsets = array("Q", [0])  # where each frame starts; the last: where to write
        self.size = 0

    def write(self, data: bytes) -> None:
        self._pending += data
        self.size += len(data)
        if len(self._pending) >= self._frame_bytes:
            self._seal()

    def mark(self) -> int:
        """Seals what is pending; the frame number the next write starts."""
        self._seal()
        return len(self._offsets) - 1

    def _seal(self) -> None:
        if not self._pending:
            return
        frame = len(self._offsets) - 1
        sealed = self._aead.encrypt(_nonce(frame), bytes(self._pending), None)
        end = self._offsets[-1]
        os.pwrite(self._fd, _LENGTH.pack(len(sealed)) + sealed, end)
        self._offsets.append(end + _LENGTH.size + len(sealed))
        self._pending.clear()

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """The plaintext of frames ``start`` to ``stop`` (all of it by default)."""
        stop = self.mark() if stop is None else stop
        for frame in range(start, stop):
            offset = self._offsets[frame]
            (length,) = _LENGTH.unpack(os.pread(self._fd, _LENGTH.size, offset))
            sealed = os.pread(self._fd, length, offset + _LENGTH.size)
            yield self._aead.decrypt(_nonce(frame), sealed, None)

    def lines(self) -> Iterator[str]:
        """The text written, line by line (lines may span frames)."""
        rest = b""
        for chunk in self.chunks():
            *complete, rest = (rest + chunk).split(b"\n")
            for line in complete:
                yield line.decode("utf-8")
        if rest:
            yield rest.decode("utf-8")

    def close(self) -> None:
        self._file.close()


def _nonce(frame: int) -> bytes:
    return frame.to_bytes(12, "big")


class Spools:
    """The spools of one build, closed together when it ends, however it ends."""

    def __init__(self) -> None:
        self._stack = ExitStack()

    def new(self, *, frame_bytes: int | None = None) -> Spool:
        spool = Spool(frame_bytes=frame_bytes)
        self._stack.callback(spool.close)
        return spool

    def close(self) -> None:
        self._stack.close()


class Entries:
    """Text entries appended to a spool, ``separator`` between two of them."""

    def __init__(self, spool: Spool, *, separator: bytes = b"") -> None:
        self.spool = spool
        self.separator = separator
        self.count = 0

    def add(self, text: str) -> None:
        if self.count and self.separator:
            self.spool.write(self.separator)
        self.spool.write(text.encode("utf-8"))
        self.count += 1


class Joined:
    """One file made of pieces, bytes and streams, read piece by piece."""

    def __init__(self, *parts: Data) -> None:
        self.parts = parts
        self.size = sum(size_of(part) for part in parts)

    def chunks(self) -> Iterator[bytes]:
        for part in self.parts:
            yield from chunks_of(part)


class FileStream:
    """A file this process wrote itself (a directory export), read in chunks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size

    def chunks(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(FRAME_BYTES):
                yield chunk


class DuplicateFinder:
    """Exact duplicates among many keys (SHA-256 digests) in bounded memory.

    An external merge sort: keys are sorted in runs of ``RUN_KEYS`` held in memory, each
    run spooled; ``FAN_IN`` runs of one level are merged into one run of the next level,
    so that at most ``FAN_IN`` runs a level (a handful of levels) are ever merged at once,
    reading one small frame of each. A key seen before (in the order ``add`` was called)
    is a duplicate; ``result`` counts them and names the first ``keep`` in that order.
    """

    RUN_KEYS = 16_384
    FAN_IN = 8
    FRAME_BYTES = 1 << 14
    _SEQ = struct.Struct(">QQ")  # position in the stream, then the caller's id

    def __init__(self, spools: Spools, *, key_bytes: int = 32) -> None:
        self._spools = spools
        self._key_bytes = key_bytes
        self._record = key_bytes + self._SEQ.size
        self._run: list[bytes] = []
        # Level n: a spool and the frames of each of its runs (FAN_IN^n runs merged).
        self._levels: list[tuple[Spool, list[tuple[int, int]]] | None] = []
        self._seen = 0

    def add(self, key: bytes, item_id: int) -> None:
        if len(key) != self._key_bytes:
            raise ValueError(f"keys are {self._key_bytes} bytes")
        self._run.append(key + self._SEQ.pack(self._seen, item_id))
        self._seen += 1
        if len(self._run) >= self.RUN_KEYS:
            self._run.sort()
            self._write_run(0, self._run)
            self._run = []

    def _write_run(self, level: int, records: Iterable[bytes]) -> None:
        if len(self._levels) == level:
            self._levels.append(None)
        if self._levels[level] is None:
            self._levels[level] = (self._spools.new(frame_bytes=self.FRAME_BYTES), [])
        spool, runs = self._levels[level]
        start = spool.mark()
        per_frame = max(1, self.FRAME_BYTES // self._record)
        batch = []
        for record in records:
            batch.append(record)
            if len(batch) == per_frame:
                spool.write(b"".join(batch))
                batch = []
        spool.write(b"".join(batch))
        runs.append((start, spool.mark()))
        if len(runs) >= self.FAN_IN:
            self._levels[level] = None
            self._write_run(level + 1, heapq.merge(*self._runs_of(spool, runs)))
            spool.close()

    def _runs_of(self, spool: Spool, runs: list[tuple[int, int]]) -> list[Iterator[bytes]]:
        def records(start: int, stop: int) -> Iterator[bytes]:
            for chunk in spool.chunks(start, stop):
                for offset in range(0, len(chunk), self._record):
                    yield chunk[offset : offset + self._record]

        return [records(start, stop) for start, stop in runs]

    def result(self, *, keep: int) -> tuple[int, list[int]]:
        """(how many duplicates, the ids of the first ``keep`` of them in stream order)."""
        self._run.sort()
        runs = [self._run]
        for level in self._levels:
            if level is not None:
                runs += self._runs_of(*level)
        count = 0
        first: list[tuple[int, int]] = []  # the earliest duplicates: a heap of (-seq, id)
        previous = b""
        for record in heapq.merge(*runs):
            key = record[: self._key_bytes]
            if key == previous:
                count += 1
                seq, item_id = self._SEQ.unpack(record[self._key_bytes :])
                if len(first) < keep:
                    heapq.heappush(first, (-seq, item_id))
                elif keep and -first[0][0] > seq:
                    heapq.heapreplace(first, (-seq, item_id))
            previous = key
        return count, [item_id for _seq, item_id in sorted(first, reverse=True)]
