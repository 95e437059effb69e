"""Failed sign-ins, lockouts and wrong second factors are on the trail as failures, so the
audit page's "Outcome = failure" filter finds them."""

import pytest

from annotations import roles
from audit.models import AuditEvent, Outcome
from tests.accounts.conftest import sign_in, sign_in_with_password

pytestmark = pytest.mark.django_db


def outcomes(action: str) -> set[str]:
    return set(AuditEvent.objects.filter(action=action).values_list("outcome", flat=True))


def test_failed_sign_ins_and_the_lockout_are_failures(client, make_person):
    make_person("ann", roles.ANNOTATOR)
    for _ in range(5):
        sign_in_with_password(client, "ann", "wrong password!")

    assert outcomes("accounts.sign_in_failed") == {Outcome.FAILURE}
    assert outcomes("accounts.lockout") == {Outcome.FAILURE}


def test_a_wrong_totp_code_is_a_failure(client, make_person):
    person = make_person("ann", roles.ANNOTATOR)
    wrong = f"{(int(person.code()) + 1) % 1_000_000:06d}"

    sign_in(client, person, code=wrong)

    assert outcomes("accounts.mfa_failed") == {Outcome.FAILURE}
    assert AuditEvent.objects.filter(outcome=Outcome.FAILURE).count() >= 1
