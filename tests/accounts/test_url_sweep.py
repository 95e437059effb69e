"""Every URL pattern of the project, from the resolver, as every kind of caller.

A new route is swept automatically; a new route of our own must also say, in
PROJECT_ROUTES, what each role gets from it, or ``test_every_project_route_is_declared``
fails.
"""

import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from accounts.middleware import MFA_REQUIRED_MESSAGE
from annotations import roles
from annotations.models import Label, Task
from annotations.services import service_token_create
from audit.models import AuditEvent
from exports.models import Export
from tests import factories
from tests.accounts.conftest import add_totp

pytestmark = pytest.mark.django_db

# What a signed-in session without a second factor may still open (besides /healthz).
MFA_SETUP_ROUTES = {
    "account_login",
    "account_logout",
    "account_reauthenticate",
    "mfa_index",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_reauthenticate",
    "mfa_authenticate",
    "mfa_login_webauthn",
    "mfa_view_recovery_codes",
}
# allauth's pages for people who are not signed in (sign-in, password reset, ...).
ANONYMOUS_ROUTES = {
    "account_login",
    "account_signup",
    "account_logout",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_email_verification_sent",
    "account_confirm_email",
    "account_inactive",
    "account_request_login_code",
    "account_confirm_login_code",
    "mfa_authenticate",
    "mfa_login_webauthn",
    "mfa_signup_webauthn",
    "mfa_trust",
    "account_reauthenticate",
    "mfa_reauthenticate",
}
PUBLIC_ROUTES = {"healthz", "favicon"}
# Where the MFA gate sends a session: set up a first authenticator, or confirm with it.
MFA_STEP_REDIRECTS = ("/accounts/2fa/totp/activate/?next=", "/accounts/2fa/reauthenticate/?next=")
# What the admin role's work needs in the Django admin: people, their roles, their
# sessions, service tokens. Other admin pages are for superusers (the role may be refused).
ADMIN_ROLE_PAGES = {
    "admin:index",
    "admin:app_list",
    "admin:auth_user_changelist",
    "admin:auth_user_add",
    "admin:auth_user_change",
    "admin:auth_user_history",
    "admin:auth_user_password_change",
    "admin:usersessions_usersession_changelist",
    "admin:usersessions_usersession_change",
    "admin:accounts_servicetoken_changelist",
    "admin:accounts_servicetoken_change",
}
ANY_HEALTH = {200, 503}  # /healthz reports the broker too, which the tests may lack

ANNOTATOR, REVIEWER, ADMIN, ML = roles.ANNOTATOR, roles.REVIEWER, roles.ADMIN, roles.ML_ENGINEER
ALL = (ANNOTATOR, REVIEWER, ADMIN, ML)


def only(allowed: set[str], status: int, others: int = 403) -> dict[str, int]:
    return {role: status if role in allowed else others for role in ALL}


# GET of each of our routes, per role (the sweep's objects belong to someone else).
PROJECT_ROUTES: dict[str, dict[str, int]] = {
    "home": only(set(ALL), 200),
    "label": only({ANNOTATOR}, 200),
    "schema": only(set(ALL), 200),
    "donation-create": only(set(), 0),
    "donation-detail": only({REVIEWER, ML}, 200, others=404),
    "task-next": only({ANNOTATOR}, 405),
    "task-submit": only({ANNOTATOR}, 405),
    "task-skip": only({ANNOTATOR}, 405),
    "task-renew": only({ANNOTATOR}, 405),
    "label-mine": only({ANNOTATOR}, 200),
    "label-revise": only({ANNOTATOR}, 405),
    "crop-image": only({REVIEWER}, 200, others=404),
    "crop-context": only({REVIEWER}, 200, others=404),  # the line around it, as the crop
    "favicon": only(set(ALL), 200),
    "audit:events": only({ADMIN}, 200, others=404),
    "audit:event": only({ADMIN}, 200, others=404),
    "audit:history": only({ADMIN}, 200, others=404),
    # an export first asks for the password again (require_recent_auth)
    "audit:export-csv": only({ADMIN}, 302, others=404),
    "audit:export-jsonl": only({ADMIN}, 302, others=404),
    # exports: only ML engineers, each only their own (the sweep's belongs to someone else)
    "export-create": only({ML}, 200),
    "export-detail": only(set(), 0, others=404),
    "export-download": only(set(), 0, others=404),
    "export-archive": only(set(), 0, others=404),
    "exports:page": only({ML}, 200, others=404),
    # re-authentication first, then the export (someone else's here) is looked up
    "exports:download": only({ML}, 302, others=404),
    # label quality: the review queue (reviewers), metrics (reviewers, admins), detector
    # feedback (ML engineers, reviewers); the API's routes answer POST only
    "review": only({REVIEWER}, 200, others=404),
    "review-next": only({REVIEWER}, 405, others=404),
    "review-decide": only({REVIEWER}, 405, others=404),
    "quality:metrics": only({REVIEWER, ADMIN}, 200, others=404),
    "quality:detector-feedback": only({ML, REVIEWER}, 200, others=404),
    # the model registry: ML engineers train and promote, admins look; POST-only actions
    "model-list": only({ML, ADMIN}, 200),
    "model-retrain": only({ML}, 405),
    "model-promote": only({ML}, 405),
    # a donation's page text: ML engineers (and the token that sent it); others 404
    "donation-text": only({ML}, 200, others=404),
    "models:page": only({ML, ADMIN}, 200, others=404),
    "models:retrain": only({ML}, 405, others=404),
    "models:promote": only({ML}, 405, others=404),
}


@dataclass(frozen=True)
class Route:
    url: str
    name: str  # "namespace:name", or the bare name for ours and allauth's
    namespace: str
    view: str  # dotted path of the view

    @property
    def is_api(self) -> bool:
        return self.url.startswith("/api/")

    @property
    def is_admin(self) -> bool:
        return self.namespace == "admin"

    @property
    def is_ours(self) -> bool:
        return not self.view.startswith(("allauth.", "django.")) and not self.is_admin

    @property
    def bare_name(self) -> str:
        return self.name.rsplit(":", 1)[-1]


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name or "", namespace


def _fill(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        return values.get(match.group("name"), "1")

    url = re.sub(r"\(\?P<(?P<name>\w+)>[^)]*\)", value, template)
    url = re.sub(r"<(?:\w+:)?(?P<name>\w+)>", value, url)
    url = url.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")
    return "/" + url.replace("/?", "/").replace("?", "")


def all_routes(values: dict[str, str]) -> list[Route]:
    routes = []
    for template, name, namespace in _walk(get_resolver().url_patterns):
        url = _fill(template, values)
        try:
            view = resolve(url)._func_path
        except Resolver404:
            view = ""
        assert view, f"the sweep built {url!r} from {template!r}: no such route"
        full_name = f"{namespace}:{name}" if namespace else name
        routes.append(Route(url=url, name=full_name or url, namespace=namespace, view=view))
    return routes


@pytest.fixture
def world(db):
    """Someone else's objects for every kind of id in a URL, and the sweep's routes."""
    owner = factories.UserFactory(username="owner")
    owner.groups.set(Group.objects.filter(name=ANNOTATOR))
    token, _ = service_token_create(name="sweep")
    donation = factories.make_ready_donation(source=token, confidences=[0.1, 0.2])
    crop = donation.crops.order_by("index").first()
    task = Task.objects.get(crop=crop)
    label = Label.objects.create(task=task, crop=crop, annotator=owner, text="w")
    export = Export.objects.create(requester=owner, format="jsonl")
    values = {
        "donation_id": str(donation.pk),
        "task_id": str(task.pk),
        "crop_id": str(crop.pk),
        "label_id": str(label.pk),
        "export_id": str(export.pk),
        "event_id": str(AuditEvent.objects.latest("id").pk),
        "object_id": str(owner.pk),
        "id": str(owner.pk),
        "app_label": "auth",
        "content_type_id": str(ContentType.objects.get_for_model(owner).pk),
    }
    return all_routes(values)


def person(*role_names: str, username: str, totp: bool = True):
    user = factories.UserFactory(username=username)
    user.groups.set(Group.objects.filter(name__in=role_names))
    if ADMIN in role_names:
        user.is_staff = True
        user.save()
    if totp:
        add_totp(user)
    return user


def get(client: Client, route: Route):
    return client.get(route.url) if route.is_api else client.get(route.url, HTTP_ACCEPT="text/html")


def is_redirect_to(response, *prefixes: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(prefixes)


def sweep(client: Client, routes: list[Route], expect) -> None:
    """Calls every route; ``expect(route, response)`` says what was wrong, or None."""
    problems = [
        f"{route.name} {route.url}: {problem}"
        for route in routes
        if (problem := expect(route, get(client, route)))
    ]
    assert not problems, "\n".join(problems)


def _as_anonymous(route: Route, response) -> str | None:
    if route.bare_name in PUBLIC_ROUTES:
        return None if response.status_code in ANY_HEALTH else f"got {response.status_code}"
    if route.is_api:
        return None if response.status_code in (401, 403) else f"got {response.status_code}"
    if route.name in ANONYMOUS_ROUTES or route.name == "admin:login":
        return None if response.status_code < 500 else f"got {response.status_code}"
    if is_redirect_to(response, "/accounts/login/", "/admin/login/"):
        return None
    if route.is_admin and is_redirect_to(response, "/admin/"):
        return None  # admin logout sends to the admin index, which sends to sign-in
    return f"got {response.status_code} {response.get('Location', '')}"


def test_anonymous_callers_reach_only_sign_in_pages(client, world):
    sweep(client, world, _as_anonymous)


def _mfa_missing(route: Route, response) -> str | None:
    if route.bare_name in PUBLIC_ROUTES:
        return None if response.status_code in ANY_HEALTH else f"got {response.status_code}"
    if route.name in MFA_SETUP_ROUTES:
        if is_redirect_to(response, *MFA_STEP_REDIRECTS):
            return "an MFA set-up page was refused"
        return None if response.status_code < 500 else f"got {response.status_code}"
    if route.is_api:
        if response.status_code == 403 and response.json() == {"detail": MFA_REQUIRED_MESSAGE}:
            return None
        return f"got {response.status_code}"
    if is_redirect_to(response, *MFA_STEP_REDIRECTS):
        return None
    return f"got {response.status_code} {response.get('Location', '')}"


def test_account_without_mfa_reaches_only_sign_in_and_mfa_setup(client, world):
    user = person(*ALL, username="nomfa", totp=False)
    user.is_superuser = True  # even the most powerful account
    user.save()
    factories.sign_in_password_only(client, user)

    sweep(client, world, _mfa_missing)


def test_password_only_session_reaches_only_sign_in_and_mfa_setup(client, world):
    user = person(*ALL, username="pwonly")
    factories.sign_in_password_only(client, user)

    sweep(client, world, _mfa_missing)


def test_every_project_route_is_declared(world):
    ours = {route.name for route in world if route.is_ours}
    assert ours - set(PROJECT_ROUTES) - PUBLIC_ROUTES == set(), "declare new routes above"
    assert set(PROJECT_ROUTES) <= ours
    assert {"account_login", "mfa_index"} <= {route.name for route in world}, "allauth's too"


def _as_role(role: str):
    def expect(route: Route, response) -> str | None:
        status = response.status_code
        if route.bare_name in PUBLIC_ROUTES:
            return None if status in ANY_HEALTH else f"got {status}"
        if route.name in PROJECT_ROUTES:
            wanted = PROJECT_ROUTES[route.name][role]
            return None if status == wanted else f"expected {wanted}, got {status}"
        if route.is_admin and role != ADMIN:
            refused = status == 403 or is_redirect_to(response, "/admin/")
            return None if refused else f"a non-admin got {status}"
        if is_redirect_to(response, *MFA_STEP_REDIRECTS):
            return "an MFA-complete session was sent to MFA set-up"
        refused = status == 403 or is_redirect_to(response, "/admin/login/")
        if route.name in ADMIN_ROLE_PAGES and refused:
            return f"the admin got {status}"
        return None if status < 500 else f"got {status}"

    return expect


@pytest.mark.parametrize("role", ALL)
def test_each_role_gets_what_its_work_needs(client, world, role):
    client.force_login(person(role, username=f"as-{role}"))

    sweep(client, world, _as_role(role))


def test_deactivated_account_is_treated_as_anonymous(client, world):
    user = person(*ALL, username="gone")
    client.force_login(user)
    user.is_active = False
    user.save()

    sweep(client, world, _as_anonymous)
