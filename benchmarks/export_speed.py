"""Benchmark: how fast each export format writes N labeled crops, and at what peak memory.

The rows are synthetic (no database, a few distinct word images reused), so this
measures what the exports code itself costs: the writer, the manifest (hashes, lint),
the tar and the AES-GCM chunk encryption into a file of ciphertext, as the Celery build
streams them (LMDB as in-memory shards). Each (format, size)
runs in a fresh process, so its peak RSS is its own. Prints one JSON line each:
``{"format", "crops", "seconds", "peak_rss_mb"}``.

    make bench-export        # or: .venv/bin/python -m benchmarks.export_speed --crops 10000
"""

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMATS = ("imagefolder", "lmdb", "paddleocr", "doctr", "tesstrain", "jsonl", "coco_text")
DISTINCT_IMAGES = 16
CROPS_PER_DOCUMENT = 40


def _setup(workdir: Path) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DROPTURK_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dropturk.settings")
    os.environ.setdefault("DROPTURK_SECRETS_DIR", str(workdir / "secrets"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _images() -> list[bytes]:
    from PIL import Image, ImageDraw

    images = []
    for n in range(DISTINCT_IMAGES):
        image = Image.new("L", (120, 32), 255)
        ImageDraw.Draw(image).text((4, 8), f"word{n}", fill=0)
        out = io.BytesIO()
        image.save(out, format="PNG")
        images.append(out.getvalue())
    return images


def _samples(crops: int):
    import uuid

    from exports.formats import Sample
    from exports.selectors import ExportRow, split_of

    images = _images()
    for n in range(crops):
        donation_id = str(uuid.UUID(int=n // CROPS_PER_DOCUMENT + 1))
        row = ExportRow(
            crop_id=n + 1,
            label_id=n + 1,
            donation_id=donation_id,
            document_kind="receipt",
            crop_index=n % CROPS_PER_DOCUMENT,
            box=(10 * (n % CROPS_PER_DOCUMENT), 20, 120, 32),
            page_size=(1240, 1754),
            image_name="",
            document_image_name="",
            document_image_format="png",
            text=f"word{n % 997}",
            rotated=False,
            non_english=False,
            unreadable=False,
            consensus_confidence=1.0,
            prefill_text=f"word{n % 997}",
            prefill_engine="crnn",
            prefill_engine_version="bench",
            labeled_at="2026-01-01T00:00:00+00:00",
            split=split_of(donation_id),
        )
        yield Sample(row=row, png=images[n % DISTINCT_IMAGES])


def run_one(fmt: str, crops: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        workdir = Path(tmp)
        _setup(workdir)
        from exports import archive, services
        from exports.formats import WriteContext
        from exports.manifest import ManifestBuilder

        page = _images()[0]
        ctx = WriteContext(document_image=lambda row: page, notes=[])
        header = {"format": fmt, "filters": {}, "lineage": {"source": "benchmark"}}
        started = time.perf_counter()
        members = services.stream_members(
            fmt=fmt, samples=_samples(crops), manifest=ManifestBuilder(header=header), ctx=ctx
        )
        sealed = archive.encrypt_stream(
            archive.tar_stream(members, mtime=0), key=os.urandom(32), export_id="bench"
        )
        with (workdir / "archive.tar.enc").open("wb") as handle:
            for piece in sealed:
                handle.write(piece)
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "format": fmt,
        "crops": crops,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--one", nargs=2, metavar=("FORMAT", "CROPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    for crops in args.crops:
        for fmt in args.formats:
            child = subprocess.run(  # noqa: S603  our own module, fixed arguments
                [sys.executable, "-m", "benchmarks.export_speed", "--one", fmt, str(crops)],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            sys.stderr.write(
                f"{fmt:12s} {crops:>7,} crops  {result['seconds']:7.2f} s  "
                f"peak RSS {result['peak_rss_mb']:7.1f} MB\n"
            )
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
