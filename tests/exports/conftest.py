"""Labeled donations for the export tests, made through the real services."""

import pytest
from django.contrib.auth.models import Group

from annotations import roles
from annotations.models import Task
from annotations.services import label_submit
from tests import factories


def label_all(donation, *, annotator, texts=None, **flags):
    """Labels every crop of ``donation`` (``texts`` in crop order) through ``label_submit``,
    each task asking for one label, so that consensus accepts every crop."""
    Task.objects.filter(crop__donation=donation).update(labels_needed=1)
    labels = []
    for crop in donation.crops.order_by("index"):
        text = texts[crop.index] if texts else f"word{crop.index}"
        labels.append(label_submit(user=annotator, task_id=crop.task.pk, text=text or "", **flags))
    return labels


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Accounts are made (and re-authenticate) in most tests here; PBKDF2 is the slow part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ml_engineer(db):
    user = factories.UserFactory(username="ml")
    user.groups.set(Group.objects.filter(name=roles.ML_ENGINEER))
    return user


@pytest.fixture
def labeled(service_token, annotator):
    """Three documents of three crops each, every crop labeled (one label revised)."""
    donations = [
        factories.make_ready_donation(source=service_token, confidences=[0.1, 0.5, 0.9])
        for _ in range(3)
    ]
    for donation in donations:
        label_all(donation, annotator=annotator)
    return donations


@pytest.fixture
def three_splits(labeled, monkeypatch):
    """The three labeled documents in train, validation and test, one each (the hashes of
    three random ids rarely reach every split)."""
    from exports import selectors

    chosen = {str(d.pk): split for d, split in zip(labeled, selectors.SPLITS, strict=True)}
    monkeypatch.setattr(selectors, "split_of", lambda donation_id: chosen[str(donation_id)])
    return labeled
