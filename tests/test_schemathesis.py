"""The API against its own OpenAPI schema (schemathesis): for every operation, generated
requests (seeded, at most ``MAX_EXAMPLES`` each) never get a server error, and every
answer's status is one the schema lists for that operation.

Requests go through Django's test client in-process (the suite's database transaction,
no server): a person with every role and a second factor for the people's calls, the
donation service's token for the donation calls.
"""

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core import NotSet

from annotations import roles
from tests import factories

MAX_EXAMPLES = 20


@pytest.fixture
def api_schema(db):
    raw = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    return schemathesis.openapi.from_dict(raw)


@pytest.fixture
def callers(service_token):
    person = factories.UserFactory(username="everyone")
    person.groups.set(Group.objects.filter(name__in=roles.ALL_ROLES))
    people = Client(raise_request_exception=False)
    people.force_login(person)
    service = Client(
        raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {service_token.raw}"
    )
    factories.make_ready_donation(source=service_token, confidences=[0.3, 0.8])
    return {"people": people, "service": service}


def _form_value(key: str, value):
    if key == "image":
        return SimpleUploadedFile(key, value if isinstance(value, bytes) else str(value).encode())
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _send(client: Client, case):
    path = case.formatted_path
    if case.query:
        path += "?" + urlencode(case.query, doseq=True)
    extra = {
        f"HTTP_{name.upper().replace('-', '_')}": str(value)
        for name, value in (case.headers or {}).items()
        if name.lower() not in {"authorization", "cookie", "content-type", "content-length"}
    }
    media = case.media_type or ""
    if isinstance(case.body, NotSet):
        return client.generic(case.method, path, **extra)
    if media.startswith("multipart/") and isinstance(case.body, dict):
        data = {key: _form_value(key, value) for key, value in case.body.items()}
        return client.generic(
            case.method, path, encode_multipart(BOUNDARY, data), MULTIPART_CONTENT, **extra
        )
    if media.startswith("application/x-www-form-urlencoded") and isinstance(case.body, dict):
        body = urlencode(case.body, doseq=True)
        return client.generic(case.method, path, body, media, **extra)
    return client.generic(case.method, path, json.dumps(case.body), "application/json", **extra)


def _problem(case, response) -> str | None:
    listed = set(case.operation.definition.raw.get("responses", {}))
    if response.status_code >= 500:
        return f"server error {response.status_code}: {response.content[:300]!r}"
    if str(response.status_code) not in listed and "default" not in listed:
        return f"not in the schema's {sorted(listed)}: {response.content[:200]!r}"
    return None


def _fuzz(operation, caller) -> tuple[int, dict[str, str]]:
    """Calls one operation with generated requests; (calls made, problems by status)."""
    problems: dict[str, str] = {}
    calls = 0

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,  # seeded: the same requests on every run
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the list says enough
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        nonlocal calls
        calls += 1
        response = _send(caller, case)
        problem = _problem(case, response)
        if problem:
            key = f"{case.method} {case.path} {response.status_code}"
            problems.setdefault(key, f"{key} ({case.formatted_path}): {problem}")

    call()
    return calls, problems


def test_api_keeps_to_its_schema(api_schema, callers):
    problems: dict[str, str] = {}
    calls = operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        donation_call = operation.path.startswith("/api/v1/donations")
        made, found = _fuzz(operation, callers["service" if donation_call else "people"])
        calls += made
        operations += 1
        problems.update(found)
    assert operations >= 20
    assert calls >= 10 * operations
    assert not problems, "\n".join(sorted(problems.values()))
