"""The model page: a worse model is promoted only after a confirmation that shows the
regression; each model beside its parent; retraining options with an estimated duration."""

import pytest

from annotations import roles
from ocr_bridge import learning, weights
from ocr_bridge.models import ModelStatus, ModelVersion
from tests.ocr_bridge.conftest import (
    _fast_password_hashing,  # noqa: F401  an autouse fixture
    person,
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ml_engineer(db):
    return person("ml", roles.ML_ENGINEER)


def child(name: str, *, accuracy: float, cer: float, by, builtin: bool = True) -> ModelVersion:
    shipped = weights.active_version()
    return ModelVersion.objects.create(
        name=name,
        parent=shipped,
        status=ModelStatus.READY,
        metrics={
            "frozen": {"n": 40, "accuracy": accuracy, "cer": cer},
            "gold": {"n": 0},
            "parent": {"name": shipped.name, "frozen": {"n": 40, "accuracy": 0.8, "cer": 0.06}},
        },
        config=learning.RetrainOptions(steps=100).as_dict(),
        weights_sha256=shipped.weights_sha256,
        builtin=builtin,  # True: reads the shipped file (enough to promote it)
        created_by=by,
        duration_seconds=130.0,
    )


def test_promoting_a_worse_model_asks_for_a_confirmation_that_shows_the_regression(ml_engineer):
    worse = child("worse", accuracy=0.7, cer=0.09, by=ml_engineer)
    client = signed_in(ml_engineer, recently_confirmed=True)

    asked = client.post(f"/models/{worse.pk}/promote")

    assert asked.status_code == 409
    page = asked.content.decode()
    assert "worse than the active model" in page
    assert "70.0%" in page
    assert "80.0%" in page
    assert "-10.0 pt" in page
    worse.refresh_from_db()
    assert worse.status == ModelStatus.READY

    done = client.post(f"/models/{worse.pk}/promote", {"confirm_regression": "worse"})

    assert done.status_code == 302
    worse.refresh_from_db()
    assert worse.status == ModelStatus.ACTIVE


def test_a_better_model_is_promoted_without_a_detour(ml_engineer):
    better = child("better", accuracy=0.9, cer=0.03, by=ml_engineer)
    client = signed_in(ml_engineer, recently_confirmed=True)

    assert client.post(f"/models/{better.pk}/promote").status_code == 302
    better.refresh_from_db()
    assert better.status == ModelStatus.ACTIVE


def test_the_page_shows_parents_figures_and_a_duration_estimate(ml_engineer):
    child("worse", accuracy=0.7, cer=0.09, by=ml_engineer, builtin=False)
    page = signed_in(ml_engineer).get("/models/").content.decode()

    assert 'id="parent-compare"' in page
    assert "80.0% / 6.0%" in page  # the parent's figures on the same crops
    assert "Worse than" in page
    assert 'id="retrain-estimate"' in page
    assert "from the 1 retraining that ran here" in page
    for option in ("steps", "batch_size", "learning_rate", "synthetic_share", "freeze_features"):
        assert f'name="{option}"' in page


def test_retraining_takes_the_options_of_the_form(ml_engineer, monkeypatch):
    asked = {}
    monkeypatch.setattr(
        learning, "model_retrain_request", lambda *, user, options: asked.update(options=options)
    )
    client = signed_in(ml_engineer)

    client.post(
        "/models/retrain",
        {"steps": "3", "batch_size": "4", "learning_rate": "0.001", "freeze_features": "on"},
    )

    options = asked["options"]
    assert (options.steps, options.batch_size, options.learning_rate) == (3, 4, 0.001)
    assert options.freeze_features is True
