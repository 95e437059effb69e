"""Service tokens: scoped (ingest / withdraw) and revocable at once."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from accounts import services
from annotations import roles
from annotations.models import ServiceToken
from audit.models import AuditEvent
from tests import factories
from tests.accounts.conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def donate(client: Client, raw: str):
    return client.post(
        "/api/v1/donations/",
        {"kind": "receipt", "image": SimpleUploadedFile("w.png", factories.word_png())},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )


def test_new_tokens_may_only_ingest(service_token):
    assert service_token.scopes == ["ingest"]


def test_a_token_without_the_ingest_scope_cannot_donate(client, service_token):
    ServiceToken.objects.filter(pk=service_token.pk).update(scopes=["withdraw"])

    response = donate(client, service_token.raw)

    assert response.status_code == 403
    assert response.json()["detail"] == "This needs a service token with the 'ingest' scope."


def test_revoked_token_is_refused_at_its_next_call(client, service_token, annotator):
    assert donate(client, service_token.raw).status_code == 201

    assert services.service_token_revoke(actor=annotator, token=service_token)
    refused = donate(client, service_token.raw)

    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid or revoked service token."
    assert not services.service_token_revoke(actor=annotator, token=service_token)
    assert AuditEvent.objects.filter(action="accounts.service_token_revoke").count() == 1


def test_admin_revokes_a_token_from_the_admin(client, service_token, make_person):
    boss = make_person("boss", roles.ADMIN)
    boss.user.is_staff = True
    boss.user.save()
    sign_in(client, boss)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})

    response = client.post(
        "/admin/accounts/servicetoken/",
        {"action": "revoke", "_selected_action": [service_token.pk]},
    )

    assert response.status_code == 302
    service_token.refresh_from_db()
    assert service_token.revoked_at is not None
    assert donate(Client(), service_token.raw).status_code == 401


def test_create_service_token_takes_scopes():
    out = io.StringIO()
    call_command(
        "create_service_token",
        "both",
        "--scope",
        "ingest",
        "--scope",
        "withdraw",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert ServiceToken.objects.get(name="both").scopes == ["ingest", "withdraw"]
