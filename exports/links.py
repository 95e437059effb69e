"""Short-lived download links: signed for one person and one export."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "exports.download-link"


class BadLink(Exception):
    """Forged, expired, or made for someone else or another export."""


def download_url(*, user, export) -> str:
    token = signing.dumps({"export": str(export.pk), "user": user.pk}, salt=_SALT)
    return f"{reverse('export-archive', kwargs={'export_id': export.pk})}?link={token}"


def check(*, token: str, user, export) -> None:
    try:
        link = signing.loads(token, salt=_SALT, max_age=settings.EXPORT_LINK_SECONDS)
    except signing.BadSignature as exc:  # expired links too
        raise BadLink("This download link is invalid or has expired.") from exc
    if link != {"export": str(export.pk), "user": user.pk}:
        raise BadLink("This download link is not for you or for this export.")
