"""Fixtures of the quality tests: settings made per test, people, crops in each band."""

import pytest
from django.contrib.auth.models import Group

from annotations import roles
from annotations.models import Task
from quality.models import QualitySettings
from tests import factories


@pytest.fixture
def quality_settings(db):
    """set(**fields) -> the project's settings row with those fields (no gold by default)."""

    def set_fields(**fields) -> QualitySettings:
        row = QualitySettings.objects.filter(pk=1).first() or QualitySettings(pk=1)
        for name, value in {"gold_rate": 0.0, **fields}.items():
            setattr(row, name, value)
        row.save()
        return row

    set_fields()
    return set_fields


def person(username: str, *role_names: str):
    user = factories.UserFactory(username=username)
    user.groups.set(Group.objects.filter(name__in=role_names))
    return user


@pytest.fixture
def annotators(db):
    return [person(f"ann{i}", roles.ANNOTATOR) for i in range(4)]


@pytest.fixture
def make_tasks(service_token):
    """make_tasks(*confidences) -> their tasks, in the order given."""

    def make(*confidences: float) -> list[Task]:
        donation = factories.make_ready_donation(
            source=service_token, confidences=list(confidences)
        )
        return list(Task.objects.filter(crop__donation=donation).order_by("crop__index"))

    return make
