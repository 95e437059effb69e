"""Labels that a spreadsheet would run as formulas (=, +, -, @ first) are guarded with a
leading ' in the plain-text formats (PaddleOCR, tesstrain) and noted in the manifest;
jsonl keeps every label as typed."""

import json

import pytest

from tests import factories
from tests.exports.conftest import label_all
from tests.exports.test_archive_and_api import built, download, signed_in

pytestmark = pytest.mark.django_db

TEXTS = ["=HYPERLINK(1)", "+cmd", "-5.00", "@SUM(A1)", "plain"]


@pytest.fixture
def formula_labels(service_token, annotator):
    donation = factories.make_ready_donation(
        source=service_token, confidences=[0.1, 0.2, 0.3, 0.4, 0.5]
    )
    label_all(donation, annotator=annotator, texts=TEXTS)


def _members(ml_engineer, fmt: str) -> dict[str, bytes]:
    tar = download(signed_in(ml_engineer, recently_confirmed=True), built(ml_engineer, fmt))
    return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_paddleocr_labels_never_start_a_formula(formula_labels, ml_engineer):
    members = _members(ml_engineer, "paddleocr")
    lines = b"".join(v for k, v in members.items() if k.startswith("rec_gt_")).decode()
    labels = sorted(line.split("\t", 1)[1] for line in lines.splitlines())
    assert labels == sorted(["'=HYPERLINK(1)", "'+cmd", "'-5.00", "'@SUM(A1)", "plain"])
    assert "'" not in members["dict.txt"].decode().split("\n")  # the guard is no character
    manifest = json.loads(members["manifest.json"])
    assert any("4 label(s) beginning with =, +, - or @" in note for note in manifest["notes"])


def test_tesstrain_ground_truth_never_starts_a_formula(formula_labels, ml_engineer):
    members = _members(ml_engineer, "tesstrain")
    truths = sorted(v.decode().rstrip("\n") for k, v in members.items() if k.endswith(".gt.txt"))
    assert all(not truth.startswith(("=", "+", "-", "@")) for truth in truths)
    assert "'-5.00" in truths


def test_jsonl_keeps_labels_as_typed(formula_labels, ml_engineer):
    members = _members(ml_engineer, "jsonl")
    texts = {
        json.loads(line)["text"]
        for name, data in members.items()
        if name.endswith(".jsonl")
        for line in data.decode().splitlines()
    }
    assert set(TEXTS) <= texts
