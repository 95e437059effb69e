"""A donation's page text: who may read it, and reading it (decrypted, audited).

The text is the page reading the pipeline stored (``ocr_bridge.services``): every word
the reader kept, in lines in reading order, with boxes in the upright page and the
calibrated confidences; the crop cap does not shorten it. It is personal data like the
image, so it is stored encrypted under the donation's key and goes with that key when
the donation is withdrawn. Donations cut before the page reader have none stored; their
text is made from their crops' prefills.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

import audit
from accounts.models import ServiceToken, TokenScope
from annotations import blobs, roles, selectors
from annotations.models import Donation, DonationStatus


class TextNotReady(Exception):
    """The donation is still being read (or failed): no text yet."""

    def __init__(self, status: str) -> None:
        super().__init__(f"The donation is {status}; its text is there once it is ready.")
        self.status = status


class TextGone(Exception):
    """The donation was withdrawn: its text is gone with its key."""


# --- Who may read it --------------------------------------------------------------------


def can_read_any_page_text(user) -> bool:
    """ML engineers read whole pages (what the models learn from); reviewers see single
    crops, admins none."""
    return roles.has_role(user, roles.ML_ENGINEER)


def donation_for_text(*, principal, donation_id) -> Donation | None:
    """The donation, if ``principal`` may read its text: the service token that sent it
    (with the ingest scope: send donations and read what became of them, as
    ``annotations.selectors.donation_get_for`` decides which it sent), or an ML engineer.
    None otherwise, as for a donation that does not exist."""
    if isinstance(principal, ServiceToken):
        if TokenScope.INGEST not in principal.scopes:
            return None
        return selectors.donation_get_for(principal=principal, donation_id=donation_id)
    if can_read_any_page_text(principal):
        return Donation.objects.filter(pk=donation_id).first()
    return None


# --- Reading it -------------------------------------------------------------------------


@dataclass(frozen=True)
class PageText:
    """The page's words in lines, in the API's shape (``as_json``), and as plain text."""

    donation: Donation
    reading: dict[str, Any]  # ocr.page's PageReading.to_json()

    def lines(self) -> list[dict[str, Any]]:
        lines = []
        for index, line in enumerate(self.reading.get("lines", [])):
            words = [_word(word) for word in line.get("words", [])]
            lines.append(
                {"index": index, "text": " ".join(w["text"] for w in words), "words": words}
            )
        return lines

    def text(self) -> str:
        return "\n".join(line["text"] for line in self.lines())

    def word_count(self) -> int:
        return sum(len(line.get("words", [])) for line in self.reading.get("lines", []))

    def as_json(self) -> dict[str, Any]:
        lines = self.lines()
        return {
            "id": str(self.donation.pk),
            "status": self.donation.status,
            "rotation": self.reading.get("rotation", self.donation.rotation or 0),
            "width": self.reading.get("width", self.donation.width),
            "height": self.reading.get("height", self.donation.height),
            "detector_version": self.reading.get("detector_version", ""),
            "recognizer_version": self.reading.get("recognizer_version", ""),
            "words_rejected": self.donation.words_rejected,
            "words_over_cap": self.donation.words_over_cap,
            "text": "\n".join(line["text"] for line in lines),
            "lines": lines,
        }


def _word(word: dict[str, Any]) -> dict[str, Any]:
    x, y, width, height = word["box"]
    return {
        "box": {"x": x, "y": y, "width": width, "height": height},
        "text": word["text"],
        "confidence": word.get("confidence"),
        "char_confidences": word.get("char_confidences", []),
        "decision": word.get("decision", ""),
        "source_boxes": word.get("source_boxes", 1),
    }


def _reading_from_crops(donation: Donation) -> dict[str, Any]:
    """A reading's shape made from the crops' rows, for donations cut before the page
    reader stored one: their prefills, by line where known, in reading order."""
    lines: dict[int, list[dict[str, Any]]] = {}
    for crop in donation.crops.order_by("index"):
        lines.setdefault(crop.line or 0, []).append(
            {
                "box": [crop.x, crop.y, crop.width, crop.height],
                "text": crop.prefill_text,
                "confidence": crop.prefill_confidence,
                "char_confidences": crop.prefill_char_confidences,
                "decision": crop.decision,
                "source_boxes": crop.source_boxes,
            }
        )
    return {"lines": [{"words": lines[key]} for key in sorted(lines)]}


def page_text_read(*, principal, donation: Donation, text_format: str) -> PageText:
    """Decrypts the donation's page reading and records the read on the audit trail.

    Assumes ``donation_for_text`` let ``principal`` reach it. Raises ``TextGone`` for a
    withdrawn donation and ``TextNotReady`` for one not yet ready.
    """
    if donation.status == DonationStatus.WITHDRAWN or donation.wrapped_key is None:
        raise TextGone("The donation was withdrawn; its text is gone.")
    if donation.status != DonationStatus.READY:
        raise TextNotReady(donation.status)
    if donation.reading_name:
        try:
            plain = blobs.blob_get(donation=donation, name=donation.reading_name)
        except blobs.KeyDestroyed as exc:
            raise TextGone("The donation was withdrawn; its text is gone.") from exc
        reading = json.loads(plain)
    else:
        reading = _reading_from_crops(donation)
    page = PageText(donation=donation, reading=reading)
    with transaction.atomic():
        audit.record(
            actor=principal,
            action="ocr_bridge.donation_text_read",
            target=donation,
            data={"format": text_format, "words": page.word_count()},
        )
    return page
