import io
import os
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from annotations import blobs
from annotations.models import Donation, DonationStatus, ServiceToken
from tests.conftest import stored_files
from tests.factories import make_donation

URL = "/api/v1/donations/"


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _page(size=(300, 200)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    for x in range(20, 120):  # a dark bar near the top left, to tell orientation apart
        for y in range(10, 30):
            image.putpixel((x, y), (0, 0, 0))
    return image


def _post(client, data: bytes, *, name="scan.jpg", kind="receipt", content_type="image/jpeg"):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(URL, {"image": upload, "kind": kind})


def _huge_png_header(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG that claims to be width×height (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * 64
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * 4))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("fmt", "params", "stored_format"),
    [
        ("JPEG", {"quality": 90}, "jpeg"),
        ("PNG", {}, "png"),
        ("TIFF", {"compression": "tiff_lzw"}, "png"),
        ("WEBP", {"lossless": True}, "png"),
    ],
)
def test_accepted_formats_are_stored_encrypted_and_reencoded(
    service_client, blob_dir, fmt, params, stored_format
):
    # Given an image in one of the accepted formats, with a misleading file name
    data = _encode(_page(), fmt, **params)

    # When the donation service posts it
    response = _post(service_client, data, name="whatever.bin", content_type="application/pdf")

    # Then it is stored, encrypted, as the format we keep
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == DonationStatus.RECEIVED
    assert body["kind"] == "receipt"
    donation = Donation.objects.get(pk=body["id"])
    assert donation.image_format == stored_format
    assert (donation.width, donation.height) == (300, 200)
    [stored] = stored_files(blob_dir)
    ciphertext = stored.read_bytes()
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(io.BytesIO(ciphertext))
    plain = blobs.blob_get(donation=donation, name=donation.image_name)
    assert Image.open(io.BytesIO(plain)).size == (300, 200)


def test_exif_orientation_is_applied_and_metadata_dropped(service_client):
    # Given a JPEG stored sideways, with orientation 6 ("rotate 90° clockwise") and a GPS-ish tag
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "SecretCam"  # Make
    data = _encode(_page((300, 200)), "JPEG", exif=exif.tobytes()) + b"TRAILING-PAYLOAD"

    response = _post(service_client, data)

    assert response.status_code == 201, response.content
    donation = Donation.objects.get(pk=response.json()["id"])
    plain = blobs.blob_get(donation=donation, name=donation.image_name)
    stored = Image.open(io.BytesIO(plain))
    # Upright now: the 300×200 page becomes 200×300, the bar moves to the top right.
    assert stored.size == (200, 300)
    assert stored.convert("L").getpixel((200 - 20, 60)) < 80
    assert not stored.getexif()
    assert b"SecretCam" not in plain
    assert b"TRAILING-PAYLOAD" not in plain


def _assert_rejected(response, status: int, words: str, blob_dir) -> None:
    assert response.status_code == status, response.content
    assert words.lower() in response.json()["detail"].lower()
    assert Donation.objects.count() == 0
    assert stored_files(blob_dir) == []


def test_non_image_is_refused(service_client, blob_dir):
    response = _post(service_client, b"%PDF-1.7\n1 0 obj<<>>endobj\n", name="receipt.jpg")
    _assert_rejected(response, 400, "not an image we accept", blob_dir)


def test_gif_is_not_an_accepted_format(service_client, blob_dir):
    response = _post(service_client, _encode(_page(), "GIF"), name="scan.png")
    _assert_rejected(response, 400, "JPEG, PNG, TIFF or WebP", blob_dir)


def test_corrupt_jpeg_is_refused(service_client, blob_dir):
    good = _encode(_page(), "JPEG")
    corrupt = good[:200] + bytes(range(256)) * 8  # valid header, garbage body
    response = _post(service_client, corrupt)
    assert response.status_code == 400, response.content
    assert Donation.objects.count() == 0
    assert stored_files(blob_dir) == []


def test_truncated_image_is_refused(service_client, blob_dir):
    good = _encode(_page((800, 600)), "PNG")
    response = _post(service_client, good[: len(good) // 2], content_type="image/png")
    _assert_rejected(response, 400, "damaged or incomplete", blob_dir)


def test_empty_file_is_refused(service_client, blob_dir):
    response = _post(service_client, b"")
    _assert_rejected(response, 400, "empty", blob_dir)


def test_file_over_20_mb_is_refused_with_413(service_client, blob_dir):
    oversized = b"\xff\xd8\xff" + b"\x00" * (20 * 1024 * 1024 + 10)
    response = _post(service_client, oversized)
    _assert_rejected(response, 413, "20 MB", blob_dir)


def test_image_over_40_megapixels_is_refused_with_413(service_client, blob_dir):
    # A plain white 8000×6000 PNG: 48 megapixels in a few hundred kilobytes.
    data = _encode(Image.new("L", (8000, 6000), 255), "PNG")
    response = _post(service_client, data, content_type="image/png")
    _assert_rejected(response, 413, "megapixels", blob_dir)


def test_decompression_bomb_is_refused(service_client, blob_dir):
    response = _post(service_client, _huge_png_header(30_000, 30_000), content_type="image/png")
    _assert_rejected(response, 413, "megapixels", blob_dir)


def test_unknown_kind_and_missing_image_are_400(service_client, blob_dir):
    response = _post(service_client, _encode(_page(), "PNG"), kind="passport")
    assert response.status_code == 400
    assert "kind" in response.json()
    response = service_client.post(URL, {"kind": "receipt"})
    assert response.status_code == 400
    assert "image" in response.json()
    assert Donation.objects.count() == 0


def test_donations_need_a_valid_service_token(client, service_token, annotator, blob_dir):
    data = _encode(_page(), "PNG")
    assert _post(client, data).status_code == 401

    client.defaults["HTTP_AUTHORIZATION"] = "Bearer dt_not-a-real-token"
    assert _post(client, data).status_code == 401

    ServiceToken.objects.filter(pk=service_token.pk).update(revoked_at=timezone.now())
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {service_token.raw}"
    assert _post(client, data).status_code == 401

    # A signed-in person is not the donation service.
    del client.defaults["HTTP_AUTHORIZATION"]
    client.force_login(annotator)
    assert _post(client, data).status_code == 403
    assert Donation.objects.count() == 0


def test_storage_failure_leaves_no_row(service_client, blob_dir, monkeypatch):
    def broken_put(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(blobs, "blob_put", broken_put)
    with pytest.raises(OSError, match="disk full"):
        _post(service_client, _encode(_page(), "PNG"))
    assert Donation.objects.count() == 0


def test_detail_shows_status_and_crops_to_its_sender_only(
    client, service_token, annotator, reviewer
):
    donation = make_donation(source=service_token)
    url = f"{URL}{donation.pk}/"

    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {service_token.raw}"
    response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(donation.pk)
    assert body["status"] == "received"
    assert body["kind"] == "receipt"
    assert body["crops"] == []
    assert "created_at" in body

    from annotations.services import service_token_create

    _, other_raw = service_token_create(name="someone-else")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {other_raw}"
    assert client.get(url).status_code == 404

    del client.defaults["HTTP_AUTHORIZATION"]
    client.force_login(annotator)
    assert client.get(url).status_code == 404
    client.force_login(reviewer)
    assert client.get(url).status_code == 200


def test_detail_shows_how_the_page_reader_made_each_crop(service_client, service_token):
    from annotations.models import WordCrop
    from tests.factories import make_ready_donation

    donation = make_ready_donation(source=service_token, confidences=[0.9, 0.4])
    first, second = donation.crops.order_by("index")
    WordCrop.objects.filter(pk=first.pk).update(line=0, decision="accepted")
    WordCrop.objects.filter(pk=second.pk).update(line=1, decision="combined", source_boxes=2)
    Donation.objects.filter(pk=donation.pk).update(words_rejected=3, words_over_cap=2)

    body = service_client.get(f"{URL}{donation.pk}/").json()

    assert (body["words_rejected"], body["words_over_cap"]) == (3, 2)
    assert [(crop["id"], crop["line"], crop["decision"]) for crop in body["crops"]] == [
        (first.pk, 0, "accepted"),
        (second.pk, 1, "combined"),
    ]


def test_detail_of_a_crop_cut_before_the_page_reader(service_client, service_token):
    from tests.factories import make_ready_donation

    donation = make_ready_donation(source=service_token, confidences=[0.9])

    body = service_client.get(f"{URL}{donation.pk}/").json()

    # Not read by the page reader: no count of rejected regions, no line, no decision.
    assert (body["words_rejected"], body["words_over_cap"]) == (None, 0)
    assert [(crop["line"], crop["decision"]) for crop in body["crops"]] == [(None, "")]


def test_large_uploads_are_never_spooled_to_a_temporary_file(service_client, monkeypatch):
    from django.core.files import uploadedfile

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    monkeypatch.setattr(uploadedfile.TemporaryUploadedFile, "__init__", no_disk)
    # Noise does not compress: about 3.6 MB, above Django's 2.5 MB in-memory threshold.
    noise = Image.frombytes("RGB", (1200, 1000), os.urandom(1200 * 1000 * 3))
    data = _encode(noise, "PNG")
    assert len(data) > 2_621_440

    response = _post(service_client, data, content_type="image/png")

    assert response.status_code == 201, response.content
