import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import Donation, ServiceToken
from annotations.services import hash_token
from dropturk.management.commands import seed_demo
from tests import factories


def test_create_service_token_prints_a_token_stored_only_hashed(db, client):
    out = io.StringIO()
    call_command("create_service_token", "donation-app", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip()

    token = ServiceToken.objects.get(name="donation-app")
    assert raw.startswith("dt_")
    assert token.token_hash == hash_token(raw)
    assert raw not in (token.token_hash, token.prefix)
    # The printed token works for the API.
    response = client.get(
        "/api/v1/donations/00000000-0000-0000-0000-000000000000/",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 404


def test_create_service_token_refuses_a_taken_name(db):
    call_command("create_service_token", "app", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_service_token", "app", stdout=io.StringIO(), stderr=io.StringIO())


def test_seed_demo_creates_people_with_roles_and_documents_once(db, client):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()

    users = get_user_model().objects.in_bulk(field_name="username")
    assert {"annotator", "reviewer", "mlengineer", "admin"} <= set(users)
    assert list(users["annotator"].groups.values_list("name", flat=True)) == ["annotator"]
    lines = text.splitlines()
    at = next(n for n, line in enumerate(lines) if line.strip().startswith("annotator"))
    password = lines[at].split()[1]
    secret = lines[at + 1].split()[-1]
    assert lines[at + 2].strip().startswith("otpauth://totp/")
    assert f"secret={secret}" in lines[at + 2]

    # The printed password and a code from the printed secret sign in (allauth's MFA step)
    response = client.post("/accounts/login/", {"login": "annotator", "password": password})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    response = client.post("/accounts/2fa/authenticate/", {"code": factories.totp_code(secret)})
    assert response.status_code == 302
    assert client.get("/label/").status_code == 200
    documents = len(seed_demo.DEMO_DOCUMENTS) + len(seed_demo.DEMO_LABELED_PAGES)
    assert Donation.objects.count() == documents

    call_command("seed_demo", stdout=io.StringIO())
    assert Donation.objects.count() == documents
