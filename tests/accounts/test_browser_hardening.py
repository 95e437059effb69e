"""CSP, framing, referrer, CSRF: the browser's side of the defences."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotations import roles
from annotations.models import Label
from tests import factories

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def csp_directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (piece.strip() for piece in header.split(";"))
        if part
    }


@pytest.mark.parametrize("path", ["/", "/label/", "/accounts/login/", "/api/v1/labels/mine/"])
def test_every_response_carries_the_policy(annotator_client, path):
    response = annotator_client.get(path)

    directives = csp_directives(response)
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_our_templates_have_no_inline_script_or_style(annotator_client):
    for path in ("/", "/label/", "/accounts/2fa/"):
        html = annotator_client.get(path).content.decode()
        assert "<script>" not in html
        assert "<style" not in html
        assert " style=" not in html
        assert " onclick=" not in html


def test_a_script_typed_as_a_transcription_is_inert(annotator_client, annotator, service_token):
    # Given an annotator who labels a word as a <script> element
    factories.make_ready_donation(source=service_token, confidences=[0.1])
    task = annotator_client.post("/api/v1/tasks/next/").json()["tasks"][0]
    saved = annotator_client.post(
        f"/api/v1/tasks/{task['id']}/submit/", {"text": SCRIPT}, content_type="application/json"
    )
    assert saved.status_code == 201
    assert Label.objects.get().text == SCRIPT  # stored as typed

    # Then the API hands it back as JSON text, never as markup
    mine = annotator_client.get("/api/v1/labels/mine/")
    assert mine["Content-Type"] == "application/json"
    assert mine.json()["labels"][0]["text"] == SCRIPT

    # And the admin's list of labels shows it escaped, under a policy that runs no inline script
    superuser = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    superuser.groups.set(Group.objects.filter(name=roles.ADMIN))
    admin = Client()
    admin.force_login(superuser)
    page = admin.get("/admin/annotations/label/")
    assert page.status_code == 200
    html = page.content.decode()
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]


def test_session_calls_without_a_csrf_token_are_refused(annotator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(annotator)

    refused = client.post("/api/v1/tasks/next/")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert client.post("/accounts/logout/").status_code == 403

    token = str(client.get("/label/").context["csrf_token"])
    assert client.post("/api/v1/tasks/next/", HTTP_X_CSRFTOKEN=token).status_code == 204


def test_service_token_calls_need_no_csrf_token(service_token):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/donations/",
        {"kind": "receipt", "image": SimpleUploadedFile("w.png", factories.word_png())},
        HTTP_AUTHORIZATION=f"Bearer {service_token.raw}",
    )
    assert response.status_code == 201
