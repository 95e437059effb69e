"""Tar streams and their encryption in chunks, so an export never exists in plain form
outside memory, and memory holds one chunk at a time.

Encrypted layout: ``b"DTX1"``, then frames ``length (4 bytes, big-endian) | nonce (12) |
ciphertext+tag``, each sealing up to ``CHUNK_BYTES`` of the tar with AES-256-GCM. The
associated data names the export, the frame's position and whether it is the last, so
frames cannot be reordered, swapped between exports, or cut off at the end unnoticed.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import struct
import tarfile
import threading
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.files.base import File

from exports.spool import Data, chunks_of, size_of

MAGIC = b"DTX1"
CHUNK_BYTES = 1 << 20
_NONCE = 12
_BLOCK = 512


class ArchiveError(Exception):
    """An encrypted archive that does not open: wrong key, altered, reordered or cut."""


def tar_stream(members: Iterable[tuple[str, Data]], *, mtime: float) -> Iterator[bytes]:
    """A POSIX tar of the members, produced piece by piece (no file, no seeking)."""
    for path, data in members:
        info = tarfile.TarInfo(name=path)
        info.size = size_of(data)
        info.mtime = int(mtime)
        info.mode = 0o644
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        written = 0
        for chunk in chunks_of(data):
            written += len(chunk)
            yield chunk
        if written != info.size:
            raise RuntimeError(f"{path}: {written} bytes written, {info.size} announced")
        if padding := -info.size % _BLOCK:
            yield b"\0" * padding
    yield b"\0" * (2 * _BLOCK)


class Digest:
    """Passes a byte stream through, counting its bytes and its SHA-256."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def through(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self.sha256.update(piece)
            self.size += len(piece)
            yield piece


def _aad(export_id: str, index: int, last: bool) -> bytes:
    return f"export:{export_id}:{index}:{'last' if last else 'more'}".encode()


def _rechunk(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Chunks of exactly ``size`` bytes (the last one shorter), never copying a large
    piece whole."""
    buffer = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        while view:
            take = size - len(buffer)
            buffer += view[:take]
            view = view[take:]
            if len(buffer) == size:
                yield bytes(buffer)
                buffer.clear()
    yield bytes(buffer)


def encrypt_stream(pieces: Iterable[bytes], *, key: bytes, export_id: str) -> Iterator[bytes]:
    aead = AESGCM(key)
    yield MAGIC
    chunks = _rechunk(pieces, CHUNK_BYTES)
    current = next(chunks)
    index = 0
    for following in chunks:
        yield _frame(aead, current, _aad(export_id, index, last=False))
        current, index = following, index + 1
    yield _frame(aead, current, _aad(export_id, index, last=True))


def _frame(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    sealed = aead.encrypt(nonce, plaintext, aad)
    return struct.pack(">I", len(sealed)) + nonce + sealed


def decrypt_stream(handle: io.RawIOBase, *, key: bytes, export_id: str) -> Iterator[bytes]:
    """The plaintext, a chunk at a time, from a readable handle on the encrypted archive."""
    if handle.read(len(MAGIC)) != MAGIC:
        raise ArchiveError("not a DropTurk export archive")
    aead = AESGCM(key)
    index = 0
    while True:
        head = handle.read(4 + _NONCE)
        if len(head) < 4 + _NONCE:
            raise ArchiveError("archive cut off before its last chunk")
        (length,) = struct.unpack(">I", head[:4])
        sealed = handle.read(length)
        if len(sealed) != length:
            raise ArchiveError("archive cut off inside a chunk")
        nonce = head[4:]
        for last in (False, True):
            try:
                plaintext = aead.decrypt(nonce, sealed, _aad(export_id, index, last))
            except InvalidTag:
                continue
            yield plaintext
            if last:
                if handle.read(1):
                    raise ArchiveError("data after the last chunk")
                return
            break
        else:
            raise ArchiveError("chunk does not open: wrong key, altered or reordered")
        index += 1


_END = object()
_ABORT = object()
_QUEUED_PIECES = 4


class _QueueReader(io.RawIOBase):
    """A read-only file whose bytes arrive through a queue from another thread."""

    def __init__(self, pieces: queue.Queue) -> None:
        self._pieces = pieces
        self._buffer = memoryview(b"")  # sliced without copying what is left
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer and not self._ended:
            piece = self._pieces.get()
            if piece is _ABORT:
                raise OSError("the export build stopped")
            if piece is _END:
                self._ended = True
            else:
                self._buffer = memoryview(piece)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def save_streaming(storage, name: str, pieces: Iterable[bytes]) -> str:
    """``storage.save(name, ...)`` of the pieces, with the pieces produced in this thread.

    Storages may read from their own threads (S3's multipart upload does); the pieces come
    from a database cursor and progress updates, which belong to the caller's thread and
    connection. So the storage reads in a helper thread from a small bounded queue, and
    this thread produces: memory stays at a few chunks. If producing fails, the storage's
    read fails too, and the caller removes whatever was written.
    """
    handoff: queue.Queue = queue.Queue(maxsize=_QUEUED_PIECES)
    outcome: dict[str, object] = {}

    def consume() -> None:
        try:
            outcome["name"] = storage.save(name, File(_QueueReader(handoff), name=name))
        except BaseException as exc:
            outcome["error"] = exc

    reader = threading.Thread(target=consume, name=f"export-save-{name}", daemon=True)
    reader.start()

    def hand(item: object) -> None:
        while reader.is_alive():
            try:
                handoff.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    try:
        for piece in pieces:
            if "error" in outcome:
                break
            hand(piece)
    except BaseException:
        hand(_ABORT)
        reader.join()
        raise
    hand(_END)
    reader.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["name"]
