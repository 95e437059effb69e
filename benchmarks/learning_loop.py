"""Benchmark: the learning loop on real receipts, from donation to a better recognizer.

    make bench-loop          # or: .venv/bin/python -m benchmarks.learning_loop

1. Ingests the SROIE receipts of ``../shared/data/sroie-receipts`` into a scratch
   PostgreSQL database through the real services: each receipt a donation (encrypted),
   its word crops the single-token segments' rectangles (as `ocr.recognition.crops`
   cuts them), pre-filled by the pipeline with the active (shipped, synthetic-only)
   model. Receipts are split 80/20 by receipt: the evaluation receipts get donation ids
   that ``exports.selectors.split_of`` puts in the frozen test split, so the platform
   itself keeps them out of training (their crops are labeled like the others).
2. Simulated annotators label through ``task_lease_next`` / ``label_submit``: the truth
   with realistic noise (typos, case slips, wrong flags), one careless annotator among
   five; quality's redundancy and consensus (``quality.consensus``) decide each crop, the
   reliability estimate is refreshed as beat would, and a simulated reviewer settles the
   disputed crops with the truth.
3. Retrains through ``ocr_bridge.learning`` (what the Celery task ``ocr_bridge.retrain``
   runs) on growing shares of the labeled receipts, each from the shipped model (nothing
   promoted in between), and reads the evaluation receipts' word crops with each model.

Prints consensus accuracy, accuracy and CER before and after against the number of labels
used, saves the learning curve as a PNG (``--plot``), writes the last retrained model's
weights to ``--save-weights PATH`` when asked (so that ``ocr.evaluate --weights PATH``
can measure it anywhere), and ends with one JSON line:
``{"labels", "consensus_accuracy", "accuracy_before", "accuracy_after", "cer_after"}``
(case-insensitive, fractions). Never writes a crop to disk: the data folder is read only.
The platform keeps its weights as ciphertext; ``--save-weights`` is the one place a model
leaves it in the clear, and only to the path its caller names (a model of development
data, for measuring, never to ship).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import random
import shutil
import string
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from benchmarks.loop.database import (
    BenchDatabase,
    bench_environment,
    flush_bench_redis,
    migrate,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sroie-receipts"
DEFAULT_PLOT = REPO / "docs" / "learning-curve.png"
LEASE_BATCH = 20
STATS_EVERY = 400  # labels between two reliability refreshes (beat's job in production)

log = logging.getLogger("benchmarks.learning_loop")
log.setLevel(logging.INFO)


# --- Simulated annotators -------------------------------------------------------------


@dataclass(frozen=True)
class Annotator:
    """How often a person slips on a word: a typo, a case slip, a wrong flag."""

    name: str
    typo: float
    case_slip: float
    wrong_flag: float


ANNOTATORS = (
    Annotator("careful-1", typo=0.02, case_slip=0.03, wrong_flag=0.005),
    Annotator("careful-2", typo=0.03, case_slip=0.02, wrong_flag=0.005),
    Annotator("careful-3", typo=0.02, case_slip=0.05, wrong_flag=0.01),
    Annotator("careful-4", typo=0.04, case_slip=0.02, wrong_flag=0.01),
    Annotator("careless", typo=0.30, case_slip=0.15, wrong_flag=0.05),
)
# Keys next to each other on a keyboard, and the look-alikes people confuse.
_NEIGHBOURS = {
    **dict(zip("qwertyuiop", "wertyuiopq", strict=True)),
    **dict(zip("asdfghjkl", "sdfghjkla", strict=True)),
    **dict(zip("zxcvbnm", "xcvbnmz", strict=True)),
    **dict(zip("0123456789", "9012345678", strict=True)),
    "o": "0",
    ".": ",",
    ",": ".",
    ":": ";",
}


def typo(rng: random.Random, text: str) -> str:
    """One slip of the fingers: a neighbouring key, a dropped, doubled or swapped character."""
    if not text:
        return rng.choice(string.ascii_uppercase)
    position = rng.randrange(len(text))
    kind = rng.random()
    if kind < 0.45:
        char = text[position]
        other = _NEIGHBOURS.get(char.lower(), rng.choice(string.ascii_lowercase))
        other = other.upper() if char.isupper() else other
        return text[:position] + other + text[position + 1 :]
    if kind < 0.7 and len(text) > 1:
        return text[:position] + text[position + 1 :]
    if kind < 0.85:
        return text[: position + 1] + text[position:]
    if position + 1 < len(text):
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    return text + rng.choice(".,:")


def noisy_label(rng: random.Random, annotator: Annotator, truth: str) -> dict:
    """What this person types for a crop whose true text is ``truth``."""
    text = truth
    if rng.random() < annotator.typo:
        text = typo(rng, text)
        if annotator.typo > 0.2 and rng.random() < 0.3:
            text = typo(rng, text)
    if rng.random() < annotator.case_slip:
        text = text.lower() if rng.random() < 0.7 else text.title()
    flags = {"rotated": False, "non_english": False, "unreadable": False}
    if rng.random() < annotator.wrong_flag:
        flags[rng.choice(tuple(flags))] = True
    return {"text": text, **flags}


# --- The receipts ----------------------------------------------------------------------


@dataclass
class Receipt:
    name: str
    image: Path
    words: list[tuple[str, tuple[int, int, int, int]]]  # truth, (left, top, right, bottom)
    evaluation: bool = False
    donation_id: uuid.UUID | None = None
    crop_truth: dict[int, str] = field(default_factory=dict)  # crop id -> true text


def load_receipts(folder: Path, *, limit: int | None, seed: int) -> list[Receipt]:
    """The receipts with their single-token segments, 20% (by receipt) for evaluation."""
    from PIL import Image

    # The segment reader of ocr.recognition.crops: the same words, boxes and order as
    # sroie_word_crops (bench-ocr's crops), with the boxes this benchmark stores.
    from ocr.recognition.crops import _sroie_words

    receipts = []
    for image in sorted(folder.glob("*.jpg")):
        truth = image.with_name(image.stem + ".box.csv")
        if not truth.is_file():
            continue
        with Image.open(image) as page:
            width, height = page.size
        words = []
        for text, (left, top, right, bottom) in _sroie_words(truth):
            box = (max(0, left), max(0, top), min(width, right), min(height, bottom))
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 4:  # as sroie_word_crops keeps
                words.append((text, box))
        receipts.append(Receipt(name=image.name, image=image, words=words))
    rng = random.Random(seed)
    rng.shuffle(receipts)
    receipts = receipts[:limit] if limit else receipts
    for receipt in receipts[: max(1, round(0.2 * len(receipts)))]:
        receipt.evaluation = True
    return sorted(receipts, key=lambda r: r.name)


def split_id(*, name: str, evaluation: bool) -> uuid.UUID:
    """A donation id that the platform's split rule puts in the frozen test split (for an
    evaluation receipt) or in the training split, searched from the receipt's name."""
    from exports.selectors import split_of

    wanted = "test" if evaluation else "train"
    for counter in range(100_000):
        digest = hashlib.sha256(f"{name}:{counter}".encode()).digest()[:16]
        candidate = uuid.UUID(bytes=digest, version=4)
        if split_of(candidate) == wanted:
            return candidate
    raise RuntimeError("no id found")


# --- Steps ---------------------------------------------------------------------------------


def ingest(receipts: list[Receipt]) -> None:
    """Each receipt through the real services: donation, crops, prefill with the active model."""
    from PIL import Image

    from annotations.images import normalize_image
    from annotations.services import (
        CropInput,
        donation_create,
        donation_start_processing,
        donation_store_crops,
        service_token_create,
    )
    from ocr_bridge.services import donation_prefill

    token, _ = service_token_create(name="learning-loop-bench")
    for receipt in receipts:
        receipt.donation_id = split_id(name=receipt.name, evaluation=receipt.evaluation)
        with mock.patch("annotations.services.uuid.uuid4", return_value=receipt.donation_id):
            donation = donation_create(
                source=token, kind="receipt", image=normalize_image(receipt.image.read_bytes())
            )
        donation_start_processing(donation_id=donation.pk)
        with Image.open(receipt.image) as page:
            gray = page.convert("L")
        crops = []
        for _, (left, top, right, bottom) in receipt.words:
            out = io.BytesIO()
            gray.crop((left, top, right, bottom)).save(out, format="PNG", compress_level=3)
            crops.append(
                CropInput(
                    x=left, y=top, width=right - left, height=bottom - top, png=out.getvalue()
                )
            )
        donation_store_crops(donation=donation, crops=crops)
        assert donation_prefill(donation_id=str(donation.pk)), receipt.name
        by_index = dict(donation.crops.values_list("index", "pk"))
        receipt.crop_truth = {by_index[i]: text for i, (text, _) in enumerate(receipt.words)}


def label(receipts: list[Receipt], *, seed: int) -> dict:
    """Simulated annotators work the queue until it is empty; a reviewer settles disputes."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotations import roles
    from annotations.services import label_submit, task_lease_next
    from quality.models import ConsensusState, CropConsensus, DecidedBy
    from quality.services import (
        ReviewAnswer,
        annotator_stats_refresh,
        review_decide,
        review_lease_next,
    )

    truth = {crop: text for r in receipts for crop, text in r.crop_truth.items()}
    users = get_user_model()
    annotator_group = Group.objects.get(name=roles.ANNOTATOR)
    people = []
    for annotator in ANNOTATORS:
        user = users.objects.create_user(username=annotator.name)
        user.groups.add(annotator_group)
        people.append((annotator, user))
    reviewer = users.objects.create_user(username="reviewer")
    reviewer.groups.add(Group.objects.get(name=roles.REVIEWER))
    rng = random.Random(seed)
    labels = since_refresh = 0
    while True:
        worked = False
        for annotator, user in people:
            for task in task_lease_next(user=user, count=LEASE_BATCH):
                worked = True
                answer = noisy_label(rng, annotator, truth[task.crop_id])
                label_submit(user=user, task_id=task.pk, **answer)
                labels += 1
                since_refresh += 1
            if since_refresh >= STATS_EVERY:
                annotator_stats_refresh()
                since_refresh = 0
        if not worked:
            break
    annotator_stats_refresh()
    reviewed = 0
    while (item := review_lease_next(reviewer=reviewer)) is not None:
        right = truth[item.crop_id]
        matching = [
            label.pk
            for label in item.crop.labels.filter(revision__isnull=True)
            if _same(label.text, right)
            and not (label.rotated or label.non_english or label.unreadable)
        ]
        if matching:
            review_decide(
                reviewer=reviewer, crop_id=item.crop_id, decision="accept", label_id=matching[0]
            )
        else:
            review_decide(
                reviewer=reviewer,
                crop_id=item.crop_id,
                decision="fix",
                answer=ReviewAnswer(text=right),
            )
        reviewed += 1
    by_consensus = CropConsensus.objects.filter(
        state=ConsensusState.ACCEPTED, decided_by=DecidedBy.CONSENSUS
    ).values_list("crop_id", "text")
    agreeing = [_same(text, truth[crop]) for crop, text in by_consensus]
    accepted = CropConsensus.objects.filter(state=ConsensusState.ACCEPTED).values_list(
        "crop_id", "text"
    )
    return {
        "labels_typed": labels,
        "crops": len(truth),
        "accepted_by_consensus": len(agreeing),
        "consensus_accuracy": sum(agreeing) / max(1, len(agreeing)),
        "reviewed": reviewed,
        "accepted_accuracy": sum(_same(t, truth[c]) for c, t in accepted) / max(1, len(accepted)),
    }


def _same(text: str, truth: str) -> bool:
    return " ".join(text.split()).casefold() == " ".join(truth.split()).casefold()


def evaluation_crops(receipts: list[Receipt]):
    """The evaluation receipts' word crops (decrypted, in memory) and their true texts."""
    from annotations.models import WordCrop
    from ocr_bridge.learning import crops_read
    from ocr_bridge.selectors import LabelledCropRef

    refs = []
    for receipt in receipts:
        if not receipt.evaluation:
            continue
        for crop in WordCrop.objects.filter(pk__in=receipt.crop_truth).select_related("donation"):
            refs.append(
                LabelledCropRef(
                    label_id=0,
                    crop_id=crop.pk,
                    donation_id=str(crop.donation_id),
                    kind=crop.donation.kind,
                    image_name=crop.image_name,
                    text=receipt.crop_truth[crop.pk],
                    rotated=False,
                )
            )
    return crops_read(refs)


def read_with(weights_bytes: bytes, crops) -> dict:
    from ocr.recognition.metrics import score
    from ocr.recognition.predictor import Predictor

    started = time.perf_counter()
    readings = Predictor(weights_bytes).predict(crops.images)
    scores = score([r.text for r in crops.refs], [d.text for d in readings], [0.0] * len(readings))
    return {
        "n": scores.n,
        "accuracy": round(scores.accuracy_nocase, 4),
        "cer": round(scores.cer_nocase, 4),
        "accuracy_strict": round(scores.accuracy, 4),
        "seconds": round(time.perf_counter() - started, 1),
    }


def retrain(*, shares: list[float], options: dict, training_labels: int) -> list[dict]:
    """One retraining per share of the labeled documents, each from the shipped model."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from annotations import roles
    from ocr_bridge import learning, weights
    from ocr_bridge.models import ModelStatus

    engineer = get_user_model().objects.create_user(username="ml-engineer")
    engineer.groups.add(Group.objects.get(name=roles.ML_ENGINEER))
    versions = []
    for share in shares:
        wanted = max(1, round(share * training_labels)) if share < 1 else 0
        chosen = learning.RetrainOptions(**{**options, "max_labels": wanted})
        started = time.perf_counter()
        version = learning.model_retrain_request(user=engineer, options=chosen)
        version = learning.model_retrain(version_id=version.pk)
        if version.status != ModelStatus.READY:
            raise RuntimeError(f"retraining failed: {version.reason}")
        log.info(
            "retrained %s on %d labels in %.0f s",
            version.name,
            version.label_count,
            time.perf_counter() - started,
        )
        versions.append({"version": version, "weights": weights.weights_read(version)})
    learning.model_promote(version_id=versions[-1]["version"].pk, user=engineer)
    return versions


# --- The learning curve ------------------------------------------------------------------


def plot(points: list[tuple[int, float, float]], path: Path, *, rapidocr: float | None) -> None:
    """Accuracy and CER against labels used, drawn with Pillow (no plotting library)."""
    from PIL import Image, ImageDraw

    width, height, left, right, top, bottom = 760, 440, 70, 80, 40, 60
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    most = max(p[0] for p in points) or 1
    low = min(0.7, min(p[1] for p in points) - 0.02)

    def x(labels: float) -> float:
        return left + labels / most * (width - left - right)

    def y(value: float) -> float:
        return height - bottom - (value - low) / (1 - low) * (height - top - bottom)

    draw.rectangle((left, top, width - right, height - bottom), outline="#888888")
    for step in range(6):
        value = low + (1 - low) * step / 5
        draw.line((left - 4, y(value), width - right, y(value)), fill="#e3e3e3")
        draw.text((8, y(value) - 6), f"{value * 100:.0f}%", fill="black")
    for step in range(5):
        labels = most * step / 4
        draw.text((x(labels) - 12, height - bottom + 8), f"{labels:,.0f}", fill="black")
    draw.text(
        (width / 2 - 120, height - 24),
        "accepted labels used (evaluation: 20% of receipts)",
        fill="black",
    )
    draw.text(
        (left, 12),
        "Learning curve on SROIE receipt words: accuracy (any case) and CER",
        fill="black",
    )
    for target, colour, label in ((0.92, "#1e6b34", "target 92%"),) + (
        ((rapidocr, "#b35900", f"RapidOCR {rapidocr * 100:.1f}% (bench-ocr)"),) if rapidocr else ()
    ):
        draw.line((left, y(target), width - right, y(target)), fill=colour, width=1)
        draw.text((left + 300, y(target) - 14), label, fill=colour)
    accuracy = [(x(n), y(a)) for n, a, _ in points]
    errors = [(x(n), y(1 - c)) for n, _, c in points]
    draw.line(accuracy, fill="#0b5cad", width=3)
    draw.line(errors, fill="#6a3d9a", width=2)
    for (px, py), (ex, ey), (_, a, c) in zip(accuracy, errors, points, strict=True):
        draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill="#0b5cad")
        draw.text((px + 6, py + 4), f"{a * 100:.1f}%", fill="#0b5cad")
        draw.ellipse((ex - 3, ey - 3, ex + 3, ey + 3), fill="#6a3d9a")
        draw.text((ex + 6, ey - 14), f"CER {c * 100:.1f}%", fill="#6a3d9a")
    draw.text((left + 10, top + 8), "blue: word accuracy; purple: 1 - CER", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=True)


# --- Main -------------------------------------------------------------------------------


def weights_path_refusal(path: Path) -> str | None:
    """Why the weights cannot go to ``path`` (checked before a long run), or None."""
    if path.is_dir():
        return f"--save-weights {path}: a folder; name the file to write"
    if not path.parent.is_dir():
        return f"--save-weights {path}: no folder {path.parent}"
    return None


def save_weights(data: bytes, path: Path) -> None:
    """The weights, in the clear, to the path the caller named (readable by its owner)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    log.info(
        "last retrained model's weights: %s (SHA-256 %s); measure it with "
        "python -m ocr.evaluate ... --weights %s",
        path,
        hashlib.sha256(data).hexdigest()[:16],
        path,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.learning_loop", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="receipts (default: all)")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--steps", type=int, default=None, help="training steps per retraining")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument("--database", default="dropturk_bench_loop")
    parser.add_argument(
        "--save-weights",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the last retrained model's weights (in the clear) to this file",
    )
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not args.data.is_dir():
        print(f"no receipts at {args.data}", file=sys.stderr)
        return 2
    if args.save_weights is not None:
        refusal = weights_path_refusal(args.save_weights)
        if refusal:
            print(refusal, file=sys.stderr)
            return 2
    receipts = load_receipts(args.data, limit=args.limit, seed=args.seed)
    database = BenchDatabase(admin_url=args.admin_url, name=args.database)
    data_dir = Path(tempfile.mkdtemp(prefix="dropturk-bench-loop-"))
    env = bench_environment(database=database, data_dir=data_dir)
    env["LOG_LEVEL"] = "WARNING"
    database.recreate()
    started = time.perf_counter()
    try:
        migrate(env)
        os.environ.update(env)
        import django

        django.setup()
        logging.getLogger("ocr_bridge").setLevel(logging.INFO)
        logging.getLogger("ocr.recognition.training").setLevel(logging.INFO)
        ingest(receipts)
        ingest_s = time.perf_counter() - started
        log.info("ingested %d receipts in %.0f s", len(receipts), ingest_s)
        quality = label(receipts, seed=args.seed)
        log.info("labeled: %s", quality)
        from ocr_bridge import learning, selectors, weights

        training_labels = len(selectors.training_set())
        crops = evaluation_crops(receipts)
        before = read_with(weights.weights_read(weights.active_version()), crops)
        options = {"threads": args.threads, "seed": args.seed}
        if args.steps:
            options["steps"] = args.steps
        curve = [{"labels": 0, "model": "shipped (synthetic only)", **before}]
        for trained in retrain(
            shares=args.shares, options=options, training_labels=training_labels
        ):
            version = trained["version"]
            curve.append(
                {
                    "labels": version.label_count,
                    "model": version.name,
                    "train_seconds": version.duration_seconds,
                    "frozen_split_by_consensus_labels": version.metrics["frozen"]["accuracy"],
                    **read_with(trained["weights"], crops),
                }
            )
            last_weights = trained["weights"]
        total_s = time.perf_counter() - started
        defaults = learning.RetrainOptions(**options).as_dict()
        if args.save_weights is not None:
            save_weights(last_weights, args.save_weights)
    finally:
        from django.db import connections

        connections.close_all()
        flush_bench_redis()
        database.drop()
        shutil.rmtree(data_dir, ignore_errors=True)  # the encrypted blobs of the run
    receipts_eval = sum(r.evaluation for r in receipts)
    print(
        f"\nLearning loop on {len(receipts)} SROIE receipts: {len(receipts) - receipts_eval} "
        f"labeled, {receipts_eval} for evaluation ({before['n']} word crops)"
    )
    print(
        f"labels typed {quality['labels_typed']} for {quality['crops']} crops; consensus accepted "
        f"{quality['accepted_by_consensus']} at {quality['consensus_accuracy'] * 100:.1f}% "
        f"(any case) against the truth; {quality['reviewed']} settled by review; accepted "
        f"labels right: {quality['accepted_accuracy'] * 100:.1f}%"
    )
    print(f"retraining options: {defaults}")
    print("\n| model | labels | accuracy (any case) | CER (any case) | exact | train s |")
    print("|---|---|---|---|---|---|")
    for row in curve:
        print(
            f"| {row['model']} | {row['labels']} | {row['accuracy'] * 100:.1f}% | "
            f"{row['cer'] * 100:.2f}% | {row['accuracy_strict'] * 100:.1f}% | "
            f"{row.get('train_seconds', '-')} |"
        )
    print(f"\nwhole run {total_s / 60:.1f} min (ingest {ingest_s:.0f} s)")
    plot([(r["labels"], r["accuracy"], r["cer"]) for r in curve], args.plot, rapidocr=0.906)
    print(f"learning curve: {args.plot}")
    after = curve[-1]
    print(
        json.dumps(
            {
                "labels": after["labels"],
                "consensus_accuracy": round(quality["consensus_accuracy"], 4),
                "accuracy_before": before["accuracy"],
                "accuracy_after": after["accuracy"],
                "cer_after": after["cer"],
            },
            separators=(",", ":"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
