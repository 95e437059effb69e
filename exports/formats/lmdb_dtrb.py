"""LMDB in the deep-text-recognition-benchmark layout, one database per split folder.

Keys (from 1): ``image-%09d`` → PNG bytes, ``label-%09d`` → UTF-8 text, and
``num-samples`` → the count as decimal text, as that project's ``create_lmdb_dataset.py``
writes them and its ``LmdbDataset`` reads them.
"""

from pathlib import Path

from exports.formats.base import Writer

_MAP_SIZE = 1 << 40  # address space only: the file grows as pages are written
_COMMIT_EVERY = 1000


class LmdbWriter(Writer):
    name = "lmdb"
    needs_directory = True

    def write_dir(self, samples, ctx, out: Path) -> list[str]:
        import lmdb

        envs: dict[str, tuple] = {}
        try:
            for sample in samples:
                split = sample.row.split
                if split not in envs:
                    (out / split).mkdir(parents=True, exist_ok=True)
                    env = lmdb.open(str(out / split), map_size=_MAP_SIZE, subdir=True)
                    envs[split] = [env, env.begin(write=True), 0]
                entry = envs[split]
                entry[2] += 1
                n = entry[2]
                entry[1].put(b"image-%09d" % n, sample.png)
                entry[1].put(b"label-%09d" % n, sample.row.text.encode("utf-8"))
                if n % _COMMIT_EVERY == 0:
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
