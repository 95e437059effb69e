"""Reads of label quality, with the access rule each one applies."""

import time

from django.db.models import QuerySet

from quality.models import GoldItem, QualitySettings

SETTINGS_CACHE_SECONDS = 15.0
_settings_cache: dict[str, tuple[float, QualitySettings]] = {}


def quality_settings() -> QualitySettings:
    """The project's quality settings, cached per process for a few seconds.

    The annotator's hot path reads them on every lease and submit; an admin's change
    reaches every process within ``SETTINGS_CACHE_SECONDS`` (this process at once).
    """
    cached = _settings_cache.get("row")
    if cached is not None and time.monotonic() - cached[0] < SETTINGS_CACHE_SECONDS:
        return cached[1]
    row = QualitySettings.objects.filter(pk=1).first() or QualitySettings(pk=1)
    _settings_cache["row"] = (time.monotonic(), row)
    return row


def forget_quality_settings() -> None:
    _settings_cache.clear()


def gold_items() -> QuerySet[GoldItem]:
    """Every gold item (crop with a known answer), with its crop, oldest first."""
    return GoldItem.objects.select_related("crop").order_by("id")
