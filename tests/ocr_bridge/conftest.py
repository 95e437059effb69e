"""Fixtures of the learning-loop tests: documents of rendered words in a chosen split,
labeled and accepted through the real services, people, and a Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from annotations import roles
from annotations.models import Task
from annotations.services import (
    CropInput,
    Prefill,
    donation_finish_prefill,
    donation_start_processing,
    donation_store_crops,
    label_submit,
)
from dropturk.celery import app as celery_app
from exports.selectors import split_of
from ocr.synthetic import render_word
from ocr_bridge import learning, weights
from ocr_bridge.learning import evaluate as learning_evaluate
from tests import factories
from tests.accounts.conftest import PASSWORD
from tests.conftest import TEST_MASTER_KEY

REPO = Path(__file__).resolve().parents[2]
# Words the shipped model reads well when rendered cleanly: a retrain on them is a
# fine-tuning that should not make anything worse.
WORDS = ["TOTAL", "CASH", "Receipt", "12.50", "Coffee", "Amount", "Change", "Invoice"]


def donation_id_in(split: str, *, start: int = 0) -> uuid.UUID:
    """The first id (counting from ``start``) that ``exports.selectors.split_of`` puts
    in ``split``: documents land in the split a test needs, by the real rule."""
    number = start
    while split_of(uuid.UUID(int=number)) != split:
        number += 1
    return uuid.UUID(int=number)


def make_word_donation(*, source, words: list[str], split: str, kind: str = "receipt", seed=0):
    """A ready donation in ``split`` whose crops are the rendered ``words``, prefilled
    (by a stand-in engine, confidence rising with the index) with open tasks."""
    wanted = donation_id_in(split, start=seed * 1000 + 1)
    with mock.patch("annotations.services.uuid.uuid4", return_value=wanted):
        donation = factories.make_donation(source=source, kind=kind, png=factories.word_png("p"))
    donation = donation_start_processing(donation_id=donation.pk)
    store_images(donation, [render_word(word, seed=seed + i) for i, word in enumerate(words)])
    crops = list(donation.crops.order_by("index"))
    donation_finish_prefill(
        donation_id=donation.pk,
        prefills=[
            Prefill(crop_id=c.pk, text="?", confidence=0.1 + c.index / 100, char_confidences=(0.1,))
            for c in crops
        ],
        engine="test-prefill",
        engine_version="0",
    )
    donation.refresh_from_db()
    return donation


def store_images(donation, images) -> None:
    """Stores ``images`` as the crops of a donation in processing, one under the other."""
    donation_store_crops(
        donation=donation,
        crops=[
            CropInput(
                x=0,
                y=40 * i,
                width=image.width,
                height=image.height,
                png=factories.png_bytes(image),
            )
            for i, image in enumerate(images)
        ],
    )


def accept_all(donation, *, annotator, texts: list[str] | None = None, **flags):
    """Labels every crop once through ``label_submit`` with tasks asking for one label, so
    consensus accepts them (``texts`` default to what the crops show)."""
    Task.objects.filter(crop__donation=donation).update(labels_needed=1)
    labels = []
    for crop in donation.crops.order_by("index"):
        text = texts[crop.index] if texts else WORDS[crop.index % len(WORDS)]
        labels.append(label_submit(user=annotator, task_id=crop.task.pk, text=text, **flags))
    return labels


def person(username: str, *role_names: str):
    user = factories.UserFactory(username=username)
    # get_or_create: a transactional test before this one may have flushed the groups
    # that migration 0002_roles made.
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in role_names])
    return user


def signed_in(user, *, recently_confirmed: bool = False) -> Client:
    client = Client()
    client.force_login(user)
    if recently_confirmed:
        assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302
    return client


@pytest.fixture(autouse=True)
def _fresh_engines():
    """Engines are cached per process by version; each test starts without any."""
    weights.forget_engines()
    yield
    weights.forget_engines()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ml_engineer(db):
    return person("ml", roles.ML_ENGINEER)


@pytest.fixture
def admin_person(db):
    return person("boss", roles.ADMIN)


@pytest.fixture
def quick_options() -> learning.RetrainOptions:
    """A retraining of a few steps: the loop end to end, in seconds."""
    return learning.RetrainOptions(steps=6, batch_size=4, learning_rate=1e-4)


@pytest.fixture
def small_checks(monkeypatch):
    """Fewer synthetic words read to measure forgetting (the figure, not its precision)."""
    monkeypatch.setattr(learning_evaluate, "SYNTHETIC_CHECK_SIZE", 16)


@pytest.fixture
def labeled_world(service_token, annotator):
    """Two training documents and one of the frozen test split, every crop accepted."""
    train = [
        make_word_donation(source=service_token, words=WORDS, split="train", seed=s) for s in (1, 2)
    ]
    frozen = make_word_donation(source=service_token, words=WORDS[:5], split="test", seed=3)
    for donation in (*train, frozen):
        accept_all(donation, annotator=annotator)
    return {"train": train, "frozen": frozen}


def start_worker(redis_url: str, tmp_path: Path, *, queues: str = "ocr,training,default"):
    """``celery worker`` in its own process, on the test database and this test's blobs."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process shares the database only through a server (PostgreSQL)")
    celery_app.control.purge()  # messages other tests enqueued must not run here
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "DROPTURK_DATA_DIR": str(tmp_path),  # blobs in tmp_path/blobs, as the test's storage
        "DROPTURK_MASTER_KEY": TEST_MASTER_KEY,
        "DJANGO_SECRET_KEY": "worker-test",
    }
    log = tmp_path / "worker.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603  our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dropturk",
                "worker",
                "-Q",
                queues,
                "--pool",
                "solo",
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return process, log
