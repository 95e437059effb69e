from django.contrib import admin

from annotations.models import Donation, Label, Task, WordCrop


@admin.register(Donation)
class DonationAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "width", "height", "created_at")
    list_filter = ("status", "kind")
    readonly_fields = (
        "kind",
        "status",
        "failure_reason",
        "source",
        "width",
        "height",
        "image_format",
        "pipeline_attempts",
        "created_at",
        "updated_at",
    )
    exclude = ("wrapped_key", "master_key_id", "image_name")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WordCrop)
class WordCropAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "donation",
        "index",
        "prefill_text",
        "prefill_confidence",
        "prefill_engine",
    )
    readonly_fields = [f.name for f in WordCrop._meta.fields if f.name != "image_name"]
    exclude = ("image_name",)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "crop",
        "status",
        "priority",
        "confidence",
        "leased_to",
        "lease_expires_at",
    )
    list_filter = ("status",)


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "crop",
        "annotator",
        "text",
        "rotated",
        "non_english",
        "unreadable",
        "created_at",
    )
    readonly_fields = [f.name for f in Label._meta.fields]
