"""A passkey added in the browser signs in without a password (Chromium's virtual
authenticator stands in for a phone or a security key)."""

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from playwright.sync_api import expect

from tests import factories
from tests.accounts.conftest import PASSWORD, add_totp
from tests.e2e.conftest import WAIT_MS

pytestmark = pytest.mark.postgres


def test_a_passkey_is_added_and_signs_in(
    browser, live_server, settings, plain_http_cookies, annotator
):
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # http://localhost; production is HTTPS
    add_totp(annotator)
    client = Client()
    factories.sign_in_with_mfa(client, annotator)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(WAIT_MS)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )

    # Given a signed-in annotator who confirms their password to add a passkey
    page.goto("/accounts/2fa/webauthn/add/")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/webauthn/add/")

    # When they name it, make it a passkey and add it
    page.locator("input[name=name]").fill("laptop")
    page.locator("input[name=passwordless]").check()
    page.locator("#mfa_webauthn_add").click()
    expect(page).not_to_have_url(f"{live_server.url}/accounts/2fa/webauthn/add/")
    assert Authenticator.objects.filter(user=annotator, type="webauthn").count() == 1

    # Then, signed out, "Sign in with a passkey" lets them in with no password typed
    context.clear_cookies()
    page.goto("/label/")
    page.locator("#passkey_login").click()
    expect(page).to_have_url(f"{live_server.url}/label/")
    expect(page.locator("#label-app")).to_be_visible()
    context.close()
