"""The ML engineers' exports page: request, follow, download after re-authentication."""

import io
import tarfile

import pytest

from exports import services
from exports.models import Export, ExportStatus
from tests.accounts.conftest import PASSWORD
from tests.exports.test_archive_and_api import built, signed_in

pytestmark = pytest.mark.django_db


def test_an_ml_engineer_requests_an_export_from_the_page(
    labeled, ml_engineer, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: None)
    client = signed_in(ml_engineer, recently_confirmed=False)

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            "/exports/",
            {"format": "doctr", "kinds": ["receipt"], "flags_exclude": ["unreadable"]},
        )

    assert sent.status_code == 302
    export = Export.objects.get()
    assert export.filters["kinds"] == ["receipt"]
    assert export.filters["flags_exclude"] == ["unreadable"]
    page = client.get("/exports/")
    assert page.status_code == 200
    assert b"queued" in page.content
    assert b'value="lmdb"' in page.content


def test_the_page_refuses_bad_input_and_records_nothing(ml_engineer):
    client = signed_in(ml_engineer, recently_confirmed=False)
    page = client.post("/exports/", {"format": "doctr", "min_confidence": "7"})
    assert page.status_code == 200
    assert not Export.objects.exists()


def test_download_asks_for_re_authentication_on_the_page(labeled, ml_engineer):
    export = built(ml_engineer)
    client = signed_in(ml_engineer, recently_confirmed=False)

    html = client.get("/exports/").content.decode()

    # Not a Download link that would navigate away to a password form: the page asks first.
    assert f"/exports/{export.pk}/download" not in html
    assert 'class="confirm-to-download"' in html
    assert 'href="/accounts/reauthenticate/?next=/exports/"' in html
    assert "Confirm it is you" in html

    confirmed = client.post("/accounts/reauthenticate/?next=/exports/", {"password": PASSWORD})
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/exports/"
    html = client.get("/exports/").content.decode()
    assert f'href="/exports/{export.pk}/download"' in html
    assert "confirm-to-download" not in html


def test_download_from_the_page_asks_for_the_password_then_streams(labeled, ml_engineer):
    export = built(ml_engineer)
    client = signed_in(ml_engineer, recently_confirmed=False)

    # The download URL itself still insists, whatever the page showed.
    asked = client.get(f"/exports/{export.pk}/download")
    assert asked.status_code == 302
    assert asked["Location"].startswith("/accounts/reauthenticate/")
    assert client.post("/accounts/reauthenticate/", {"password": PASSWORD}).status_code == 302

    link = client.get(f"/exports/{export.pk}/download")
    assert link.status_code == 302
    archive = client.get(link["Location"])
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(b"".join(archive.streaming_content))) as tar:
        assert "manifest.json" in tar.getnames()


def test_other_roles_get_404(labeled, ml_engineer, annotator):
    export = built(ml_engineer)
    client = signed_in(annotator, recently_confirmed=True)
    assert client.get("/exports/").status_code == 404
    assert client.get(f"/exports/{export.pk}/download").status_code == 404
    assert export.status == ExportStatus.DONE


def test_the_home_page_links_to_exports_for_ml_engineers_only(ml_engineer, annotator, reviewer):
    for person, linked in ((ml_engineer, True), (annotator, False), (reviewer, False)):
        home = signed_in(person, recently_confirmed=False).get("/")
        assert home.status_code == 200
        assert (b'href="/exports/"' in home.content) is linked, person.username
