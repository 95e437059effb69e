"""Label quality: consensus per crop, gold items, review, annotator statistics, settings."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

_FRACTION = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class QualitySettings(models.Model):
    """The project's quality settings: one row (pk 1), edited in the Django admin.

    Read through ``quality.selectors.quality_settings()``, which caches the row briefly
    per process so the annotator's hot path does not query it.
    """

    low_band_below = models.FloatField(
        default=0.8,
        validators=_FRACTION,
        help_text="A prefill confidence below this puts a crop in the low band",
    )
    k_low = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Agreeing labels needed in the low band",
    )
    k_high = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Labels needed in the high band",
    )
    audit_sample_rate = models.FloatField(
        default=0.05,
        validators=_FRACTION,
        help_text="Share of high-band crops labeled once more, chosen by a hash of the crop",
    )
    blind_mode = models.BooleanField(
        default=False, help_text="Hide the prefill from annotators (to measure its influence)"
    )
    gold_rate = models.FloatField(
        default=0.03,
        validators=_FRACTION,
        help_text="Share of leased tasks that are gold items (crops with a known answer)",
    )
    min_reliability = models.FloatField(
        default=0.7,
        validators=_FRACTION,
        help_text="Annotators whose estimated accuracy is below this are flagged; "
        "their labels go to review",
    )
    max_labels = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1)],
        help_text="On disagreement more labels are asked for, up to this many; then review",
    )
    accept_confidence = models.FloatField(
        default=0.66,
        validators=_FRACTION,
        help_text="Weighted share of votes the consensus text needs to be accepted",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "quality settings"
        verbose_name_plural = "quality settings"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="quality_settings_singleton")]

    def __str__(self) -> str:
        return "Quality settings"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)
        from quality.selectors import forget_quality_settings

        forget_quality_settings()


class Answer(models.Model):
    """What a crop shows: its text and the three flags, as labels carry them."""

    text = models.CharField(max_length=200, blank=True)
    rotated = models.BooleanField(default=False)
    non_english = models.BooleanField(default=False)
    unreadable = models.BooleanField(default=False)

    class Meta:
        abstract = True


class GoldSource(models.TextChoices):
    REVIEW = "review"
    IMPORT = "import"


class GoldItem(Answer):
    """A crop whose answer is known. Served to annotators like any task, scored, never
    completed by their answers."""

    crop = models.OneToOneField(
        "annotations.WordCrop", on_delete=models.CASCADE, related_name="gold"
    )
    source = models.CharField(max_length=8, choices=GoldSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"gold {self.text!r} for crop {self.crop_id}"


class ConsensusState(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    NEEDS_REVIEW = "needs_review"
    BAD = "bad"  # a reviewer marked the crop itself bad (detector feedback)


class DecidedBy(models.TextChoices):
    CONSENSUS = "consensus"
    REVIEW = "review"


class ReviewReason(models.TextChoices):
    NONE = ""
    DISAGREEMENT = "disagreement", "the labels disagree"
    FLAGS = "flags", "the flags (rotated, non-English, unreadable) disagree"
    LOW_RELIABILITY = "low_reliability", "labels from an annotator below the reliability bar"
    SYNTHESIZED = "synthesized", "the vote made a text nobody typed"


class CropConsensus(Answer):
    """What the labels of one crop add up to; the one place that says a crop is accepted."""

    crop = models.OneToOneField(
        "annotations.WordCrop", on_delete=models.CASCADE, related_name="consensus"
    )
    state = models.CharField(
        max_length=16, choices=ConsensusState.choices, default=ConsensusState.PENDING
    )
    confidence = models.FloatField(default=0.0)
    n_labels = models.PositiveSmallIntegerField(default=0)
    decided_by = models.CharField(max_length=12, choices=DecidedBy.choices, blank=True)
    # The label the crop is exported with: the earliest current label saying the
    # consensus text, or the reviewer's.
    label = models.ForeignKey(
        "annotations.Label",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consensus_of",
    )
    review_reason = models.CharField(
        max_length=16, choices=ReviewReason.choices, blank=True, default=ReviewReason.NONE
    )
    # One reviewer at a time looks at an item.
    review_leased_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_lease_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "crop consensus"
        indexes = [
            models.Index(
                fields=["updated_at", "id"],
                condition=Q(state="needs_review"),
                name="consensus_review_idx",
            ),
            models.Index(fields=["state", "updated_at"], name="consensus_state_idx"),
        ]

    def __str__(self) -> str:
        return f"crop {self.crop_id}: {self.state}"


class BadCropReason(models.TextChoices):
    NOT_A_WORD = "not_a_word", "not a word"
    TWO_WORDS = "two_words", "two words"
    CUT_OFF = "cut_off", "cut off"


class DetectorFeedback(models.Model):
    """A reviewer's mark that the word detector cut a crop wrongly."""

    crop = models.OneToOneField(
        "annotations.WordCrop", on_delete=models.CASCADE, related_name="detector_feedback"
    )
    reason = models.CharField(max_length=12, choices=BadCropReason.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="feedback_recent_idx")]

    def __str__(self) -> str:
        return f"crop {self.crop_id}: {self.reason}"


class AnnotatorStats(models.Model):
    """Per-annotator quality, recomputed off the hot path (``quality.refresh_stats``)."""

    annotator = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quality_stats"
    )
    labels = models.PositiveIntegerField(default=0)
    gold_answers = models.PositiveIntegerField(default=0)
    gold_accuracy = models.FloatField(null=True, blank=True)
    gold_cer = models.FloatField(null=True, blank=True)
    agreement = models.FloatField(null=True, blank=True)  # with the consensus of others
    median_ms = models.PositiveIntegerField(null=True, blank=True)
    # Dawid-Skene: estimated accuracy in [0, 1] and its log-odds vote weight.
    reliability = models.FloatField(null=True, blank=True)
    weight = models.FloatField(default=1.0)
    flagged = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "annotator stats"

    def __str__(self) -> str:
        return f"stats of {self.annotator_id}"


class QueueSnapshot(models.Model):
    """The queue's depth at one moment (a beat task), for the metrics page's chart."""

    taken_at = models.DateTimeField(auto_now_add=True, db_index=True)
    open_tasks = models.PositiveIntegerField()
    needs_review = models.PositiveIntegerField()
    labels_last_hour = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M}: {self.open_tasks} open"
