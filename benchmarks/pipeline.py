"""Benchmark: how fast a donation goes through validation, storage and the OCR pipeline.

Runs in-process against the configured database (a throwaway SQLite file unless
DATABASE_URL is set) and a temporary encrypted blob folder, and prints one line per
stage: documents per second for ingest, and seconds per page / ms per crop for
detection and prefill. Real receipts from the development sample are used when present,
synthetic documents otherwise.

    make bench            # or: .venv/bin/python -m benchmarks.pipeline --pages 10
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _pages(count: int) -> tuple[str, list[bytes]]:
    shared = Path(
        os.environ.get(
            "DROPTURK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    receipts = sorted((shared / "sroie-receipts").glob("*.jpg"))
    if receipts:
        return "SROIE receipts", [path.read_bytes() for path in receipts[:count]]
    from ocr.synthetic import render_document

    pages = []
    for seed in range(count):
        out = io.BytesIO()
        render_document(kind="receipt", seed=seed).image.save(out, format="PNG")
        pages.append(out.getvalue())
    return "synthetic receipts", pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dropturk-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DROPTURK_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dropturk.settings")
    os.environ.setdefault("DROPTURK_SECRETS_DIR", str(workdir / "secrets"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from annotations.images import normalize_image
    from annotations.models import WordCrop
    from annotations.services import donation_create, service_token_create
    from ocr_bridge import services

    source, pages = _pages(args.pages)
    token, _ = service_token_create(name=f"bench-{time.time_ns()}")

    started = time.perf_counter()
    donations = [
        donation_create(source=token, kind="receipt", image=normalize_image(p)) for p in pages
    ]
    ingest = time.perf_counter() - started

    detect_times, prefill_times = [], []
    for donation in donations:
        t0 = time.perf_counter()
        services.donation_detect_words(donation_id=donation.pk)
        t1 = time.perf_counter()
        services.donation_prefill(donation_id=donation.pk)
        detect_times.append(t1 - t0)
        prefill_times.append(time.perf_counter() - t1)
    crops = WordCrop.objects.filter(donation__in=donations).count()

    sys.stdout.write(
        f"pipeline benchmark on {len(pages)} {source}\n"
        f"  ingest (validate, re-encode, encrypt, store): {len(pages) / ingest:.1f} documents/s\n"
        f"  word detection: median {statistics.median(detect_times):.2f} s/page\n"
        f"  prefill (decrypt + Tesseract): median {statistics.median(prefill_times):.2f} s/page, "
        f"{1000 * sum(prefill_times) / max(crops, 1):.1f} ms/crop over {crops} crops\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
