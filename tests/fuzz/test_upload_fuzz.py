"""The upload path under a corpus of crafted and mutated images (``image_corpus``).

Every case goes through the API in-process (Django's test client, the real upload
handler, parser, view and service): no answer outside 201/400/413, every refusal a JSON
message a person can read, and nothing stored (no row, no blob) for a refused file.
"""

import io
import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from annotations.images import ImageRejected, normalize_image
from annotations.models import Donation
from tests.conftest import stored_files
from tests.fuzz.image_corpus import crafted_cases, mutated_cases

URL = "/api/v1/donations/"
FUZZ_SEED = 21
MUTATED_COUNT = 500

# What a person should never read in a refusal: a decoder's or a library's own words.
_RAW_ERROR = re.compile(r"Traceback|cv2|OpenCV|Error\b|errno|decoder object|PIL|\bNone\b")


def _upload(client, data: bytes):
    upload = SimpleUploadedFile("donated.bin", data, content_type="application/octet-stream")
    return client.post(URL, {"image": upload, "kind": "receipt"})


def _check_answer(case, response, blob_dir, rows_before: int, files_before: int) -> list[str]:
    problems = []
    status = response.status_code
    if status not in case.expect:
        problems.append(
            f"{case.name}: {status} (expected one of {case.expect}) {response.content[:200]!r}"
        )
        return problems
    if status == 201:
        if Donation.objects.count() != rows_before + 1:
            problems.append(f"{case.name}: 201 without exactly one new donation")
        return problems
    message = response.json().get("detail", "")
    if not message or len(message) > 300 or _RAW_ERROR.search(message):
        problems.append(f"{case.name}: unreadable refusal {message!r}")
    if case.says and case.says not in message:
        problems.append(f"{case.name}: refusal {message!r} does not say {case.says!r}")
    if Donation.objects.count() != rows_before or len(stored_files(blob_dir)) != files_before:
        problems.append(f"{case.name}: a refused file left a row or a blob behind")
    return problems


def _run(client, cases, blob_dir) -> tuple[list[str], dict[int, int]]:
    problems, statuses = [], {}
    for case in cases:
        rows_before, files_before = Donation.objects.count(), len(stored_files(blob_dir))
        response = _upload(client, case.data)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        problems += _check_answer(case, response, blob_dir, rows_before, files_before)
    return problems, statuses


@pytest.mark.django_db
def test_crafted_images_get_their_answer(service_client, blob_dir):
    # Given every odd mode of each format, chunk bombs, lying headers and non-images
    cases = crafted_cases()

    # When each is donated
    problems, statuses = _run(service_client, cases, blob_dir)

    # Then each gets its answer: stored, or refused with a message and nothing kept
    assert not problems, "\n".join(problems)
    assert statuses.get(201, 0) >= 40, statuses
    assert statuses.get(400, 0) >= 25, statuses


@pytest.mark.django_db
def test_mutated_images_never_answer_a_server_error(service_client, blob_dir):
    # Given 500 seeded mutations (bit flips, truncations, insertions, chunk edits) of
    # well-formed files in every accepted format
    cases = mutated_cases(seed=FUZZ_SEED, count=MUTATED_COUNT)

    # When each is donated
    problems, statuses = _run(service_client, cases, blob_dir)

    # Then none is a server error, and every refusal is clean
    assert not problems, "\n".join(problems)
    assert sum(statuses.values()) == MUTATED_COUNT
    assert statuses.get(400, 0) > 0, statuses
    assert statuses.get(201, 0) > 0, statuses


def test_float_tiff_keeps_its_greys():
    # Given a float TIFF whose pixels run from 0.0 (black) to 1.0 (white)
    ramp = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (40, 1))
    out = io.BytesIO()
    Image.fromarray(ramp, mode="F").save(out, format="TIFF")

    # When it is normalised
    image = normalize_image(out.getvalue())

    # Then it is stored as the same ramp of greys, not all black
    grey = np.asarray(Image.open(io.BytesIO(image.content)))
    assert grey[0, 0] == 0
    assert grey[0, -1] == 255
    assert np.abs(grey[0].astype(int) - np.arange(256)).max() <= 1


def test_float_tiff_outside_zero_one_is_stretched():
    values = np.tile(np.linspace(-500.0, 3000.0, 100, dtype=np.float32), (40, 1))
    out = io.BytesIO()
    Image.fromarray(values, mode="F").save(out, format="TIFF")
    grey = np.asarray(Image.open(io.BytesIO(normalize_image(out.getvalue()).content)))
    assert grey.min() == 0
    assert grey.max() == 255


@pytest.mark.parametrize(
    ("size", "says"),
    [((1, 1), "1×1 pixels"), ((30000, 10), "at least 16 pixels"), ((4000, 40), "longer than")],
)
def test_pages_too_small_or_too_long_are_refused_plainly(size, says):
    out = io.BytesIO()
    Image.new("L", size, 255).save(out, format="PNG")
    with pytest.raises(ImageRejected) as refused:
        normalize_image(out.getvalue())
    assert says in refused.value.message
    assert "cv2" not in refused.value.message
