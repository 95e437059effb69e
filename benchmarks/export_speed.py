"""Benchmark: how fast each export format writes N labeled crops, and at what peak memory.

The rows are synthetic (no database, a few distinct word images reused), so this
measures what the exports code itself costs: the writer, the manifest (hashes, lint),
the tar and the AES-GCM chunk encryption into a file of ciphertext, as the Celery build
streams them (LMDB as in-memory shards). Each (format, size)
runs in a fresh process, so its peak RSS is its own. Prints one JSON line each:
``{"format", "crops", "seconds", "peak_rss_mb"}``.

``--end-to-end`` measures the real build instead: crops seeded into a scratch PostgreSQL
database (``--database`` on the server of ``--admin-url``, dropped at the end) with
encrypted blobs in a temporary folder (one process), then ``services.export_build`` per
format (one process each): server-side cursor, decryption, writer, tar, encryption,
storage.

    make bench-export        # or: .venv/bin/python -m benchmarks.export_speed --crops 10000
    .venv/bin/python -m benchmarks.export_speed --end-to-end --crops 10000 --formats lmdb
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


def synthetic_samples(crops: int):
    """``crops`` samples of 40 crops a document, 16 distinct word images reused."""
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
            fmt=fmt,
            samples=synthetic_samples(crops),
            manifest=ManifestBuilder(header=header, spools=ctx.spools),
            ctx=ctx,
        )
        sealed = archive.encrypt_stream(
            archive.tar_stream(members, mtime=0), key=os.urandom(32), export_id="bench"
        )
        with (workdir / "archive.tar.enc").open("wb") as handle:
            for piece in sealed:
                handle.write(piece)
        ctx.spools.close()
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "format": fmt,
        "crops": crops,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def seed(crops: int) -> None:
    """Labeled crops through the real encryption and storage, rows in bulk."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotations import blobs, roles
    from annotations.images import normalize_image
    from annotations.models import DonationStatus, Label, Task, TaskStatus, WordCrop
    from annotations.services import donation_create, service_token_create
    from quality.models import ConsensusState, CropConsensus, DecidedBy

    token, _ = service_token_create(name="bench-export")
    users = get_user_model().objects
    engineer = users.create_user(username="bench-ml", password=None)
    engineer.groups.set(Group.objects.filter(name=roles.ML_ENGINEER))
    annotator = users.create_user(username="bench-annotator", password=None)
    images = _images()
    page = normalize_image(images[0])
    for first in range(0, crops, CROPS_PER_DOCUMENT):
        donation = donation_create(source=token, kind="receipt", image=page)
        key = blobs.data_key_for(donation)
        rows = []
        for index in range(min(CROPS_PER_DOCUMENT, crops - first)):
            name = blobs.crop_name(donation.pk, index)
            png = images[(first + index) % DISTINCT_IMAGES]
            blobs.blob_put(donation=donation, name=name, plaintext=png, data_key=key)
            rows.append(
                WordCrop(
                    donation=donation,
                    index=index,
                    x=0,
                    y=0,
                    width=120,
                    height=32,
                    image_name=name,
                    prefill_text="word",
                    prefill_engine="crnn",
                    prefill_engine_version="bench",
                )
            )
        rows = WordCrop.objects.bulk_create(rows)
        tasks = Task.objects.bulk_create([Task(crop=c, status=TaskStatus.DONE) for c in rows])
        labels = Label.objects.bulk_create(
            [
                Label(task=t, crop=c, annotator=annotator, text=f"word{(first + i) % 997}")
                for i, (c, t) in enumerate(zip(rows, tasks, strict=True))
            ]
        )
        # Accepted by agreeing annotators, as quality.consensus decides it.
        CropConsensus.objects.bulk_create(
            [
                CropConsensus(
                    crop=label.crop,
                    label=label,
                    text=label.text,
                    state=ConsensusState.ACCEPTED,
                    confidence=1.0,
                    n_labels=1,
                    decided_by=DecidedBy.CONSENSUS,
                )
                for label in labels
            ]
        )
        donation.status = DonationStatus.READY
        donation.save(update_fields=["status"])


def build_one(fmt: str, crops: int) -> dict:
    from django.contrib.auth import get_user_model

    from exports import services
    from exports.selectors import ExportFilters

    services.current_app.send_task = lambda *args, **kwargs: None  # built here, not queued
    engineer = get_user_model().objects.get(username="bench-ml")
    export = services.export_request(user=engineer, format=fmt, filters=ExportFilters())
    started = time.perf_counter()
    export = services.export_build(export_id=export.pk)
    seconds = time.perf_counter() - started
    if export.status != "done" or export.total != crops:
        raise SystemExit(f"{fmt}: {export.status} {export.total} {export.reason}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "format": fmt,
        "crops": crops,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "end_to_end": True,
    }


def _child(*args: str) -> str:
    child = subprocess.run(  # noqa: S603  our own module, fixed arguments
        [sys.executable, "-m", "benchmarks.export_speed", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return child.stdout.strip().splitlines()[-1] if child.stdout.strip() else ""


def _report(result: dict) -> None:
    sys.stderr.write(
        f"{result['format']:12s} {result['crops']:>7,} crops  {result['seconds']:7.2f} s  "
        f"peak RSS {result['peak_rss_mb']:7.1f} MB\n"
    )
    print(json.dumps(result), flush=True)


def end_to_end(crops_list: list[int], formats: list[str], database) -> None:
    for crops in crops_list:
        database.recreate()
        try:
            with tempfile.TemporaryDirectory(prefix="bench-export-e2e-") as tmp:
                os.environ["DATABASE_URL"] = database.url
                os.environ["DROPTURK_DATA_DIR"] = tmp
                os.environ["DROPTURK_SECRETS_DIR"] = str(Path(tmp) / "secrets")
                os.environ.pop("REDIS_URL", None)  # the seed's OCR messages go nowhere
                os.environ.pop("S3_BUCKET", None)  # blobs and archives in the folder
                started = time.perf_counter()
                _child("--seed", str(crops))
                seconds = time.perf_counter() - started
                sys.stderr.write(f"seeded {crops:,} crops in {seconds:.1f} s\n")
                for fmt in formats:
                    _report(json.loads(_child("--build", fmt, str(crops))))
        finally:
            database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--end-to-end", action="store_true", help="seed a database, build")
    parser.add_argument("--database", default="dropturk_bench_export")
    parser.add_argument("--admin-url", help="the server's maintenance database (postgres)")
    parser.add_argument("--one", nargs=2, metavar=("FORMAT", "CROPS"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("FORMAT", "CROPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    if args.seed or args.build:
        _setup(Path(os.environ["DROPTURK_DATA_DIR"]))
        if args.seed:
            seed(args.seed)
        else:
            print(json.dumps(build_one(args.build[0], int(args.build[1]))))
        return
    if args.end_to_end:
        from benchmarks.annotator_loop import BenchDatabase, _default_admin_url

        database = BenchDatabase(args.admin_url or _default_admin_url(), args.database)
        end_to_end(args.crops, args.formats, database)
        return
    for crops in args.crops:
        for fmt in args.formats:
            _report(json.loads(_child("--one", fmt, str(crops))))


if __name__ == "__main__":
    main()
