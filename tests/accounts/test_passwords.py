"""Passwords: at least 12 characters, not a common one, not like the account's name."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests import factories


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!pass", "too short"),
        ("password1234", "too common"),
        ("annotator-jones", "too similar"),
    ],
)
def test_weak_passwords_are_refused(db, password, reason):
    user = factories.UserFactory.build(username="annotator-jones")
    with pytest.raises(ValidationError, match=reason):
        validate_password(password, user=user)


def test_a_long_uncommon_passphrase_is_accepted(db):
    user = factories.UserFactory.build(username="ann")
    validate_password("correct horse battery staple", user=user)
