"""``manage.py seed_demo``: demo accounts for every role, and a project that shows every
role's work at once (issue 20).

Every run prints new passwords and TOTP secrets. Once, it also adds:

- demo documents for the worker to cut (as the donation service would send them);
- a page already cut into words and labeled by three demo annotators: most crops agree
  (accepted), some disagree (in review, for the reviewer), the rest wait in the queue;
- quality statistics and queue snapshots (the quality page), an export built and a
  model history with a better and a worse child of the shipped recognizer (the ML
  engineer's pages), and failed sign-ins of an unknown account (the audit trail's
  failures; no demo account is locked out).

No OCR runs here: the labeled page's words come from the synthetic generator's own
truth, so the command is quick on SQLite.
"""

import base64
import io
import random
import secrets

from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

import audit
from annotations import roles
from annotations.images import normalize_image
from annotations.models import ServiceToken, Task, TaskStatus, WordCrop
from annotations.services import (
    CropInput,
    Prefill,
    donation_create,
    donation_finish_prefill,
    donation_start_processing,
    donation_store_crops,
    label_submit,
    service_token_create,
)
from audit.models import Outcome
from ocr.synthetic import render_document

DEMO_PEOPLE = {
    "annotator": [roles.ANNOTATOR],
    "annotator2": [roles.ANNOTATOR],
    "annotator3": [roles.ANNOTATOR],
    "reviewer": [roles.REVIEWER, roles.ANNOTATOR],
    "mlengineer": [roles.ML_ENGINEER],
    "admin": [roles.ADMIN],
}
# The simulated annotators who labeled the demo page before anyone signed in.
DEMO_LABELERS = ("annotator2", "annotator3", "annotator")
DEMO_TOKEN = "demo-donations"  # noqa: S105  the token's name, not a secret
DEMO_LABELED_TOKEN = "demo-labeled"  # noqa: S105  the token's name, not a secret
DEMO_DOCUMENTS = [("receipt", 1), ("receipt", 2), ("invoice", 3), ("letter", 4)]
DEMO_LABELED_PAGES = [("receipt", 11), ("invoice", 12)]
# Of the labeled pages' words: this many go to review, this share is accepted, the rest
# wait in the queue for the demo annotator.
DEMO_DISPUTED = 10
DEMO_MARKED = 2
DEMO_ACCEPTED_SHARE = 0.55
# With three demo people labeling, a disagreement reaches review at the third label.
DEMO_MAX_LABELS = 3
DEMO_FAILED_SIGN_INS = ("intruder", "root", "administrator")


def _variants(text: str) -> tuple[str, str]:
    """Two plausible misreadings of ``text``: case, punctuation, look-alike characters."""
    swaps = str.maketrans({"O": "0", "0": "O", "l": "1", "1": "l", "S": "5", "5": "S"})
    first = text.swapcase() if text.swapcase() != text else text + "."
    second = text.translate(swaps)
    if second in (text, first):
        second = text[:-1] if len(text) > 1 else text + ","
    if second in (text, first):
        second = text + ":"
    return first, second


def _lines(boxes: list[tuple[int, int, int, int]]) -> list[int]:
    """A line index per box, by vertical overlap with the line's first box."""
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0]))
    line_of = [0] * len(boxes)
    line, top, bottom = -1, -1, -1
    for i in order:
        _, y, _, h = boxes[i]
        middle = y + h / 2
        if not top <= middle <= bottom:
            line, top, bottom = line + 1, y, y + h
        line_of[i] = line
    return line_of


class Command(BaseCommand):
    help = (
        "Create demo accounts for every role (new passwords and TOTP secrets printed on "
        "every run) and, once, demo documents, a labeled page with crops in review, "
        "quality statistics, an export, a model history and failed sign-ins."
    )

    def handle(self, *args, **options) -> None:
        people = self._people()
        self._documents()
        if ServiceToken.objects.filter(name=DEMO_LABELED_TOKEN).exists():
            self.stdout.write("The demo's labeled page, export and models exist already.")
            return
        self._labeled_pages(people)
        self._quality()
        self._models(people["mlengineer"])
        self._export(people["mlengineer"])
        self._failed_sign_ins()

    @transaction.atomic
    def _people(self) -> dict:
        user_model = get_user_model()
        self.stdout.write(
            "Demo accounts (password and TOTP secret are new on every run of seed_demo; add\n"
            "the secret or the otpauth:// URI to any authenticator app, then sign in with\n"
            "the password and the app's 6-digit code):"
        )
        people = {}
        for username, role_names in DEMO_PEOPLE.items():
            user, _ = user_model.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            password = secrets.token_urlsafe(12)
            user.set_password(password)
            user.is_active = True
            user.is_staff = user.is_superuser = username == "admin"
            user.save()
            user.groups.set(Group.objects.filter(name__in=role_names))
            secret = self._totp(user)
            self.stdout.write(f"  {username:<11} {password}   roles: {', '.join(role_names)}")
            self.stdout.write(f"  {'':<11} TOTP secret {secret}")
            self.stdout.write(f"  {'':<11} {get_mfa_adapter().build_totp_url(user, secret)}")
            people[username] = user
        return people

    @staticmethod
    def _totp(user) -> str:
        """A fresh TOTP authenticator, stored the way allauth's set-up page stores one."""
        secret = base64.b32encode(secrets.token_bytes(20)).decode()
        Authenticator.objects.filter(user=user).delete()
        Authenticator.objects.create(
            user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret)}
        )
        return secret

    def _documents(self) -> None:
        token = ServiceToken.objects.filter(name=DEMO_TOKEN).first()
        if token is not None and token.donations.exists():
            self.stdout.write("Demo documents exist already.")
            return
        if token is None:
            token, _ = service_token_create(name=DEMO_TOKEN)
        for kind, seed in DEMO_DOCUMENTS:
            donation = donation_create(source=token, kind=kind, image=self._page_png(kind, seed))
            self.stdout.write(
                f"  demo {kind} donated: {donation.pk} (the worker will cut it into words)"
            )

    @staticmethod
    def _page_png(kind: str, seed: int, rendered=None):
        rendered = rendered or render_document(kind=kind, seed=seed)
        out = io.BytesIO()
        rendered.image.save(out, format="PNG")
        return normalize_image(out.getvalue())

    def _labeled_pages(self, people: dict) -> None:
        """Pages cut at the generator's own word boxes, labeled by the demo's labelers."""
        from quality.models import QualitySettings
        from quality.selectors import quality_settings

        settings_row = quality_settings()
        QualitySettings.objects.filter(pk=settings_row.pk).update(max_labels=DEMO_MAX_LABELS)
        token, _ = service_token_create(name=DEMO_LABELED_TOKEN)
        rng = random.Random(20)  # noqa: S311  demo data, not cryptography
        truths: dict[int, str] = {}
        for kind, seed in DEMO_LABELED_PAGES:
            rendered = render_document(kind=kind, seed=seed)
            donation = donation_create(
                source=token, kind=kind, image=self._page_png(kind, seed, rendered)
            )
            donation = donation_start_processing(donation_id=donation.pk)
            gray = rendered.image.convert("L")
            words = [word for word in rendered.words if word.text.strip()]
            boxes = [(w.box.x, w.box.y, w.box.width, w.box.height) for w in words]
            crops = []
            for x, y, width, height in boxes:
                out = io.BytesIO()
                gray.crop((x, y, x + width, y + height)).save(out, format="PNG")
                crops.append(CropInput(x=x, y=y, width=width, height=height, png=out.getvalue()))
            donation_store_crops(donation=donation, crops=crops)
            stored = list(donation.crops.order_by("index"))
            for crop, line in zip(stored, _lines(boxes), strict=True):
                crop.line = line
            WordCrop.objects.bulk_update(stored, ["line"])
            prefills = []
            for crop, word in zip(stored, words, strict=True):
                confidence = round(rng.uniform(0.35, 0.99), 2)
                text = word.text if confidence > 0.6 else _variants(word.text)[1]
                chars = tuple(round(min(1.0, confidence + rng.uniform(-0.3, 0.1)), 2) for _ in text)
                prefills.append(Prefill(crop.pk, text, confidence, chars))
                truths[crop.pk] = word.text
            donation_finish_prefill(
                donation_id=donation.pk,
                prefills=prefills,
                engine="demo-prefill",
                engine_version="1",
            )
        self._label(people, truths, rng)

    def _label(self, people: dict, truths: dict[int, str], rng: random.Random) -> None:
        labelers = [people[name] for name in DEMO_LABELERS]
        tasks = list(Task.objects.filter(crop_id__in=truths).order_by("crop_id"))
        rng.shuffle(tasks)

        def elapsed() -> int:
            return rng.randint(1_400, 7_500)

        # A disagreement is escalated only where the band asks for two labels or more.
        disputed, touched = [], []
        for task in (task for task in tasks if task.labels_needed >= 2):
            if len(disputed) == DEMO_DISPUTED:
                break
            touched.append(task)
            truth = truths[task.crop_id]
            turn = len(touched) % len(labelers)  # each demo annotator misreads now and then
            rotated = labelers[turn:] + labelers[:turn]
            for labeler, text in zip(rotated, (truth, *_variants(truth)), strict=True):
                task.refresh_from_db()
                if task.status != TaskStatus.OPEN:
                    break
                label_submit(user=labeler, task_id=task.pk, text=text, elapsed_ms=elapsed())
            task.refresh_from_db()
            if task.status == TaskStatus.REVIEW:
                disputed.append(task)
        rest = [task for task in tasks if task not in touched]
        # Two crops the demo's annotators agree are bad: the detector feedback page's.
        for task in [task for task in rest if task.labels_needed >= 2][:DEMO_MARKED]:
            touched.append(task)
            for labeler in labelers[:2]:
                label_submit(
                    user=labeler,
                    task_id=task.pk,
                    text="",
                    bad_reason="two_words",
                    elapsed_ms=elapsed(),
                )
        rest = [task for task in tasks if task not in touched]
        for n, task in enumerate(rest[: round(len(rest) * DEMO_ACCEPTED_SHARE)]):
            truth = truths[task.crop_id]
            for labeler in (labelers[n % 3], labelers[(n + 1) % 3]):
                task.refresh_from_db()
                if task.status != TaskStatus.OPEN:
                    break
                label_submit(user=labeler, task_id=task.pk, text=truth, elapsed_ms=elapsed())
        in_review = Task.objects.filter(crop_id__in=truths, status=TaskStatus.REVIEW).count()
        waiting = Task.objects.filter(crop_id__in=truths, status=TaskStatus.OPEN).count()
        self.stdout.write(
            f"  demo labeled page: {len(truths)} crops, {in_review} in review for the "
            f"reviewer, {waiting} waiting for the annotator"
        )

    def _quality(self) -> None:
        from quality.services import annotator_stats_refresh, queue_snapshot_take

        annotator_stats_refresh()
        queue_snapshot_take()

    def _models(self, ml_engineer) -> None:
        """A better and a worse child of the shipped recognizer, measured on the frozen
        split as a retraining measures them (they read with the shipped weights)."""
        from ocr_bridge import learning, weights
        from ocr_bridge.models import ModelStatus, ModelVersion

        shipped = weights.active_version()
        base = shipped.metrics.get("frozen") or {"n": 120, "accuracy": 0.81, "cer": 0.061}

        def measured(accuracy: float, cer: float) -> dict:
            return {
                "n": base.get("n", 120),
                "accuracy": accuracy,
                "accuracy_strict": round(accuracy - 0.06, 3),
                "cer": cer,
                "cer_strict": round(cer + 0.02, 3),
                "by_kind": {"receipt": {"n": 80, "accuracy": accuracy, "cer": cer}},
            }

        parent_figures = {
            "name": shipped.name,
            "frozen": {
                "n": base.get("n", 120),
                "accuracy": base.get("accuracy", 0.81),
                "cer": base.get("cer", 0.061),
            },
        }
        for name, accuracy, cer in (("demo-better", 0.86, 0.045), ("demo-worse", 0.74, 0.09)):
            ModelVersion.objects.get_or_create(
                name=name,
                defaults={
                    "parent": shipped,
                    "status": ModelStatus.READY,
                    "metrics": {
                        "frozen": measured(accuracy, cer),
                        "gold": {"n": 0},
                        "parent": parent_figures,
                    },
                    "config": learning.RetrainOptions().as_dict(),
                    "label_count": 40,
                    "weights_sha256": shipped.weights_sha256,
                    "builtin": True,  # reads the shipped file
                    "created_by": ml_engineer,
                    "duration_seconds": 95.0,
                },
            )
        self.stdout.write("  demo models: demo-better and demo-worse, children of the shipped one")

    def _export(self, ml_engineer) -> None:
        from exports.selectors import ExportFilters
        from exports.services import export_build, export_request

        export = export_request(user=ml_engineer, format="jsonl", filters=ExportFilters())
        export_build(export_id=export.pk)
        self.stdout.write(f"  demo export built: {export.pk} (jsonl, accepted labels)")

    def _failed_sign_ins(self) -> None:
        """Failed sign-ins of accounts that do not exist: failures to filter on the audit
        pages, with no lockout of a demo account."""
        for username in DEMO_FAILED_SIGN_INS:
            audit.record(
                actor=None,
                action="accounts.sign_in_failed",
                data={"username": username},
                outcome=Outcome.FAILURE,
                ip_address="203.0.113.7",
            )
        self.stdout.write(f"  demo failed sign-ins: {', '.join(DEMO_FAILED_SIGN_INS)}")
