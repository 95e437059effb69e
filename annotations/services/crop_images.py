"""Reading a crop's image for a person, on the audit trail."""

import audit
from annotations import blobs
from annotations.models import WordCrop


def crop_image_read(*, user, crop: WordCrop, ip_address: str | None = None) -> bytes:
    """Decrypts a crop's PNG for a person and records that they saw it.

    Assumes access was checked (``selectors.crop_get_for_viewer``). The image is read
    first and handed out only once its view is on the trail; a read that fails records
    nothing. One statement: atomic by itself, no transaction around it.
    """
    image = blobs.blob_get(donation=crop.donation, name=crop.image_name)
    audit.record(
        actor=user, action="annotations.crop_image_view", target=crop, ip_address=ip_address
    )
    return image
