"""With DEBUG off, Django's own errors under /api/ are JSON, as DRF's are; the site's
pages keep their HTML error pages."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from annotations.api import views
from dropturk import errors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def _is_json(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return json.loads(response.content)


def test_an_unknown_api_path_is_a_json_404(annotator_client):
    response = annotator_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert _is_json(response) == {"detail": "Not found."}


def test_an_unknown_page_keeps_the_html_404(annotator_client):
    response = annotator_client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_disallowed_host_on_the_api_is_a_json_400(client):
    response = client.get("/api/v1/labels/mine/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert _is_json(response) == {"detail": "Bad request."}


def test_an_unexpected_error_in_an_api_view_is_a_json_500(annotator, monkeypatch):
    def broken(self, request):
        raise RuntimeError("boom: a secret detail")

    monkeypatch.setattr(views.LabelMineApi, "get", broken)
    client = Client(raise_request_exception=False)
    client.force_login(annotator)

    response = client.get("/api/v1/labels/mine/")

    assert response.status_code == 500
    body = _is_json(response)
    assert "secret" not in body["detail"]


def test_django_403_and_csrf_failures_under_the_api_are_json():
    request = RequestFactory().post("/api/v1/tasks/next/")
    denied = errors.permission_denied(request, PermissionDenied())
    assert denied.status_code == 403
    assert _is_json(denied)["detail"]
    csrf = errors.csrf_failure(request, reason="CSRF cookie not set.")
    assert csrf.status_code == 403
    assert "CSRF" in _is_json(csrf)["detail"]
    page = errors.csrf_failure(RequestFactory().post("/label/"), reason="no cookie")
    assert page["Content-Type"].startswith("text/html")
