"""LMDB in the deep-text-recognition-benchmark layout.

Keys (from 1): ``image-%09d`` → PNG bytes, ``label-%09d`` → UTF-8 text, and
``num-samples`` → the count as decimal text, as that project's ``create_lmdb_dataset.py``
writes them and its ``LmdbDataset`` reads them (``lock=False``: no ``lock.mdb`` needed).

Into a directory (``export_dataset --out DIR``): one database per split folder. Into the
encrypted archive: shards of at most ``SHARD_BYTES``, ``<split>/<nnnnn>/data.mdb``, each
built in an anonymous in-memory file (``memfd_create``: no name on any file system, gone
when closed) and streamed on from it in chunks, so no crop touches a disk. A shard's
writes are committed every ``_COMMIT_EVERY`` crops (LMDB keeps a write transaction's
pages on the heap until it commits), so the process's memory does not grow with a shard.
The benchmark's ``hierarchical_dataset`` reads every database below a split's folder.
"""

import os
from pathlib import Path

from exports.formats.base import Writer
from exports.spool import FRAME_BYTES

_MAP_SIZE = 1 << 40  # address space only: the file grows as pages are written
_COMMIT_EVERY = 1000
SHARD_BYTES = 16 << 20


def _put(txn, n: int, sample) -> None:
    txn.put(b"image-%09d" % n, sample.png)
    txn.put(b"label-%09d" % n, sample.row.text.encode("utf-8"))


class _MemoryShard:
    def __init__(self, name: str) -> None:
        self.name = name
        self.fd = os.memfd_create("dropturk-lmdb-shard", os.MFD_CLOEXEC)
        self._open()
        self.count = 0
        self.bytes = 0
        self.size = 0

    def _open(self) -> None:
        import lmdb

        # No fsync: the file is memory, and it is read back only after a clean close.
        self.env = lmdb.open(
            f"/proc/self/fd/{self.fd}",
            subdir=False,
            lock=False,
            map_size=_MAP_SIZE,
            sync=False,
            metasync=False,
        )
        self.txn = self.env.begin(write=True)

    def put(self, sample) -> None:
        self.count += 1
        self.bytes += len(sample.png)
        _put(self.txn, self.count, sample)
        if self.count % _COMMIT_EVERY == 0:
            # Reopened, not only committed: the pages LMDB read through its map of the
            # file (and the kernel's read-around) would otherwise stay in this process's
            # memory, about a third of the shard by its end.
            self.txn.commit()
            self.env.close()
            self._open()

    def finish(self) -> "_MemoryShard":
        """Ends the database; the shard is then the member's data, read from its file."""
        self.txn.put(b"num-samples", str(self.count).encode())
        self.txn.commit()
        self.txn = None
        self.env.close()
        self.size = os.fstat(self.fd).st_size
        return self

    def chunks(self):
        for offset in range(0, self.size, FRAME_BYTES):
            yield os.pread(self.fd, min(FRAME_BYTES, self.size - offset), offset)

    def close(self) -> None:
        if self.txn is not None:
            self.txn.abort()
            self.env.close()
            self.txn = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LmdbWriter(Writer):
    name = "lmdb"
    writes_directory = True

    def members(self, samples, ctx):
        open_shards: dict[str, _MemoryShard] = {}
        numbers: dict[str, int] = {}

        def finished(shard: _MemoryShard):
            # Closed once the consumer asks for the next member: it has read this one.
            try:
                yield f"{shard.name}/data.mdb", shard.finish()
            finally:
                shard.close()

        try:
            for sample in samples:
                split = sample.row.split
                shard = open_shards.get(split)
                if shard is None:
                    numbers[split] = numbers.get(split, 0) + 1
                    shard = open_shards[split] = _MemoryShard(f"{split}/{numbers[split]:05d}")
                shard.put(sample)
                if shard.bytes >= SHARD_BYTES:
                    yield from finished(open_shards.pop(split))
            while open_shards:
                yield from finished(open_shards.pop(next(iter(open_shards))))
        finally:
            for shard in open_shards.values():
                shard.close()

    def write_dir(self, samples, ctx, out: Path) -> list[str]:
        import lmdb

        envs: dict[str, list] = {}
        try:
            for sample in samples:
                split = sample.row.split
                if split not in envs:
                    (out / split).mkdir(parents=True, exist_ok=True)
                    env = lmdb.open(str(out / split), map_size=_MAP_SIZE, subdir=True)
                    envs[split] = [env, env.begin(write=True), 0]
                entry = envs[split]
                entry[2] += 1
                _put(entry[1], entry[2], sample)
                if entry[2] % _COMMIT_EVERY == 0:
                    entry[1].commit()
                    entry[1] = entry[0].begin(write=True)
            for _env, txn, n in envs.values():
                txn.put(b"num-samples", str(n).encode())
                txn.commit()
        finally:
            for env, _txn, _n in envs.values():
                env.close()
        return sorted(
            str(path.relative_to(out)) for split in envs for path in (out / split).iterdir()
        )
