"""Where the development data (real scans with ground truth) lives, when it is there.

The data sets are research data that must never be copied into this repository, so
tests find them beside the checkout (``../shared/data``) or wherever
``DROPTURK_SHARED_DATA`` points, and skip when they are absent.
"""

import os
from pathlib import Path


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when this machine has none."""
    override = os.environ.get("DROPTURK_SHARED_DATA")
    candidate = (
        Path(override)
        if override
        else Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    return candidate.resolve() if candidate.is_dir() else None
