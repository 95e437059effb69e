"""The learning loop's and the pipeline's auditable acts, for the table of
``tests/audit/test_every_act.py``.

Each takes that test's ``World`` and returns the (target type, id) its event must name.
"""

from __future__ import annotations

from annotations import roles
from ocr_bridge import learning, weights
from ocr_bridge.models import ModelStatus, ModelVersion
from tests.ocr_bridge.conftest import WORDS, accept_all, make_word_donation, person, signed_in

QUICK = learning.RetrainOptions(steps=2, batch_size=4, learning_rate=1e-4)
TARGET = "ocr_bridge.modelversion"


def _ml_engineer():
    return person("ml-acts", roles.ML_ENGINEER)


def _retrained(world) -> ModelVersion:
    donation = make_word_donation(source=world.service_token, words=WORDS[:3], split="train")
    accept_all(donation, annotator=world.annotator_user)
    version = learning.model_retrain_request(user=_ml_engineer(), options=QUICK)
    return learning.model_retrain(version_id=version.pk)


def request_retrain(world):
    response = signed_in(_ml_engineer()).post(
        "/api/v1/models/retrain/", {"options": {"steps": 2}}, content_type="application/json"
    )
    assert response.status_code == 202, response.content
    return TARGET, response.json()["id"]


def register_model(world):
    version = _retrained(world)
    assert version.status == ModelStatus.READY, version.reason
    return TARGET, version.pk


def fail_retrain(world):
    version = learning.model_retrain_request(user=_ml_engineer(), options=QUICK)
    version = learning.model_retrain(version_id=version.pk)  # nothing accepted to learn from
    assert version.status == ModelStatus.FAILED
    return TARGET, version.pk


def promote_model(world):
    shipped = weights.active_version()
    ready = ModelVersion.objects.create(
        name="ft-acts",
        parent=shipped,
        status=ModelStatus.READY,
        builtin=True,
        weights_sha256=shipped.weights_sha256,
    )
    client = signed_in(_ml_engineer(), recently_confirmed=True)
    assert client.post(f"/api/v1/models/{ready.pk}/promote/").status_code == 200
    return TARGET, ready.pk


def reprefill_crops(world):
    active = weights.active_version()
    assert learning.crops_reprefill_batch(version_id=active.pk, batch_size=10) == 3
    return TARGET, active.pk


# --- The pipeline's acts ------------------------------------------------------------------

DONATION = "annotations.donation"


def _read_donation(world, words):
    from unittest import mock

    from ocr_bridge import services
    from tests import factories
    from tests.ocr_bridge.test_page_pipeline import reading

    donation = factories.make_donation(source=world.service_token, png=factories.word_png("p"))
    with mock.patch.object(services, "page_read", return_value=reading(words)):
        services.donation_process(donation_id=str(donation.pk))
    return donation


def recut_donation(world):
    from unittest import mock

    from ocr_bridge import recut, services
    from tests.ocr_bridge.test_page_pipeline import RECEIPT, reading

    donation = _read_donation(world, RECEIPT)
    newer = reading(RECEIPT[:2], detector="newer")
    with mock.patch.object(services, "page_read", return_value=newer):
        assert recut.donation_recut(donation_id=str(donation.pk))
    return DONATION, donation.pk


def read_page_text(world):
    from tests.ocr_bridge.test_page_pipeline import RECEIPT

    donation = _read_donation(world, RECEIPT)
    response = world.service.get(f"/api/v1/donations/{donation.pk}/text?format=txt")
    assert response.status_code == 200, response.content
    return DONATION, donation.pk
