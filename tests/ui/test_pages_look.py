"""The app's own look on allauth's pages, the navigation bar, error pages, the favicon,
and a first sign-in that goes from the password to the QR code to the person's work."""

import re

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group

from annotations import roles
from tests import factories
from tests.accounts.conftest import PASSWORD, add_totp, sign_in_with_password

pytestmark = pytest.mark.django_db


def person(username: str, *role_names: str, staff: bool = False):
    user = factories.UserFactory(username=username, is_staff=staff)
    user.groups.set(Group.objects.filter(name__in=role_names))
    return user


def test_the_sign_in_page_has_the_app_look_and_no_sign_up_link(client):
    page = client.get("/accounts/login/").content.decode()

    assert "base.css" in page
    assert "account/account.css" in page
    assert 'class="site-header"' in page
    assert "/accounts/signup/" not in page
    assert "sign up" not in page.lower()
    assert "Forgot your password?" in page


@pytest.mark.parametrize(
    "path",
    ["/accounts/password/reset/", "/accounts/login/"],
)
def test_anonymous_allauth_pages_use_the_layout(client, path):
    page = client.get(path).content.decode()
    assert "account-page" in page
    assert "· DropTurk</title>" in page


@pytest.mark.django_db(transaction=True)  # allauth announces the new authenticator on commit
def test_a_first_sign_in_goes_to_the_qr_code_then_recovery_codes_then_work(client):
    # Given a new annotator with no authenticator
    Group.objects.get_or_create(name=roles.ANNOTATOR)  # flushed with the migration data
    user = person("newbie", roles.ANNOTATOR)

    # When they sign in with their password and open their work
    sign_in_with_password(client, user.username, PASSWORD)
    step = client.get("/label/")

    # Then they are sent straight to the authenticator app's set-up, not to an overview
    assert step.status_code == 302
    assert step["Location"].startswith("/accounts/2fa/totp/activate")
    setup = client.get(step["Location"])
    assert setup.status_code == 200, "no second password prompt right after signing in"
    html = setup.content.decode()
    assert "totp-qr" in html
    assert "data-secret" in html
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', html).group(1)

    # And a code from the app activates it and shows the recovery codes once
    done = client.post("/accounts/2fa/totp/activate/", {"code": factories.totp_code(secret)})
    assert done.status_code == 302
    codes = client.get(done["Location"])
    assert codes.status_code == 200
    page = codes.content.decode()
    assert 'id="recovery_codes"' in page
    # with a way back to their work
    assert 'id="continue-to-work" href="/label/"' in page
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    assert client.get("/label/").status_code == 200


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (roles.ANNOTATOR, ["/label/"], ["/review/", "/audit/", "/admin/"]),
        (roles.REVIEWER, ["/review/", "/quality/"], ["/label/", "/exports/"]),
        (roles.ML_ENGINEER, ["/exports/", "/models/"], ["/label/", "/audit/"]),
        (roles.ADMIN, ["/audit/", "/models/", "/quality/", "/admin/"], ["/label/", "/exports/"]),
    ],
)
def test_the_navigation_bar_shows_each_role_its_pages(client, role, shown, hidden):
    user = person(f"p-{role}", role, staff=role == roles.ADMIN)
    client.force_login(user)

    html = client.get("/").content.decode()
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S).group(0)

    for url in shown:
        assert f'href="{url}"' in nav
    for url in hidden:
        assert f'href="{url}"' not in nav


def test_the_admins_home_links_to_the_audit_trail_and_the_admin(client):
    client.force_login(person("boss", roles.ADMIN, staff=True))
    html = client.get("/").content.decode()
    main = html.split("<main>", 1)[1]
    assert 'href="/audit/"' in main
    assert 'href="/admin/"' in main


def test_a_reviewer_opening_the_admin_gets_a_styled_403(client):
    client.force_login(person("rev", roles.REVIEWER))
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    html = response.content.decode()
    assert "site-header" in html
    assert "not part of your work" in html


def test_a_missing_page_is_a_styled_404(client):
    client.force_login(person("ann", roles.ANNOTATOR))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "site-header" in response.content.decode()


def test_the_500_page_renders_without_a_request():
    from django.template.loader import render_to_string

    assert "Something went wrong" in render_to_string("500.html")


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg")


def test_a_signed_in_person_with_totp_sees_the_reauthenticate_page_styled(client):
    user = person("ml", roles.ML_ENGINEER)
    add_totp(user)
    client.force_login(user)
    html = client.get("/accounts/reauthenticate/").content.decode()
    assert "account-page" in html


def test_no_navigation_before_the_second_factor(client):
    from tests.accounts.conftest import sign_in_with_password

    user = person("fresh", roles.ANNOTATOR)
    sign_in_with_password(client, user.username, PASSWORD)
    html = client.get("/accounts/2fa/totp/activate/").content.decode()
    assert 'class="site-nav"' not in html
