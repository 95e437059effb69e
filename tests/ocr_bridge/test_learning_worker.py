"""End to end through a real Celery worker: retrain → register → promote → re-prefill.

The API starts a retraining of a few steps; the worker (training queue) fine-tunes the
active model on the accepted labels, evaluates and registers it; promotion through the
API queues the re-prefill (ocr queue), which reads the unlabeled crops again.
"""

import time

import pytest

from annotations.models import Task
from ocr_bridge.models import ModelStatus, ModelVersion
from tests.ocr_bridge.conftest import WORDS, make_word_donation, signed_in, start_worker

DEADLINE_SECONDS = 240


@pytest.fixture
def worker(redis_url, transactional_db, tmp_path):
    process, log = start_worker(redis_url, tmp_path)
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for(condition, *, log, what: str):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)  # the worker changes rows; there is nothing to block on instead
    pytest.fail(f"{what} did not happen in {DEADLINE_SECONDS} s:\n{log.read_text()[-4000:]}")


def test_retrain_register_promote_reprefill_through_a_worker(
    worker, labeled_world, service_token, ml_engineer
):
    waiting = make_word_donation(source=service_token, words=WORDS[:3], split="train", seed=5)
    client = signed_in(ml_engineer, recently_confirmed=True)

    started = client.post(
        "/api/v1/models/retrain/",
        {"options": {"steps": 6, "batch_size": 4, "learning_rate": 1e-4}},
        content_type="application/json",
    )
    assert started.status_code == 202, started.content
    version_id = started.json()["id"]

    version = _wait_for(
        lambda: ModelVersion.objects.filter(
            pk=version_id, status__in=(ModelStatus.READY, ModelStatus.FAILED)
        ).first(),
        log=worker,
        what="the retraining",
    )
    assert version.status == ModelStatus.READY, version.reason
    assert version.label_count == 16
    assert version.metrics["frozen"]["n"] == 5
    listed = {v["id"]: v for v in client.get("/api/v1/models/").json()}
    assert listed[version_id]["progress"] == listed[version_id]["total"] == 6

    promoted = client.post(f"/api/v1/models/{version_id}/promote/")
    assert promoted.status_code == 200, promoted.content

    def reread():
        crops = list(waiting.crops.all())
        done = all(c.prefill_engine_version == version.engine_version for c in crops)
        return crops if done else None

    crops = _wait_for(reread, log=worker, what="the re-prefill")
    for crop in crops:
        assert crop.prefill_engine == "crnn"
        assert Task.objects.get(crop=crop).confidence == pytest.approx(crop.prefill_confidence)
    labeled = labeled_world["frozen"].crops.first()
    assert labeled.prefill_engine_version == "0"  # labeled crops are left as they were
