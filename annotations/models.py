import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

# Service tokens are accounts' (machines that sign in); named here too for older imports.
from accounts.models import ServiceToken, TokenScope, default_token_scopes  # noqa: F401


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt"
    INVOICE = "invoice"
    LETTER = "letter"
    OTHER = "other"


class DonationStatus(models.TextChoices):
    RECEIVED = "received"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"  # its data key is destroyed: no copy of its images can be read


class Donation(models.Model):
    """A donated document. Its image is stored encrypted under its own data key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    status = models.CharField(
        max_length=16, choices=DonationStatus.choices, default=DonationStatus.RECEIVED
    )
    failure_reason = models.TextField(blank=True)
    source = models.ForeignKey(
        "accounts.ServiceToken",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donations",
    )
    # The per-donation AES-256 key, wrapped (encrypted) by the master key.
    wrapped_key = models.BinaryField(null=True, editable=False)
    master_key_id = models.CharField(max_length=16, editable=False)
    image_name = models.CharField(max_length=255, editable=False)
    image_format = models.CharField(max_length=8, editable=False)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    pipeline_attempts = models.PositiveSmallIntegerField(default=0)
    # What the page reading found (ocr_bridge): the quarter turn that made the page
    # upright (crop boxes are in the upright page), regions rejected as noise, and
    # words left out because the page made more crops than one page may
    # (OCR_MAX_CROPS_PER_PAGE: the most confident were kept). Null: not read yet.
    rotation = models.PositiveSmallIntegerField(null=True, blank=True)
    words_rejected = models.PositiveIntegerField(null=True, blank=True)
    words_over_cap = models.PositiveIntegerField(default=0)
    # The page reading (lines and words, ocr.page's JSON), encrypted like the blobs.
    reading_name = models.CharField(max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status", "updated_at"], name="donation_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"


class CropDecision(models.TextChoices):
    """How the page reader made a word (``ocr.page``'s decisions but "rejected", which
    makes no crop)."""

    ACCEPTED = "accepted"  # read as detected, confidently
    REREAD = "reread"  # read again transformed, the surer reading kept
    COMBINED = "combined"  # joined from neighbouring detected boxes
    SPLIT = "split"  # one of the words a detected box was split into


class WordCrop(models.Model):
    """One word cut from a donation, with the OCR engine's guess (the prefill)."""

    donation = models.ForeignKey(Donation, on_delete=models.CASCADE, related_name="crops")
    index = models.PositiveIntegerField(help_text="Reading order within the document")
    line = models.PositiveIntegerField(
        null=True, blank=True, help_text="Line within the page, 0-based (null: cut before lines)"
    )
    # Box in the upright page (``Donation.rotation``).
    x = models.PositiveIntegerField()
    y = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    image_name = models.CharField(max_length=255, editable=False)
    # The reader's columns have database defaults equal to the Python ones, so a row
    # written without them (an older worker mid-deploy, raw SQL) is still accepted; a
    # blank decision is a crop cut before the page reader, as rows from before 0009 are.
    decision = models.CharField(
        max_length=12, choices=CropDecision.choices, blank=True, default="", db_default=""
    )
    source_boxes = models.PositiveSmallIntegerField(
        default=1, db_default=1, help_text="Detected boxes the word was made from"
    )
    detector_version = models.CharField(max_length=64, blank=True, default="", db_default="")
    prefill_text = models.CharField(max_length=200, blank=True)
    prefill_confidence = models.FloatField(null=True, blank=True)
    prefill_char_confidences = models.JSONField(default=list, blank=True)
    prefill_engine = models.CharField(max_length=32, blank=True)
    prefill_engine_version = models.CharField(max_length=64, blank=True)
    prefilled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donation", "index"], name="crop_unique_index"),
        ]

    def __str__(self) -> str:
        return f"crop {self.index} of {self.donation_id}"


class TaskStatus(models.TextChoices):
    OPEN = "open"  # wants labels
    DONE = "done"  # has what it needs (accepted, or a reviewer decided)
    REVIEW = "review"  # the labels disagree: out of the annotators' queue, in review
    GOLD = "gold"  # a gold item: served now and then, answers are scored, never done


class Task(models.Model):
    """The work of labeling one crop. Leased to one annotator at a time."""

    crop = models.OneToOneField(WordCrop, on_delete=models.CASCADE, related_name="task")
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.SmallIntegerField(default=0, help_text="Higher is served first")
    # Copied from the crop's prefill so that the queue order is one index scan:
    # the crops the model is least sure of come first.
    confidence = models.FloatField(default=0.0)
    leased_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leased_tasks",
        db_index=False,  # task_lease_idx leads with it: one index fewer to write per lease
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Whether the current lease was served without the prefill (blind mode), copied
    # onto the label so the prefill's influence can be measured.
    lease_blind = models.BooleanField(default=False)
    # Redundancy: distinct annotators' labels wanted (by confidence band, raised on
    # disagreement) and given so far. The task returns to the queue until enough.
    labels_needed = models.PositiveSmallIntegerField(default=1)
    labels_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The queue is two: crops nobody labeled yet, and crops that have labels
            # and want more (redundancy). Only the second holds tasks a given person may
            # not take (they labeled them), so only it needs a bounded look (the lease).
            models.Index(
                fields=["-priority", "confidence", "id"],
                condition=Q(status="open", labels_count=0),
                name="task_queue_idx",
            ),
            models.Index(
                fields=["-priority", "confidence", "id"],
                condition=Q(status="open", labels_count__gt=0),
                name="task_pending_idx",
            ),
            models.Index(fields=["id"], condition=Q(status="gold"), name="task_gold_idx"),
            models.Index(fields=["leased_to", "lease_expires_at"], name="task_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.status})"


class LabelKind(models.TextChoices):
    ANNOTATION = "annotation"  # an annotator's label, counted by consensus
    GOLD_ANSWER = "gold_answer"  # an annotator's answer to a gold item: scored only
    REVIEW = "review"  # a reviewer's fix


class BadMark(models.TextChoices):
    """An annotator's mark that the crop itself is bad (the same reasons a reviewer gives,
    ``quality.models.BadCropReason``)."""

    NOT_A_WORD = "not_a_word", "not a word"
    TWO_WORDS = "two_words", "two words"
    CUT_OFF = "cut_off", "cut off"


class Label(models.Model):
    """What an annotator said a crop shows. Never deleted or overwritten."""

    # No index of their own: label_task_annotator_idx and label_mine_idx lead with them
    # (two indexes fewer to write per label).
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="labels", db_index=False)
    crop = models.ForeignKey(WordCrop, on_delete=models.PROTECT, related_name="labels")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labels", db_index=False
    )
    text = models.CharField(max_length=200, blank=True)
    rotated = models.BooleanField(default=False)
    non_english = models.BooleanField(default=False)
    unreadable = models.BooleanField(default=False)
    # A mark instead of a text: the crop is not one word (issue 20). Consensus compares
    # it as an answer of its own: agreeing marks settle the crop as bad.
    bad_reason = models.CharField(
        max_length=12, choices=BadMark.choices, blank=True, default="", db_default=""
    )
    elapsed_ms = models.PositiveIntegerField(null=True, blank=True)
    # Chosen by the client so that a retried submission stores one label.
    client_key = models.UUIDField(null=True, blank=True)
    kind = models.CharField(max_length=12, choices=LabelKind.choices, default=LabelKind.ANNOTATION)
    # Whether the annotator was shown the prefill (False in blind mode; None: unknown).
    prefill_shown = models.BooleanField(null=True, blank=True)
    # An annotator's correction of their own earlier label (undo); the earlier one stays.
    revises = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="revision"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "client_key"],
                condition=Q(client_key__isnull=False),
                name="label_unique_client_key",
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "-created_at"], name="label_mine_idx"),
            # "Has this annotator labeled this task?": the lease's NOT EXISTS.
            models.Index(fields=["task", "annotator"], name="label_task_annotator_idx"),
        ]

    def __str__(self) -> str:
        return f"label {self.pk} on crop {self.crop_id}"


class Skip(models.Model):
    """An annotator passed on a task: it goes back to the queue, but not to them."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skips"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task", "annotator"], name="skip_unique_task_annotator"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotator_id} skipped task {self.task_id}"
