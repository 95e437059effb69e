"""A ready page read again (a newer detector or reader) and cut anew, around the crops
people already worked on.

Crops that carry labels, are gold items or are leased are never re-cut: they keep their
image, box and prefill and take the place of the new word that covers them. The rest
give way to the new reading's words (``ocr_bridge.services`` stores and prefills them).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

import audit
from annotations import blobs
from annotations.models import Donation, DonationStatus, Label, Task, WordCrop
from ocr_bridge.engines import OcrEngine
from ocr_bridge.services import (
    WordCut,
    crop_row,
    cut_words,
    delete_blobs,
    donation_prefill,
    read_donation_page,
    reading_bytes,
    reading_tag,
    record_reading,
    words_within_cap,
)

if TYPE_CHECKING:
    from ocr.page import PageReading

logger = logging.getLogger(__name__)


def _kept_on_recut(donation: Donation):
    """The crops a recut leaves as they are: those with labels (gold answers, reviews
    included), gold items, and those someone holds a live lease on."""
    now = timezone.now()
    return donation.crops.filter(
        Exists(Label.objects.filter(crop=OuterRef("pk")))
        | Q(gold__isnull=False)
        | Q(task__leased_to__isnull=False, task__lease_expires_at__gt=now)
    )


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / max(1, min(a.width * a.height, b.width * b.height))


RECUT_SAME_WORD = 0.5  # a new word covering this much of a kept crop is that crop


def _recut_start(donation_id: str) -> Donation | None:
    with transaction.atomic():
        donation = Donation.objects.select_for_update().filter(pk=donation_id).first()
        if donation is None or donation.status != DonationStatus.READY:
            return None
        donation.status = DonationStatus.PROCESSING
        donation.save(update_fields=["status", "updated_at"])
        return donation


def donation_recut(*, donation_id: str) -> bool:
    """Reads a ready donation's page again (a newer detector or reader) and cuts it anew.

    Crops that carry labels, are gold items or are leased are never re-cut: they keep
    their image, box and prefill, and take the place of the new word that covers them
    (or follow the page's words when none does). The other crops, with their tasks, give
    way to the new reading's words. The donation is ``processing`` meanwhile and ready
    again at the end (its new crops' tasks opened); a crash leaves it to the stalled
    sweep, which finishes it with whichever crops were committed. Returns whether it
    was cut anew.
    """
    donation = _recut_start(donation_id)
    if donation is None:
        return False
    try:
        reading, engine = read_donation_page(donation, why={"why": "recut the page"})
        donation_store_recut(donation=donation, reading=reading, engine=engine)
    except RecutRaced:
        logger.info("recut of donation %s raced a label or lease: left as it was", donation_id)
        donation_prefill(donation_id=donation_id)  # ready again, unchanged
        return False
    except Exception:
        donation_prefill(donation_id=donation_id)  # ready again with the crops it had
        raise
    return donation_prefill(donation_id=donation_id)


def donation_store_recut(*, donation: Donation, reading: PageReading, engine: OcrEngine) -> int:
    """Replaces the donation's crops but the kept ones with the reading's words. Assumes
    the donation is ``processing`` (``_recut_start``). Returns the number of new crops."""
    kept_crops = list(_kept_on_recut(donation).order_by("index"))
    words = list(reading.words)
    place: dict[int, int] = {}  # kept crop id -> the position of the word it stands for
    for crop in kept_crops:
        best = max(range(len(words)), key=lambda i: _overlap(words[i].box, crop), default=None)
        taken = best is None or best in place.values()
        if not taken and _overlap(words[best].box, crop) >= RECUT_SAME_WORD:
            place[crop.pk] = best
    free = [word for i, word in enumerate(words) if i not in place.values()]
    new = words_within_cap(free, max(0, settings.OCR_MAX_CROPS_PER_PAGE - len(kept_crops)))
    # Reading order: the words (new, or a kept crop standing for one), then kept crops
    # the new reading did not find, in their old order.
    new_ids = {id(word) for word in new}
    order: list[tuple[str, object]] = []
    standing = {place[crop.pk]: crop for crop in kept_crops if crop.pk in place}
    for position, word in enumerate(words):
        if position in standing:
            order.append(("kept", standing[position]))
        elif id(word) in new_ids:
            order.append(("new", word))
    order.extend(("kept", crop) for crop in kept_crops if crop.pk not in place)

    cuts = {id(cut.word): cut for cut in cut_words(reading, new)}
    # Names of this attempt's own: a crop a failed or raced attempt left behind is never
    # overwritten, nor one of its blobs deleted with another attempt's.
    tag = f"{reading_tag(reading)}-{uuid.uuid4().hex[:8]}"
    data_key = blobs.data_key_for(donation)
    kept_names = {crop.image_name for crop in kept_crops}
    rows: list[tuple[int, WordCrop | WordCut, str]] = []
    index = 0
    for kind, item in order:
        if kind == "kept":
            rows.append((index, item, item.image_name))
            index += 1
        elif id(item) in cuts:
            name = f"donations/{donation.pk}/crops/{tag}-{index:05d}.png.enc"
            assert name not in kept_names  # noqa: S101  a kept crop's image is never overwritten
            blobs.blob_put(
                donation=donation, name=name, plaintext=cuts[id(item)].png, data_key=data_key
            )
            rows.append((index, cuts[id(item)], name))
            index += 1
    page_name = f"donations/{donation.pk}/reading-{tag}.json.enc"
    blobs.blob_put(
        donation=donation, name=page_name, plaintext=reading_bytes(reading), data_key=data_key
    )
    new_names = [name for _, row, name in rows if isinstance(row, WordCut)]
    with transaction.atomic():
        locked = Donation.objects.select_for_update().get(pk=donation.pk)
        if locked.status != DonationStatus.PROCESSING:  # withdrawn (or failed) meanwhile
            transaction.on_commit(lambda: delete_blobs([*new_names, page_name]))
            return 0
        # The page's tasks, locked: a lease passes over them (SKIP LOCKED) and a label
        # waits, so the crops found kept below stay the ones to keep until commit.
        list(Task.objects.select_for_update().filter(crop__donation=locked).values_list("pk"))
        kept_ids = {crop.pk for crop in kept_crops}
        raced = set(_kept_on_recut(locked).values_list("pk", flat=True)) != kept_ids
        if not raced:
            removed = _replace_crops(
                locked,
                reading=reading,
                engine=engine,
                kept_crops=kept_crops,
                rows=rows,
                lines={pk: words[position].line for pk, position in place.items()},
                page_name=page_name,
                over_cap=len(free) - len(new),
            )
    if raced:
        # Someone labeled or leased a crop while the page was read: try another time.
        delete_blobs([*new_names, page_name])
        raise RecutRaced("a crop was labeled or leased during the recut")
    logger.info(
        "donation %s cut anew: %d new crops, %d removed", donation.pk, len(new_names), removed
    )
    return len(new_names)


def _replace_crops(
    locked: Donation,
    *,
    reading: PageReading,
    engine: OcrEngine,
    kept_crops: list[WordCrop],
    rows: list,
    lines: dict[int, int],
    page_name: str,
    over_cap: int,
) -> int:
    """Under the donation's lock: the crops not kept deleted, the kept ones renumbered
    into the new reading order, the new ones created, the reading recorded; returns how
    many were removed. Their blobs (and the old reading) are deleted after commit."""
    now = timezone.now()
    kept_ids = {crop.pk for crop in kept_crops}
    gone = locked.crops.exclude(pk__in=kept_ids)
    gone_names = list(gone.values_list("image_name", flat=True))
    gone.delete()  # their tasks and skips with them
    old_reading = locked.reading_name
    # Two steps, so that no index is held twice at any moment (unique per donation).
    offset = 1 + max([crop.index for crop in kept_crops], default=0)
    for crop in kept_crops:
        crop.index += offset
    WordCrop.objects.bulk_update(kept_crops, ["index"])
    renumbered = []
    for index, row, _ in rows:
        if isinstance(row, WordCrop):
            row.index = index
            # Its line in the new reading, where a new word stands for it.
            row.line = lines.get(row.pk)
            renumbered.append(row)
    WordCrop.objects.bulk_update(renumbered, ["index", "line"])
    WordCrop.objects.bulk_create(
        crop_row(
            donation=locked,
            index=index,
            name=name,
            cut=row,
            reading=reading,
            engine=engine,
            now=now,
        )
        for index, row, name in rows
        if isinstance(row, WordCut)
    )
    record_reading(locked, reading, page_name=page_name, over_cap=over_cap)
    audit.record(
        actor=audit.SYSTEM,
        action="ocr_bridge.donation_recut",
        target=locked,
        data={
            "kept": len(kept_crops),
            "removed": len(gone_names),
            "new": len(rows) - len(kept_crops),
            "detector_version": reading.detector_version,
        },
    )
    stale = [*gone_names, *([old_reading] if old_reading != page_name else [])]
    transaction.on_commit(lambda: delete_blobs(name for name in stale if name))
    return len(gone_names)


class RecutRaced(Exception):
    """A crop was labeled or leased while the page was read again; nothing changed."""


def donations_to_recut(*, detector_version: str, limit: int) -> list[str]:
    """Ready donations with crops cut by another detector than ``detector_version``."""
    crops = WordCrop.objects.filter(donation=OuterRef("pk"))
    current = crops.filter(detector_version=detector_version)
    other = crops.exclude(detector_version=detector_version)
    donations = (
        Donation.objects.filter(status=DonationStatus.READY, wrapped_key__isnull=False)
        .filter(Exists(other))
        .exclude(Exists(current))
        .order_by("created_at")
    )
    return [str(pk) for pk in donations.values_list("pk", flat=True)[:limit]]
