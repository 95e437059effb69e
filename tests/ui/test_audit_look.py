"""The audit pages as people read them: details in words, and the export's re-authentication
asked for on the page rather than downloaded in place of the file."""

import pytest

import audit
from audit.actions import describe
from tests.audit.admin_pages import admin, signed_in

pytestmark = pytest.mark.django_db


def test_details_are_rendered_for_people_not_as_python_lists():
    text = describe("accounts.sign_in", target_id="", data={"methods": ["password", "mfa"]})
    assert text == "signed in (password, mfa)"


def test_an_events_details_page_lists_its_data_in_words():
    boss = signed_in(admin())
    event = audit.record(
        actor=None, action="accounts.sign_in", data={"methods": ["password", "mfa"]}
    )
    html = boss.get(f"/audit/events/{event.id}/").content.decode()
    assert "signed in (password, mfa)" in html
    assert "<dt>Methods</dt><dd>password, mfa</dd>" in html
    assert "[&#x27;password&#x27;" not in html


def test_the_export_asks_for_re_authentication_on_the_page():
    boss = signed_in(admin())
    audit.record(actor=None, action="accounts.sign_out")

    html = boss.get("/audit/?outcome=failure").content.decode()

    assert 'id="confirm-to-export"' in html
    assert "/accounts/reauthenticate/?next=/audit/%3Foutcome%3Dfailure" in html
    assert "export.csv" not in html
