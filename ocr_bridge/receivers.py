"""What the OCR side does when the labeling domain tells it something (by signal, so
that ``annotations`` never imports ``ocr_bridge``)."""

from django.db import transaction

from annotations import blobs


def delete_reading_of_withdrawn(sender, *, donation, **kwargs) -> None:
    """A withdrawn donation's stored page reading (its text) goes with its images: its
    key is destroyed already; the ciphertext is removed once the withdrawal commits."""
    name = donation.reading_name
    if name:
        transaction.on_commit(lambda: blobs.blob_delete(name=name))
