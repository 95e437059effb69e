"""Line context: the strip of the page around a word crop's line, the word outlined.

An annotator or reviewer asks for it with a key when a crop alone cannot be decided (a
comma, a case, a cut-off word). It is a read of the donated page, so it has the crop
image's access rule (``selectors.crop_get_for_viewer``) and is audited as its own act
(``annotations.crop_context_view``): least privilege means the crop alone by default, the
page's band only on demand. The page is decrypted in memory and only the band leaves.
"""

import io
from dataclasses import dataclass

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from PIL import Image, ImageDraw
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

import audit
from annotations import blobs, selectors
from annotations.api.permissions import IsPerson
from annotations.models import WordCrop
from audit.models import Outcome

# Around the line: this many word heights above and below, and at most this many
# pixels of width (centred on the word) so that a wide page stays legible in the viewer.
MARGIN_HEIGHTS = 1.0
MAX_BAND_WIDTH = 1600
# At least this many word heights wide, so a short line still shows its neighbourhood.
MIN_WIDTH_HEIGHTS = 16
# Without a line index: this many word heights each side of the crop.
FALLBACK_SIDE_HEIGHTS = 10
OUTLINE = (220, 38, 38)
OUTLINE_WIDTH = 3


@dataclass(frozen=True)
class Band:
    left: int
    top: int
    right: int
    bottom: int


def line_band(*, crop: WordCrop, page_width: int, page_height: int) -> Band:
    """The box of the page to show: the crop's line (from the crop's line index) or,
    for crops cut before lines were known, the crop's surrounding band."""
    top, bottom = crop.y, crop.y + crop.height
    left, right = crop.x, crop.x + crop.width
    if crop.line is not None:
        words = WordCrop.objects.filter(donation_id=crop.donation_id, line=crop.line)
        for x, y, width, height in words.values_list("x", "y", "width", "height"):
            top, bottom = min(top, y), max(bottom, y + height)
            left, right = min(left, x), max(right, x + width)
    else:
        side = FALLBACK_SIDE_HEIGHTS * crop.height
        left, right = crop.x - side, crop.x + crop.width + side
    margin = round(MARGIN_HEIGHTS * max(crop.height, bottom - top))
    top, bottom = top - margin, bottom + margin
    left, right = left - margin, right + margin
    least = MIN_WIDTH_HEIGHTS * crop.height
    if right - left < least:
        grow = (least - (right - left)) // 2
        left, right = left - grow, right + grow
    if right - left > MAX_BAND_WIDTH:
        centre = crop.x + crop.width // 2
        left = max(left, centre - MAX_BAND_WIDTH // 2)
        right = left + MAX_BAND_WIDTH
    return Band(
        left=max(0, left),
        top=max(0, top),
        right=min(page_width, right),
        bottom=min(page_height, bottom),
    )


def _upright_page(png: bytes, rotation: int | None) -> Image.Image:
    page = Image.open(io.BytesIO(png))
    page.load()
    page = page.convert("RGB")
    if rotation:
        # Crop boxes are in the upright page: turned clockwise by ``rotation`` degrees.
        page = page.rotate(-rotation, expand=True)
    return page


def crop_context_read(*, user, crop_id: int) -> bytes | None:
    """The line context of a crop as PNG, or None when the caller may not see the crop.

    Checks access as the crop image does; a refused read (a crop outside the caller's
    reach, or no such crop) is recorded as ``annotations.crop_context_denied``, as the
    crop image's refusal is. Records ``annotations.crop_context_view`` only once the band
    is cut (a read that fails otherwise records nothing).
    """
    viewable = selectors.crop_get_for_viewer(user=user, crop_id=crop_id)
    if viewable is None:
        audit.record(
            actor=user,
            action="annotations.crop_context_denied",
            target_type="annotations.wordcrop",
            target_id=crop_id,
            outcome=Outcome.DENIED,
        )
        return None
    crop = WordCrop.objects.select_related("donation").filter(pk=viewable.pk).first()
    if crop is None or crop.donation.wrapped_key is None:
        return None
    donation = crop.donation
    try:
        png = blobs.blob_get(donation=donation, name=donation.image_name)
    except blobs.DAMAGED_BLOB_ERRORS:
        audit.record(
            actor=user,
            action="annotations.crop_context_view",
            target=crop,
            outcome=Outcome.FAILURE,
            data={"reason": "damaged page"},
        )
        raise
    page = _upright_page(png, donation.rotation)
    band = line_band(crop=crop, page_width=page.width, page_height=page.height)
    strip = page.crop((band.left, band.top, band.right, band.bottom))
    ImageDraw.Draw(strip).rectangle(
        (
            crop.x - band.left - OUTLINE_WIDTH,
            crop.y - band.top - OUTLINE_WIDTH,
            crop.x - band.left + crop.width + OUTLINE_WIDTH - 1,
            crop.y - band.top + crop.height + OUTLINE_WIDTH - 1,
        ),
        outline=OUTLINE,
        width=OUTLINE_WIDTH,
    )
    out = io.BytesIO()
    strip.save(out, format="PNG")
    audit.record(
        actor=user,
        action="annotations.crop_context_view",
        target=crop,
        data={"line": crop.line, "band": [band.left, band.top, band.right, band.bottom]},
    )
    return out.getvalue()


class CropContextApi(APIView):
    """GET /api/v1/crops/{id}/context: the strip of the page around the crop's line."""

    permission_classes = [IsPerson]

    @extend_schema(
        responses={
            (200, "image/png"): bytes,
            422: OpenApiResponse(description="The donation's stored page is damaged or missing."),
        },
        summary="The page's strip around a word crop's line, the word outlined (audited)",
    )
    def get(self, request, crop_id: int):
        try:
            png = crop_context_read(user=request.user, crop_id=crop_id)
        except blobs.DAMAGED_BLOB_ERRORS:
            return Response(
                {
                    "detail": "The stored page of this crop is damaged or missing; "
                    "its line cannot be shown."
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if png is None:
            raise NotFound("No such crop, or it is not yours to see.")
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
