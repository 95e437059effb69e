"""Writes of the labeling domain, one module per subject; each function states what it
assumes.

Access checks happen before these are called (``annotations/api``, ``roles``); these keep
the data consistent: row locks, state transitions, audit events in the same transaction.
Callers import from here (``from annotations import services``) or from the module.
"""

import uuid  # noqa: F401  tests fix a donation's id with mock.patch("annotations.services.uuid.uuid4")

from accounts.tokens import TOKEN_PREFIX, hash_token, service_token_create
from annotations.loop_sql import Lease
from annotations.queues import PENDING_WINDOW
from annotations.services.crop_images import crop_image_read
from annotations.services.donations import (
    CropInput,
    Prefill,
    donation_create,
    donation_fail,
    donation_finish_prefill,
    donation_start_processing,
    donation_store_crops,
    donation_withdraw,
)
from annotations.services.labels import label_revise, label_submit
from annotations.services.leasing import LabelConflict, task_lease_next, task_renew, task_skip

__all__ = [
    "PENDING_WINDOW",
    "TOKEN_PREFIX",
    "CropInput",
    "LabelConflict",
    "Lease",
    "Prefill",
    "crop_image_read",
    "donation_create",
    "donation_fail",
    "donation_finish_prefill",
    "donation_start_processing",
    "donation_store_crops",
    "donation_withdraw",
    "hash_token",
    "label_revise",
    "label_submit",
    "service_token_create",
    "task_lease_next",
    "task_renew",
    "task_skip",
]
