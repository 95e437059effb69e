"""The model page and the registry's API: who may see, retrain and promote, and how."""

import pytest

from annotations import roles
from audit.models import AuditEvent
from ocr_bridge import learning, weights
from ocr_bridge.models import ModelStatus, ModelVersion
from tests.ocr_bridge.conftest import person, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluated(ml_engineer) -> ModelVersion:
    """A ready version with metrics as a retraining writes them (without training)."""
    shipped = weights.active_version()
    measured = {
        "n": 40,
        "accuracy": 0.925,
        "accuracy_strict": 0.8,
        "cer": 0.021,
        "cer_strict": 0.05,
        "by_kind": {"receipt": {"n": 30, "accuracy": 0.9, "cer": 0.03}},
        "by_band": [
            {"low": 0.0, "high": 0.5, "n": 10, "share": 0.25, "accuracy": 0.6},
            {"low": 0.5, "high": 0.8, "n": 10, "share": 0.25, "accuracy": 0.9},
            {"low": 0.8, "high": 0.95, "n": 10, "share": 0.25, "accuracy": 1.0},
            {"low": 0.95, "high": 1.0, "n": 10, "share": 0.25, "accuracy": 1.0},
        ],
        "reliability": [
            {"low": 0.3, "high": 0.4, "n": 10, "confidence": 0.35, "accuracy": 0.6},
            {"low": 0.9, "high": 1.0, "n": 30, "confidence": 0.97, "accuracy": 0.99},
        ],
    }
    return ModelVersion.objects.create(
        name="ft-page",
        parent=shipped,
        status=ModelStatus.READY,
        metrics={
            "frozen": measured,
            "gold": {"n": 0},
            "synthetic_accuracy": 0.7,
            "parent": {"name": shipped.name, "frozen": {"n": 40, "accuracy": 0.8, "cer": 0.06}},
        },
        config=learning.RetrainOptions().as_dict(),
        label_count=123,
        labels_sha256="ab" * 32,
        weights_sha256=shipped.weights_sha256,
        builtin=True,  # reads the shipped file: enough for the page and promotion
        created_by=ml_engineer,
    )


def test_the_page_compares_versions_for_ml_engineers(ml_engineer, evaluated):
    response = signed_in(ml_engineer).get("/models/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "ft-page" in page
    assert "92.5%" in page  # frozen-split accuracy
    assert "<svg" in page
    assert "<polyline" in page  # the reliability diagram, drawn on the server
    assert "receipt" in page
    assert "Start retraining" in page
    assert f"/models/{evaluated.pk}/promote" in page
    assert "<script" not in page


def test_admins_see_the_page_but_cannot_retrain_or_promote(admin_person, evaluated):
    client = signed_in(admin_person)

    page = client.get("/models/").content.decode()

    assert "ft-page" in page
    assert "Start retraining" not in page
    assert "/promote" not in page
    assert client.post("/models/retrain").status_code == 404
    assert client.post(f"/models/{evaluated.pk}/promote").status_code == 404
    assert client.post(f"/api/v1/models/{evaluated.pk}/promote/").status_code == 403


@pytest.mark.parametrize("role", [roles.ANNOTATOR, roles.REVIEWER])
def test_the_page_is_not_there_for_other_roles(role, evaluated):
    client = signed_in(person("someone", role))

    assert client.get("/models/").status_code == 404
    assert client.get("/api/v1/models/").status_code == 403


def test_promotion_asks_for_a_recent_reauthentication(ml_engineer, evaluated):
    response = signed_in(ml_engineer).post(f"/api/v1/models/{evaluated.pk}/promote/")

    assert response.status_code == 403
    assert "reauthenticate_url" in response.json()
    evaluated.refresh_from_db()
    assert evaluated.status == ModelStatus.READY
    assert not AuditEvent.objects.filter(action="ocr_bridge.model_promote").exists()


def test_promotion_through_the_api_after_reauthentication(ml_engineer, evaluated):
    client = signed_in(ml_engineer, recently_confirmed=True)

    response = client.post(f"/api/v1/models/{evaluated.pk}/promote/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    event = AuditEvent.objects.get(action="ocr_bridge.model_promote")
    assert (event.actor_id, event.target_id) == (str(ml_engineer.pk), str(evaluated.pk))
    again = client.post(f"/api/v1/models/{evaluated.pk}/promote/")
    assert again.status_code == 409
    assert client.post("/api/v1/models/999999/promote/").status_code == 404


def test_promotion_on_the_page_after_reauthentication(ml_engineer, evaluated):
    client = signed_in(ml_engineer)
    first = client.post(f"/models/{evaluated.pk}/promote")
    assert first.status_code == 302
    assert first["Location"].startswith("/accounts/reauthenticate/")

    client = signed_in(ml_engineer, recently_confirmed=True)
    response = client.post(f"/models/{evaluated.pk}/promote", follow=True)

    assert response.status_code == 200
    assert "ft-page is the active model" in response.content.decode()
    evaluated.refresh_from_db()
    assert evaluated.status == ModelStatus.ACTIVE


def test_retraining_is_started_through_the_api(ml_engineer, django_capture_on_commit_callbacks):
    client = signed_in(ml_engineer)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/api/v1/models/retrain/",
            {"options": {"steps": 5}},
            content_type="application/json",
        )

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["config"]["steps"], body["created_by"]) == ("training", 5, "ml")
    assert len(callbacks) == 1  # ocr_bridge.retrain, sent once the request commits
    assert (
        client.post("/api/v1/models/retrain/", {}, content_type="application/json").status_code
        == 409
    )
    listed = client.get("/api/v1/models/").json()
    assert [v["status"] for v in listed][:1] == ["training"]
    assert AuditEvent.objects.filter(action="ocr_bridge.model_retrain_request").count() == 1


@pytest.mark.parametrize(
    "body",
    [{"options": {"steps": -1}}, {"options": {"speed": 2}}, {"options": "fast"}],
)
def test_bad_retrain_options_are_refused_with_400(ml_engineer, body):
    response = signed_in(ml_engineer).post(
        "/api/v1/models/retrain/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "options" in response.json()
    assert not ModelVersion.objects.filter(status=ModelStatus.TRAINING).exists()


def test_the_page_follows_a_running_retraining(ml_engineer):
    version = learning.model_retrain_request(
        user=ml_engineer, options=learning.RetrainOptions(steps=50)
    )
    ModelVersion.objects.filter(pk=version.pk).update(progress=20, eta_seconds=75)

    page = signed_in(ml_engineer).get("/models/").content.decode()

    assert f"Training {version.name}" in page
    assert "step 20 of 50" in page
    assert "1 min 15 s left" in page
    assert 'http-equiv="refresh"' in page
    assert "Start retraining" not in page


def test_retraining_from_the_page(ml_engineer, django_capture_on_commit_callbacks):
    client = signed_in(ml_engineer)

    with django_capture_on_commit_callbacks():
        response = client.post("/models/retrain", {"steps": "12"}, follow=True)

    assert "Retraining started" in response.content.decode()
    assert ModelVersion.objects.get(status=ModelStatus.TRAINING).config["steps"] == 12
    refused = client.post("/models/retrain", {"steps": "lots"}, follow=True)
    assert "Steps must be a whole number" in refused.content.decode()
