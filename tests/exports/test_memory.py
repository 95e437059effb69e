"""Constant memory: what an export holds at once does not grow with its number of crops.

Every format streams synthetic crops through the writer, the manifest, the tar and the
encryption (as the Celery build does), with frames, runs, chunks and LMDB shards made
small so that each reaches its bound within a few hundred crops; then four times the
crops must not raise the peak of Python's allocations. Before the spools, the indexes,
the file list and the duplicate check grew by some 450 bytes a crop (1.3 MB here).
"""

import tracemalloc

import pytest

from benchmarks.export_speed import synthetic_samples
from exports import archive, services, spool
from exports.formats import WRITERS, WriteContext, lmdb_dtrb
from exports.manifest import ManifestBuilder
from exports.spool import DuplicateFinder

GROWTH_ALLOWED = 100_000  # bytes, from 1,000 to 4,000 crops


def peak_bytes(fmt: str, crops: int) -> int:
    samples = list(synthetic_samples(1))
    page = samples[0].png
    ctx = WriteContext(document_image=lambda row: page, notes=[])
    tracemalloc.start()
    try:
        manifest = ManifestBuilder(header={"format": fmt}, spools=ctx.spools)
        members = services.stream_members(
            fmt=fmt, samples=synthetic_samples(crops), manifest=manifest, ctx=ctx
        )
        sealed = archive.encrypt_stream(
            archive.tar_stream(members, mtime=0), key=bytes(32), export_id="memory"
        )
        size = sum(len(piece) for piece in sealed)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        ctx.spools.close()
    assert size > crops * 100
    return peak


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_the_peak_does_not_grow_with_the_crops(fmt, monkeypatch):
    monkeypatch.setattr(spool, "FRAME_BYTES", 4096)
    monkeypatch.setattr(archive, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(DuplicateFinder, "RUN_KEYS", 256)
    monkeypatch.setattr(DuplicateFinder, "FRAME_BYTES", 1024)
    monkeypatch.setattr(lmdb_dtrb, "SHARD_BYTES", 64 << 10)

    small, large = peak_bytes(fmt, 1000), peak_bytes(fmt, 4000)

    assert large - small < GROWTH_ALLOWED, (small, large)


def test_builds_pin_the_mmap_threshold_of_glibc():
    from exports import memory

    assert memory.pin_mmap_threshold() is True  # Debian's glibc, as in production
