"""Re-authentication before sensitive actions: require_recent_auth (for exports)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from annotations import roles
from tests.accounts.conftest import PASSWORD, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.reauth_urls")]


def test_a_page_sends_to_allauths_reauthentication_then_lets_through(client, make_person):
    sign_in(client, make_person("ml", roles.ML_ENGINEER))

    refused = client.post("/exports/stand-in/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/accounts/reauthenticate/")

    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.post("/exports/stand-in/").json() == {"exported": True}


def test_the_api_answers_403_with_where_to_reauthenticate(client, make_person):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sign_in(client, make_person("ml", roles.ML_ENGINEER))
        refused = client.post("/api/v1/exports/stand-in/")
        assert refused.status_code == 403
        assert refused.json()["reauthenticate_url"] == (
            "/accounts/reauthenticate/?next=%2Fapi%2Fv1%2Fexports%2Fstand-in%2F"
        )
        client.post("/accounts/reauthenticate/", {"password": PASSWORD})
        assert client.post("/api/v1/exports/stand-in/").status_code == 200

    # A confirmation counts for five minutes
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        assert client.post("/api/v1/exports/stand-in/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=6), tick=False):
        assert client.post("/api/v1/exports/stand-in/").status_code == 403
