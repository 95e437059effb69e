"""The spools that keep an export's growing text out of memory, and the duplicate check."""

import hashlib
import os
import random

import pytest
from cryptography.exceptions import InvalidTag

from exports.spool import DuplicateFinder, Joined, Spool, Spools


def on_disk(spool: Spool) -> bytes:
    fd = spool._file.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0)


def test_a_spool_reads_back_what_was_written_in_frames_any_number_of_times():
    spool = Spool(frame_bytes=100)
    lines = [f"line {n} ünïcode\t{'x' * (n % 37)}" for n in range(500)]
    for line in lines:
        spool.write(f"{line}\n".encode())

    assert len(spool._offsets) > 100  # many frames: lines cross frame boundaries
    assert list(spool.lines()) == lines
    assert b"".join(spool.chunks()) == "".join(f"{line}\n" for line in lines).encode()
    assert spool.size == len(b"".join(spool.chunks()))
    spool.close()


def test_what_a_spool_puts_on_disk_is_ciphertext_under_a_key_only_it_holds():
    spool = Spool(frame_bytes=64)
    secret = "PRIVATE-TRANSCRIPTION-42"
    for _ in range(20):
        spool.write(f'"{secret}"\n'.encode())
    spool.mark()

    stored = on_disk(spool)
    assert len(stored) > spool.size  # everything was written...
    assert secret.encode() not in stored  # ...and none of it in plain form
    fd = spool._file.fileno()
    os.pwrite(fd, bytes([stored[10] ^ 1]), 10)
    with pytest.raises(InvalidTag):
        list(spool.chunks())
    spool.close()


def test_spools_are_closed_together_and_joined_files_read_piece_by_piece():
    spools = Spools()
    first, second = spools.new(frame_bytes=8), spools.new()
    first.write(b"0123456789abcdef")
    second.write(b"tail")
    joined = Joined(b"[", first, b"|", second, b"]")

    assert joined.size == 23
    assert b"".join(joined.chunks()) == b"[0123456789abcdef|tail]"
    spools.close()
    assert first._file.closed
    assert second._file.closed


@pytest.mark.parametrize("run_keys", [10_000, 7])  # in memory; runs merged on three levels
def test_the_duplicate_finder_agrees_with_a_set(monkeypatch, run_keys):
    monkeypatch.setattr(DuplicateFinder, "RUN_KEYS", run_keys)
    monkeypatch.setattr(DuplicateFinder, "FAN_IN", 3)
    monkeypatch.setattr(DuplicateFinder, "FRAME_BYTES", 100)
    rng = random.Random(8)
    keys = [hashlib.sha256(str(rng.randrange(300)).encode()).digest() for _ in range(1000)]
    finder = DuplicateFinder(Spools())

    for item_id, key in enumerate(keys, start=1000):
        finder.add(key, item_id)
    count, first = finder.result(keep=20)

    seen, duplicates = set(), []
    for item_id, key in enumerate(keys, start=1000):
        if key in seen:
            duplicates.append(item_id)
        seen.add(key)
    assert count == len(duplicates) == 1000 - len(seen)
    assert first == duplicates[:20]


def test_the_duplicate_finder_refuses_keys_of_another_length():
    with pytest.raises(ValueError, match="32 bytes"):
        DuplicateFinder(Spools()).add(b"short", 1)
