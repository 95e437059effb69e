"""The lockout counts failures against the account, whether its username or its e-mail
address was typed: the e-mail address no longer gives five more guesses."""

import pytest

from annotations import roles
from tests.accounts.conftest import sign_in_with_password

pytestmark = pytest.mark.django_db


def test_username_and_email_failures_count_together(client, make_person):
    person = make_person("ann", roles.ANNOTATOR)
    person.user.email = "Ann@Example.org"
    person.user.save(update_fields=["email"])
    # Given three wrong passwords by username and two by e-mail address
    answers = [sign_in_with_password(client, "ann", "wrong!").status_code for _ in range(3)]
    answers += [
        sign_in_with_password(client, "ann@example.org", "wrong!").status_code for _ in range(2)
    ]

    # Then the fifth locks the account out, whichever name comes next
    assert answers[-1] == 429
    assert sign_in_with_password(client, "ANN@example.org").status_code == 429
    assert sign_in_with_password(client, "ann").status_code == 429


def test_a_name_that_is_no_account_counts_as_typed(client, make_person):
    make_person("ann", roles.ANNOTATOR)
    for _ in range(5):
        sign_in_with_password(client, "nobody@example.org", "wrong!")

    assert sign_in_with_password(client, "ann").status_code == 302
