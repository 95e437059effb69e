"""The audit trail's tables: events (append-only, hash-chained) and the archives of old ones.

An event is written once, unsealed (``seq`` NULL), in the transaction of the act it
records. The sealer (``audit.chain.seal``) later gives it its place in the chain: ``seq``,
``prev_hash`` and ``chain_hash``, exactly once. On PostgreSQL triggers (migration 0003)
refuse every other UPDATE, every DELETE not covered by a verified archive, and TRUNCATE.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ActorType(models.TextChoices):
    USER = "user", "person"
    SERVICE = "service", "service token"
    SYSTEM = "system", "system"


class Outcome(models.TextChoices):
    SUCCESS = "success", "success"
    FAILURE = "failure", "failure"
    DENIED = "denied", "denied"


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # SHA-256 of the canonical form of the fields above (audit.chain.canonical_bytes).
    content_hash = models.CharField(max_length=64)
    # The chain, set once by the sealer: position, the previous event's chain hash, and
    # SHA-256 over (seq, id, prev_hash, content_hash).
    seq = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    chain_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The admin list filters on one of these and pages by id (keyset).
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["actor_type", "actor_id", "-id"], name="audit_actor_idx"),
            models.Index(fields=["target_type", "target_id", "-id"], name="audit_target_idx"),
            models.Index(fields=["outcome", "-id"], name="audit_outcome_idx"),
            models.Index(fields=["request_id", "-id"], name="audit_request_idx"),
            # The sealer's work list: small, since events are sealed within seconds.
            models.Index(fields=["id"], condition=Q(seq__isnull=True), name="audit_unsealed_idx"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or self.actor_type
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {who} {self.action}"


class AuditArchive(models.Model):
    """A verified file in storage that holds sealed events removed from the table.

    Archives form their own chain: each names the previous archive file's SHA-256, and
    covers the events right after the previous one's ``last_seq``.
    """

    first_seq = models.BigIntegerField(unique=True)
    last_seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)  # chain hash before first_seq ("" at start)
    last_chain_hash = models.CharField(max_length=64)
    events = models.PositiveIntegerField()
    file_name = models.CharField(max_length=255, unique=True)
    file_sha256 = models.CharField(max_length=64)
    prev_file_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["first_seq"]

    def __str__(self) -> str:
        return f"audit archive {self.first_seq}-{self.last_seq}"
