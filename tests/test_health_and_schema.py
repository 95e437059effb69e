import pytest


def test_healthz_reports_each_service(client, db):
    from dropturk import health

    health.heartbeat()
    response = client.get("/healthz")
    body = response.json()
    assert {"database", "storage", "broker", "beat"} <= set(body["checks"])
    assert response.status_code == 200, body
    assert body["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_broker_is_down(client, db, monkeypatch):
    from dropturk import health

    def unreachable():
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setitem(health.CHECKS, "broker", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False
    assert body["checks"]["broker"]["ok"] is False
    assert "refused" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_healthz_is_503_when_redis_is_unreachable(client, db, settings):
    from dropturk.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/donations/",
        "/api/v1/donations/{donation_id}/",
        "/api/v1/tasks/next/",
        "/api/v1/tasks/{task_id}/submit/",
        "/api/v1/crops/{crop_id}/image",
    ],
)
def test_openapi_schema_lists_the_api(annotator_client, path):
    # Only for people signed in with MFA, like the rest of the API.
    response = annotator_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert path in response.json()["paths"]
