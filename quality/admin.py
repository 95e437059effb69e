from django.contrib import admin

from quality.models import (
    AnnotatorStats,
    CropConsensus,
    DetectorFeedback,
    GoldItem,
    QualitySettings,
)


@admin.register(QualitySettings)
class QualitySettingsAdmin(admin.ModelAdmin):
    """The one settings row: no adding a second, no deleting it."""

    list_display = ("__str__", "low_band_below", "k_low", "k_high", "blind_mode", "gold_rate")

    def has_add_permission(self, request) -> bool:
        return not QualitySettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    list_display = ("id", "crop", "text", "source", "created_at")
    list_filter = ("source",)
    raw_id_fields = ("crop", "created_by")


@admin.register(CropConsensus)
class CropConsensusAdmin(admin.ModelAdmin):
    list_display = ("crop", "state", "text", "confidence", "n_labels", "decided_by", "updated_at")
    list_filter = ("state", "decided_by", "review_reason")
    readonly_fields = [f.name for f in CropConsensus._meta.fields]


@admin.register(DetectorFeedback)
class DetectorFeedbackAdmin(admin.ModelAdmin):
    list_display = ("crop", "reason", "reviewer", "created_at")
    list_filter = ("reason",)
    readonly_fields = [f.name for f in DetectorFeedback._meta.fields]


@admin.register(AnnotatorStats)
class AnnotatorStatsAdmin(admin.ModelAdmin):
    list_display = ("annotator", "labels", "gold_accuracy", "reliability", "flagged", "updated_at")
    list_filter = ("flagged",)
    readonly_fields = [f.name for f in AnnotatorStats._meta.fields]
