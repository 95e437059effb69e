"""Signing in as a person does: password, then the code of an authenticator app."""

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.accounts.conftest import PASSWORD, add_totp
from tests.e2e.conftest import WAIT_MS

pytestmark = pytest.mark.postgres


def test_sign_in_with_password_and_totp_reaches_the_label_page(
    browser, live_server, plain_http_cookies, annotator
):
    # Given an annotator with an authenticator app set up (its secret known to the test)
    secret = add_totp(annotator)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))

    # When they open the label page, they are asked to sign in
    page.goto("/label/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/label/")

    # And they type their username and password
    page.locator("input[name=login]").fill(annotator.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").first.click()

    # Then the second step asks for the app's code, and the code lets them in
    code_field = page.locator("input[name=code]")
    expect(code_field).to_be_visible()
    code_field.fill(factories.totp_code(secret))
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{live_server.url}/label/")
    expect(page.locator("#label-app")).to_be_visible()
    context.close()
    assert not script_errors, script_errors
