"""The labeling domain's tests are about one label per crop (leases, conflicts, undo).

Redundancy, gold items and blind mode have their own tests in ``tests/quality``; here the
quality settings ask for one label per crop and no gold, whatever the confidence band.
"""

import pytest

from quality import selectors as quality_selectors
from quality.models import QualitySettings


@pytest.fixture(autouse=True)
def one_label_per_crop(monkeypatch):
    single = QualitySettings(k_low=1, k_high=1, audit_sample_rate=0.0, gold_rate=0.0)
    monkeypatch.setattr(quality_selectors, "quality_settings", lambda: single)
    return single
