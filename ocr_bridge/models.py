"""The model registry: every recognizer version, how it was made and how well it reads.

A version learned from donated crops is personal-data-derived: its weights are stored
through Django storage as ciphertext under their own AES-256 key, wrapped by the master
key (``ocr_bridge.weights``), with the SHA-256 of the plaintext file. The shipped
synthetic-only model is registered on first use and read from the package.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ModelStatus(models.TextChoices):
    TRAINING = "training"
    EVALUATING = "evaluating"
    READY = "ready"  # evaluated, may be promoted
    FAILED = "failed"
    ACTIVE = "active"  # the one the crnn engine reads with; at most one
    RETIRED = "retired"  # was active once


class ModelVersion(models.Model):
    """One recognizer: its weights, its lineage, its metrics and its life in the registry."""

    name = models.CharField(max_length=48, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    status = models.CharField(
        max_length=12, choices=ModelStatus.choices, default=ModelStatus.TRAINING
    )
    reason = models.TextField(blank=True, help_text="Why it failed")
    # Shipped: read from the package (synthetic data only, nothing to protect).
    builtin = models.BooleanField(default=False)
    weights_name = models.CharField(max_length=255, blank=True, editable=False)
    # The weights' own AES-256 key, wrapped by the master key (annotations.crypto).
    wrapped_key = models.BinaryField(null=True, editable=False)
    weights_sha256 = models.CharField(max_length=64, blank=True, help_text="Of the plain file")
    weights_bytes = models.PositiveIntegerField(default=0)
    # The orientation classifier fine-tuned with it, when crops flagged rotated were there
    # to learn from (same key); blank: the shipped classifier.
    orientation_name = models.CharField(max_length=255, blank=True, editable=False)
    orientation_sha256 = models.CharField(max_length=64, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="How it was trained")
    metrics = models.JSONField(default=dict, blank=True, help_text="How well it reads")
    # Lineage: which labels it learned from (their count and the hash of their sorted ids).
    label_count = models.PositiveIntegerField(default=0)
    labels_sha256 = models.CharField(max_length=64, blank=True)
    # Progress while training: steps done of steps, and the estimated seconds left.
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    stage = models.CharField(max_length=64, blank=True, help_text="What it is doing now")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="model_versions",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # None with promoted_at set: promoted automatically (better by the set margin).
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="promoted_models",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="model_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"model {self.name} ({self.status})"

    @property
    def engine_version(self) -> str:
        """What prefills made by it record: the name and the start of the weights' hash."""
        return f"{self.name}/{self.weights_sha256[:12]}"

    @property
    def is_running(self) -> bool:
        return self.status in (ModelStatus.TRAINING, ModelStatus.EVALUATING)
