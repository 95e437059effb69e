import uuid

from django.conf import settings
from django.db import models


class ExportFormat(models.TextChoices):
    IMAGEFOLDER = "imagefolder", "Hugging Face datasets imagefolder"
    LMDB = "lmdb", "LMDB (deep-text-recognition-benchmark layout)"
    PADDLEOCR = "paddleocr", "PaddleOCR recognition"
    DOCTR = "doctr", "docTR recognition"
    TESSTRAIN = "tesstrain", "tesstrain ground truth"
    JSONL = "jsonl", "JSONL manifest + images"
    COCO_TEXT = "coco_text", "COCO-Text-style document-level boxes"


class ExportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"
    DELETED = "deleted"  # by its requester, or because a donation in it was withdrawn


class Export(models.Model):
    """One requested dataset export and, once built, its encrypted archive in storage."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="exports"
    )
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveIntegerField(default=0, help_text="Crops written so far")
    total = models.PositiveIntegerField(default=0, help_text="Crops selected")
    # Builds started so far; also what tells a running attempt that it is still the one.
    attempts = models.PositiveSmallIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Crops per split")
    reason = models.TextField(blank=True, help_text="Why it failed or was deleted")
    archive_name = models.CharField(max_length=255, blank=True, editable=False)
    # Where ``manage.py export_dataset`` wrote it instead (plain files on the server).
    directory = models.CharField(max_length=1024, blank=True, editable=False)
    # The archive's own AES-256 key, wrapped by the master key (annotations.crypto).
    wrapped_key = models.BinaryField(null=True, editable=False)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the plaintext tar")
    size_bytes = models.BigIntegerField(default=0, help_text="Of the plaintext tar")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched at every progress update: a running export whose heartbeat stops was lost
    # with its worker (``services.exports_requeue_stalled`` builds it again or fails it).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"], name="export_status_idx")]

    def __str__(self) -> str:
        return f"{self.format} export {self.id} ({self.status})"


class ExportDonation(models.Model):
    """A donation whose crops are in an export: its withdrawal deletes the export."""

    export = models.ForeignKey(Export, on_delete=models.CASCADE, related_name="donations")
    donation = models.ForeignKey(
        "annotations.Donation", on_delete=models.CASCADE, related_name="exports"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["export", "donation"], name="export_donation_unique")
        ]

    def __str__(self) -> str:
        return f"donation {self.donation_id} in export {self.export_id}"
